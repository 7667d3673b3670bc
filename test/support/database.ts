/**
 * Test databases, and what tests do to them around the gate. Without
 * TEST_DATABASE_URL every test gets in-memory PGlite; with it
 * (postgresql://user@host:port/db) every call makes a fresh database on that
 * server and drops it when its scope ends, so runs never share state.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { DEFAULT_POOL_SIZE } from "../../src/options.ts";
import type { Prisma } from "../../src/generated/prisma/client.ts";
import { type ConnectOptions, type Database, parseDatabase } from "../../src/store/connection.ts";
import type { NewInteraction } from "../../src/store/interactions.ts";
import { type Store, openStore } from "../../src/store/store.ts";
import { DAY } from "./clock.ts";
import { type Scope, onCleanup } from "./scope.ts";

export const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

/** What tests open a store with directly (openStore, connect): the pool createConsentgate opens by default. */
/** Every table a migrated database holds, in name order. */
export const CONSENTGATE_TABLES = [
  "compliance_log",
  "compliance_log_heads",
  "consent_events",
  "consent_state",
  "consentgate_migrations",
  "insight_releases",
  "interaction_windows",
  "interactions",
  "job_leases",
  "learning_models",
  "learning_rounds",
  "learning_updates",
  "privacy_budget_spends",
  "privacy_requests",
  "secret_fingerprint",
  "telemetry_cells",
  "telemetry_reports",
];

export const STORE_OPTIONS: ConnectOptions = { poolSize: DEFAULT_POOL_SIZE };

export interface TestDatabase {
  /** The value to pass as createConsentgate's `database` option. */
  option: string;
  /** The same database as openStore takes it. */
  database: Database;
  /** Drops it now (its scope drops it anyway; dropping twice is harmless). Embedded files go with their scratch folder. */
  drop(): Promise<void>;
}

export interface PersistentDatabase extends TestDatabase {
  /**
   * A scratch folder of the test's own. On PGlite the database's files are in
   * its .consentgate/, where an app (or the CLI) run in this folder finds them
   * when no database is named.
   */
  directory: string;
}

/** A fresh, empty database, dropped when `scope` ends (without a scope, call drop()). */
export async function testDatabase(scope?: Scope): Promise<TestDatabase> {
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) return { option: "memory", database: { kind: "pglite-memory" }, drop: async () => {} };
  const name = `consentgate_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withClient(admin, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  const drop = () =>
    (dropped ??= withClient(admin, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
      () => {},
    ));
  if (scope) onCleanup(scope, drop);
  return { option: url.toString(), database: { kind: "postgres", url: url.toString() }, drop };
}

/**
 * A database that outlives one gate, for tests that restart the gate (with a
 * new policy, after a close) or hand the database to the CLI: a fresh
 * PostgreSQL database as above, or PGlite files under a scratch folder (a
 * file: URL names them). Removed when `scope` ends.
 */
export async function persistentDatabase(scope: Scope): Promise<PersistentDatabase> {
  const directory = await scratchFolder(scope, "consentgate-db-");
  if (onPostgres) return { ...(await testDatabase(scope)), directory };
  const option = pathToFileURL(path.join(directory, ".consentgate")).href;
  return { option, database: parseDatabase(option), directory, drop: async () => {} };
}

/** An empty folder in the system's temporary directory, removed when `scope` ends. */
export async function scratchFolder(scope: Scope, prefix = "consentgate-"): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  onCleanup(scope, () => rm(folder, { recursive: true, force: true }));
  return folder;
}

/** The store on `db`, without a gate (for the store's and the log's own tests, and seeding); closed when `scope` ends, or before. */
export async function testStore(scope: Scope, db: TestDatabase, options: { poolSize?: number } = {}): Promise<Store> {
  const store = await openStore(db.database, { ...STORE_OPTIONS, ...options });
  onCleanup(scope, () => store.close());
  return store;
}

/**
 * A connection of its own to `db` (PostgreSQL only), beside the gate's: what
 * someone with access to the database can do behind the gate's back. Ended
 * when `scope` ends.
 */
export async function sqlClient(scope: Scope, db: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.option });
  await client.connect();
  onCleanup(scope, () => client.end());
  return client;
}

/** One statement on the PostgreSQL server as TEST_DATABASE_URL's user (ALTER DATABASE, pg_terminate_backend). */
export async function serverQuery(sql: string): Promise<void> {
  await withClient(process.env.TEST_DATABASE_URL!, (client) => client.query(sql));
}

/** An interaction as the store's record() takes it: a play for `subjectId`, decided and written now, kept a day. */
export function interactionRow(subjectId: string, fields: Partial<NewInteraction> = {}): NewInteraction {
  const now = new Date();
  return {
    subjectId,
    purpose: "personalization",
    window: 5,
    kind: "play",
    data: { itemId: "t" },
    createdAt: now,
    expiresAt: new Date(now.getTime() + DAY),
    receiptId: undefined,
    source: "region-default",
    legalBasis: "consent",
    policyVersion: "v1",
    decidedAt: now,
    ...fields,
  };
}

/** The same as the interactions table holds it (slot 0 of its ring), for writes straight through Prisma around the store. */
export function storedInteraction(
  subjectId: string,
  fields: Partial<NewInteraction> = {},
): Prisma.InteractionUncheckedCreateInput {
  const { window: _window, decidedAt: _decidedAt, receiptId, data, ...row } = interactionRow(subjectId, fields);
  return { ...row, data: data as Prisma.InputJsonObject, receiptId: receiptId ?? null, slot: 0, seq: 0n };
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
