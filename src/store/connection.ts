/**
 * Opens the database named by the `database` option and gives two views of
 * it: a Prisma client for typed queries, and a raw SQL connection for the few
 * things Prisma cannot do well (the migration runner, advisory locks,
 * multi-row statements, LISTEN/NOTIFY).
 *
 *   absent           → PGlite files under ./.consentgate/
 *   file:///abs/dir  → PGlite files under that folder instead (what ./.consentgate/ is by default)
 *   "memory"         → PGlite in memory (nothing touches the disk); later ones in a process
 *                      start from a migrated snapshot (memory-snapshot.ts)
 *   postgres(ql)://… → PostgreSQL through a pg pool
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { ConsentgateError } from "../errors.ts";
import { lockDirectory } from "./directory-lock.ts";
import { type MemorySnapshot, createMemoryPglite, takeMemorySnapshot } from "./memory-snapshot.ts";
import { namedStatements } from "./pglite-statements.ts";
import { type Prisma, PrismaClient } from "../generated/prisma/client.ts";

export type DatabaseKind = "pglite-files" | "pglite-memory" | "postgres";

export type Database =
  | { kind: "pglite-files"; directory: string }
  | { kind: "pglite-memory" }
  | { kind: "postgres"; url: string };

/** The default folder for the embedded database, relative to the working directory. */
export const DEFAULT_DATA_DIRECTORY = ".consentgate";

/** Reads the `database` option; throws `invalid_option` for anything it cannot open. */
export function parseDatabase(database: string | undefined, cwd = process.cwd()): Database {
  if (database === undefined || database === "") {
    return { kind: "pglite-files", directory: path.resolve(cwd, DEFAULT_DATA_DIRECTORY, "pgdata") };
  }
  if (database === "memory") return { kind: "pglite-memory" };
  let url: URL;
  try {
    url = new URL(database);
  } catch {
    throw new ConsentgateError(
      "invalid_option",
      `database: expected "memory", a postgres:// URL, or nothing (embedded files); got ${redact(database)}`,
    );
  }
  // The embedded files somewhere other than the working directory (a data folder, a test's scratch folder).
  if (url.protocol === "file:")
    return { kind: "pglite-files", directory: path.join(embeddedFolder(url, database), "pgdata") };
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConsentgateError(
      "invalid_option",
      `database: unsupported protocol "${url.protocol}" (use postgres:// or postgresql://)`,
    );
  }
  // @prisma/adapter-pg fails obscurely without a user name, even under trust authentication.
  if (url.username === "") {
    throw new ConsentgateError("invalid_option", `database: the URL needs a user name (postgres://USER@host/db)`);
  }
  if (url.pathname.length <= 1) {
    throw new ConsentgateError(
      "invalid_option",
      `database: the URL needs a database name (postgres://user@host/DBNAME)`,
    );
  }
  return { kind: "postgres", url: database };
}

/** The folder a file: URL names; only a local, absolute one (file:///…) is a folder this process can open. */
function embeddedFolder(url: URL, database: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    throw new ConsentgateError(
      "invalid_option",
      `database: a file: URL must name a local folder (file:///path/to/folder); got ${redact(database)}`,
    );
  }
}

/** Never echo a password back into logs or error messages. */
function redact(value: string): string {
  return JSON.stringify(value.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@"));
}

/** A raw SQL connection; `exec` runs a script of several statements. */
export interface SqlSession {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  exec(sql: string): Promise<void>;
  release(): void;
}

export interface Connection {
  readonly kind: DatabaseKind;
  readonly prisma: PrismaClient;
  /** A session holding one connection until released (for locks and transactions). */
  session(): Promise<SqlSession>;
  /**
   * One statement on any connection. A `name` makes it a prepared statement
   * (parsed once per connection, then planned generically: worth it for hot,
   * complex statements whose every plan is a good one). Not inside
   * `transaction()` on PGlite: a named statement waits for PGlite's
   * transaction lock, which that transaction holds.
   */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[], name?: string): Promise<Row[]>;
  /**
   * Runs `work` in one transaction on one connection: committed when it
   * resolves, rolled back when it throws. On PGlite nothing else runs meanwhile.
   */
  transaction<T>(work: (tx: Pick<SqlSession, "query">) => Promise<T>): Promise<T>;
  /** The pg pool, on PostgreSQL only (benchmarks, raw multi-row statements). */
  readonly pool?: pg.Pool;
  /** A new dedicated client outside the pool, on PostgreSQL only (LISTEN/NOTIFY). */
  dedicatedClient?(): pg.Client;
  /** In memory only: a copy of the database's files as they are now, for later memory databases to start from. */
  snapshot?(): Promise<MemorySnapshot>;
  close(): Promise<void>;
}

