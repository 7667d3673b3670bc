/**
 * The store: one open database with Consentgate's schema applied.
 *
 * Each table has one owner module, the only code that queries it; the rest
 * of Consentgate calls the owner's methods (scripts/check-sql-owners.mjs
 * fails on SQL or a database client anywhere else in src/):
 *
 *   consent_events, consent_state            consents.ts (and the one NOTIFY of a change)
 *   interactions, interaction_windows        interactions.ts (with reshape.ts, which only it calls;
 *                                            the database function consentgate_record_batch)
 *   privacy_requests                         requests.ts
 *   compliance_log, compliance_log_heads     compliance-log.ts
 *   job_leases                               job-leases.ts
 *   consentgate_migrations                   migrations.ts
 *   consentgate_lock_subjects (a function)   write-lock.ts
 *
 * An erasure spans several tables in one transaction (erase.ts): it calls
 * each owner's `…InTransaction` helper rather than querying their tables.
 */
import { ConsentgateError } from "../errors.ts";
import type { Connection, ConnectOptions, Database } from "./connection.ts";
import { connect } from "./connection.ts";
import { migrate, readMigrations } from "./migrations.ts";

export interface Store {
  readonly connection: Connection;
  /** Migrations this start-up applied (empty when the database was up to date). */
  readonly migrated: string[];
  close(): Promise<void>;
}

export async function openStore(database: Database, options: ConnectOptions): Promise<Store> {
  const connection = await connect(database, options);
  let migrated: string[];
  try {
    migrated = await migrate(connection, await readMigrations());
  } catch (error) {
    await connection.close();
    // The migration runner names its own failures; anything else is its first query failing:
    // the database could not be reached or opened (a pool connects lazily, at that query).
    if (error instanceof ConsentgateError) throw error;
    throw new ConsentgateError(
      "database_unavailable",
      `cannot open ${where(database)}: ${withoutPassword((error as Error)?.message ?? String(error))}; ` +
        "check that it exists and accepts connections, and the database option (DATABASE_URL, or --database for the CLI)",
      {},
      { cause: error },
    );
  }
  let closing: Promise<void> | undefined;
  return {
    connection,
    migrated,
    // Idempotent: a host app may call close() from several shutdown hooks.
    close: () => (closing ??= connection.close()),
  };
}

/** The database as a person would recognise it, never with its password. */
function where(database: Database): string {
  if (database.kind === "postgres") return `the database ${withoutPassword(database.url)}`;
  return database.kind === "pglite-files" ? `the embedded database in ${database.directory}` : "the in-memory database";
}

function withoutPassword(text: string): string {
  return text.replace(/\/\/([^:@/\s]+):[^@/\s]*@/g, "//$1:***@");
}
