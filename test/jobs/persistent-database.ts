/**
 * A database that outlives one gate, for tests that restart the gate (with a
 * new policy) or hand the database to the CLI: PostgreSQL when
 * TEST_DATABASE_URL is set, else PGlite files in a scratch folder that
 * becomes the working directory, where createConsentgate puts them when the
 * `database` option is empty. cleanup() restores the working directory.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Database, parseDatabase } from "../../src/store/connection.ts";
import { onPostgres, testDatabase } from "../support/database.ts";

export interface PersistentDatabase {
  /** createConsentgate's `database` option ("" → the embedded files of the working directory). */
  option: string;
  database: Database;
  /** A scratch folder of the test's own (the working directory, on PGlite). */
  directory: string;
  cleanup(): Promise<void>;
}

export async function persistentDatabase(): Promise<PersistentDatabase> {
  const previous = process.cwd();
  const scratch = await mkdtemp(path.join(tmpdir(), "consentgate-jobs-"));
  const removeScratch = () => rm(scratch, { recursive: true, force: true });
  if (onPostgres) {
    const db = await testDatabase();
    const cleanup = async () => {
      await db.drop();
      await removeScratch();
    };
    return { option: db.option, database: db.database, directory: scratch, cleanup };
  }
  process.chdir(scratch);
  return {
    option: "",
    database: parseDatabase(undefined),
    directory: scratch,
    cleanup: async () => {
      process.chdir(previous);
      await removeScratch();
    },
  };
}
