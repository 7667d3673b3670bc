/**
 * Our own migration runner, for PGlite and PostgreSQL alike.
 *
 * Why not `prisma migrate deploy`: through @prisma/adapter-pg it fails on
 * real PostgreSQL (prisma issue 27403), and Prisma 7's engine is a native
 * binary that cannot be downloaded here. The SQL itself still comes from
 * `prisma migrate diff`, so the schema stays the single source of truth.
 *
 * Guarantees: one runner at a time per database (a session advisory lock, so
 * instances starting together migrate once); one transaction per migration
 * together with its record, so a failed migration leaves nothing half-done;
 * a migration that changed after it was applied stops start-up.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConsentgateError } from "../errors.ts";
import type { Connection } from "./connection.ts";

/** prisma/migrations of this package: the nearest one above this module (src/, dist/ or a benchmark build). */
export const MIGRATIONS_DIRECTORY = findMigrations(path.dirname(fileURLToPath(import.meta.url)));

function findMigrations(from: string): string {
  for (let dir = from, up = 0; up < 5; dir = path.dirname(dir), up++) {
    const candidate = path.join(dir, "prisma", "migrations");
    if (existsSync(candidate)) return candidate;
  }
  throw new ConsentgateError("migration_failed", `cannot find prisma/migrations above ${from}`);
}

/** Arbitrary but fixed: every Consentgate instance must agree on it. */
const MIGRATION_LOCK_KEY = 4_182_736_519;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(directory = MIGRATIONS_DIRECTORY): Promise<Migration[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(`${directory}/${name}/migration.sql`, "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

/** Applies pending migrations; returns the names this call applied (empty when up to date). */
export async function migrate(connection: Connection, migrations: Migration[]): Promise<string[]> {
  const session = await connection.session();
  const appliedNow: string[] = [];
  try {
    await session.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await session.exec(
        `CREATE TABLE IF NOT EXISTS consentgate_migrations (
           name text PRIMARY KEY,
           checksum text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const rows = await session.query<{ name: string; checksum: string }>(
        "SELECT name, checksum FROM consentgate_migrations",
      );
      const applied = new Map(rows.map((r) => [r.name, r.checksum]));
      for (const migration of migrations) {
        const checksum = applied.get(migration.name);
        if (checksum === migration.checksum) continue;
        if (checksum !== undefined) {
          throw new ConsentgateError(
            "migration_changed",
            `migration ${migration.name} was changed after it was applied; add a new migration instead of editing a released one`,
          );
        }
        await session.exec("BEGIN");
        try {
          await session.exec(migration.sql);
          await session.query("INSERT INTO consentgate_migrations (name, checksum) VALUES ($1, $2)", [
            migration.name,
            migration.checksum,
          ]);
          await session.exec("COMMIT");
        } catch (error) {
          await session.exec("ROLLBACK");
          throw new ConsentgateError(
            "migration_failed",
            `migration ${migration.name} failed: ${(error as Error).message}`,
            {},
            { cause: error },
          );
        }
        appliedNow.push(migration.name);
      }
    } finally {
      // A lost connection drops its session lock by itself; keep the original error.
      await session.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    session.release();
  }
  return appliedNow;
}
