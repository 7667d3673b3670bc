/**
 * The music app's own database: its likes and playlists, in its own Prisma
 * schema (prisma/schema.prisma beside this file), next to Consentgate's
 * tables but not among them. This is the part a host app copies: open a
 * Prisma client on a driver adapter, apply the app's migrations, hand the
 * client out.
 *
 *   absent        → PGlite files in ./.music-app/ (Consentgate keeps its own in ./.consentgate/)
 *   "memory"      → PGlite in memory
 *   postgres://…  → that PostgreSQL database; it can be the one Consentgate uses, as no table names clash
 *   a PGlite      → that one, opened by the caller, who closes it after close()
 *
 * The migrations are the SQL `prisma migrate diff --from-empty
 * --to-schema-datamodel` writes, applied here in name order rather than by
 * `prisma migrate deploy`, which fails through @prisma/adapter-pg on real
 * PostgreSQL (prisma issue 27403). Each runs in one transaction together
 * with its record in music_app_migrations, under an advisory lock, so
 * instances starting at once apply each migration once and a failed one
 * leaves nothing half-done.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "./generated/prisma/client.ts";

export interface MusicDatabase {
  /** The app's Prisma client (generated from prisma/schema.prisma), on migrated tables. */
  client: PrismaClient;
  /** Disconnects the client and closes the database (the embedded one) or its pool (PostgreSQL). */
  close(): Promise<void>;
}

export interface MusicDatabaseOptions {
  /** Where the embedded files go when no database is named (default ./.music-app, from the working directory). */
  directory?: string;
  /**
   * The migrations to apply: a folder holding a folder per migration, each with its migration.sql
   * (default prisma/migrations beside this file; tests use a copy).
   */
  migrations?: string;
}

/** prisma/migrations beside this file: found from here, so any working directory will do. */
const MIGRATIONS_DIRECTORY = fileURLToPath(new URL("prisma/migrations/", import.meta.url));

/**
 * Any fixed number, as long as nothing else on the database takes the same
 * advisory lock (Consentgate's migrations use one of their own).
 */
const MIGRATION_LOCK_KEY = 7_301_554_102;

/**
 * Opens the music app's database and brings its tables up to date.
 *
 * One process at a time may open the embedded files: open this after the gate,
 * whose lock on ./.consentgate/ already stops a second app in the same folder.
 *
 * @example
 * const music = await openMusicDatabase(process.env.DATABASE_URL);
 * await music.client.like.create({ data: { listenerId: "ada", itemId: "t1" } });
 * await music.close();
 */
export async function openMusicDatabase(
  database?: string | PGlite,
  { directory = ".music-app", migrations = MIGRATIONS_DIRECTORY }: MusicDatabaseOptions = {},
): Promise<MusicDatabase> {
  const appMigrations = await readMigrations(migrations);
  if (database instanceof PGlite) return openPglite(database, appMigrations, async () => {});
  if (database?.startsWith("postgres://") || database?.startsWith("postgresql://")) {
    return openPostgres(database, appMigrations);
  }
  // An empty DATABASE_URL means none, as it does to Consentgate.
  if (database && database !== "memory") {
    throw new Error(`music app: database must be "memory", a postgres:// URL, or absent (embedded files)`);
  }
  if (!database) await mkdir(directory, { recursive: true });
  const db = await PGlite.create(database === "memory" ? undefined : directory);
  return openPglite(db, appMigrations, () => db.close());
}

/** `closeDatabase` closes `db` after the client disconnects (or when the migrations fail), if it is ours to close. */
async function openPglite(
  db: PGlite,
  appMigrations: Migration[],
  closeDatabase: () => Promise<void>,
): Promise<MusicDatabase> {
  try {
    // PGlite has one connection: its own query and exec run the migrations before Prisma gets it.
    await migrate(
      {
        query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params)).rows,
        exec: (sql) => db.exec(sql),
      },
      appMigrations,
    );
  } catch (error) {
    await closeDatabase();
    throw error;
  }
  const client = new PrismaClient({ adapter: new PrismaPGlite(db) });
  return {
    client,
    close: async () => {
      await client.$disconnect();
      await closeDatabase();
    },
  };
}

async function openPostgres(url: string, appMigrations: Migration[]): Promise<MusicDatabase> {
  // One connection of its own for the migrations: the advisory lock belongs to its session.
  const connection = new pg.Client({ connectionString: url });
  await connection.connect();
  try {
    await migrate(
      {
        query: async (sql, params) => (await connection.query(sql, params)).rows,
        exec: (sql) => connection.query(sql),
      },
      appMigrations,
    );
  } finally {
    await connection.end();
  }
  // The adapter makes its own pool from the URL and ends it on $disconnect.
  const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  return { client, close: () => client.$disconnect() };
}

interface Migration {
  name: string;
  sql: string;
  /** sha256 of the SQL: a migration edited after it was applied is refused rather than silently skipped. */
  checksum: string;
}

async function readMigrations(directory: string): Promise<Migration[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(`${directory}/${name}/migration.sql`, "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

/** One connection: `query` runs one statement with parameters, `exec` a script of several. */
interface Session {
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  exec(sql: string): Promise<unknown>;
}

async function migrate(session: Session, migrations: Migration[]): Promise<void> {
  await session.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
  try {
    await session.exec(
      `CREATE TABLE IF NOT EXISTS music_app_migrations (
         name text PRIMARY KEY,
         checksum text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const rows = await session.query("SELECT name, checksum FROM music_app_migrations");
    const applied = new Map(rows.map((row) => [row.name, row.checksum]));
    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum === migration.checksum) continue;
      if (checksum !== undefined) {
        throw new Error(
          `music app: migration ${migration.name} changed after it was applied to this database ` +
            `(sha256 ${checksum} then, ${migration.checksum} now); put changes in a new migration instead`,
        );
      }
      await session.exec("BEGIN");
      try {
        await session.exec(migration.sql);
        await session.query("INSERT INTO music_app_migrations (name, checksum) VALUES ($1, $2)", [
          migration.name,
          migration.checksum,
        ]);
        await session.exec("COMMIT");
      } catch (error) {
        await session.exec("ROLLBACK");
        throw new Error(`music app: migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
    }
  } finally {
    // PGlite's one connection stays open, so the lock is released here. A connection that broke
    // has released it already: keep the error that broke it.
    await session.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
  }
}