/**
 * A statement built on the Prisma client but not run yet: it runs in a
 * caller's `prisma.$transaction([...])` batch (committing with the change it
 * goes with), or when awaited. Named here so that modules outside the store
 * pass statements around without importing the generated client.
 */
export type Statement = Prisma.PrismaPromise<unknown>;

/** What a raw statement can be built on: the Prisma client, or `tx` of an interactive transaction. */
export type StatementClient = Pick<PrismaClient, "$queryRawUnsafe">;

export interface ConnectOptions {
  /** Connections in the PostgreSQL pool (the `poolSize` option, resolved with its default by createConsentgate). */
  poolSize: number;
}

/** Opens `database`; in memory, on a copy of `from`'s files when given (then PGlite skips initdb). */
export async function connect(database: Database, options: ConnectOptions, from?: MemorySnapshot): Promise<Connection> {
  if (database.kind === "postgres") return connectPostgres(database.url, options.poolSize);
  if (database.kind === "pglite-memory") {
    const db = await createMemoryPglite(from);
    return { ...(await connectPglite(db, database.kind, async () => {})), snapshot: () => takeMemorySnapshot(db) };
  }
  await mkdir(database.directory, { recursive: true });
  const lock = await lockDirectory(database.directory);
  try {
    return await connectPglite(await PGlite.create(database.directory), database.kind, lock.release);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function connectPglite(db: PGlite, kind: DatabaseKind, unlock: () => Promise<void>): Promise<Connection> {
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  // PGlite has a single connection, so a "session" is the database itself.
  const session: SqlSession = {
    query: async (sql, params) => (await db.query(sql, params)).rows as never,
    exec: async (sql) => void (await db.exec(sql)),
    release: () => {},
  };
  const named = namedStatements(db);
  return {
    kind,
    prisma,
    session: async () => session,
    query: (sql, params, name) => (name === undefined ? session.query(sql, params) : named(name, sql, params ?? [])),
    transaction: (work) =>
      db.transaction((tx) => work({ query: async (sql, params) => (await tx.query(sql, params)).rows as never })),
    close: async () => {
      await prisma.$disconnect();
      await db.close();
      await unlock();
    },
  };
}

async function connectPostgres(url: string, poolSize: number): Promise<Connection> {
  // A database that does not answer must fail fast: the gate then refuses writes (fail closed).
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 2000 });
  // An idle client that loses its server emits 'error' on the pool; without a
  // listener Node would crash the host app. The next query reports the failure.
  pool.on("error", () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: "postgres",
    prisma,
    pool,
    dedicatedClient: () => new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000, keepAlive: true }),
    async session() {
      const client = await pool.connect();
      return {
        query: async (sql, params) => (await client.query(sql, params)).rows,
        exec: async (sql) => void (await client.query(sql)),
        release: () => client.release(),
      };
    },
    query: async (sql, params, name) =>
      (await pool.query(name === undefined ? { text: sql, values: params } : { name, text: sql, values: params })).rows,
    async transaction(work) {
      const client = await pool.connect();
      let broken: unknown;
      try {
        await client.query("BEGIN");
        const result = await work({ query: async (sql, params) => (await client.query(sql, params)).rows });
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch((rollbackError: unknown) => (broken = rollbackError));
        throw error;
      } finally {
        // A client whose rollback failed may be mid-transaction: destroy it rather than pool it.
        client.release(broken as Error | undefined);
      }
    },
    close: async () => {
      await prisma.$disconnect();
      if (!pool.ended) await pool.end();
    },
  };
}
