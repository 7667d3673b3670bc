/**
 * Test databases. Without TEST_DATABASE_URL every test gets in-memory PGlite;
 * with it (postgresql://user@host:port/db) every call makes a fresh database
 * on that server and drops it when the test is done, so runs never share state.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { DEFAULT_POOL_SIZE } from "../../src/options.ts";
import type { ConnectOptions, Database } from "../../src/store/connection.ts";

export const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

/** What tests open a store with directly (openStore, connect): the pool createConsentgate opens by default. */
export const STORE_OPTIONS: ConnectOptions = { poolSize: DEFAULT_POOL_SIZE };

export interface TestDatabase {
  /** The value to pass as createConsentgate's `database` option. */
  option: string;
  database: Database;
  drop(): Promise<void>;
}

export async function testDatabase(): Promise<TestDatabase> {
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) return { option: "memory", database: { kind: "pglite-memory" }, drop: async () => {} };
  const name = `consentgate_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withAdmin(admin, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    option: url.toString(),
    database: { kind: "postgres", url: url.toString() },
    drop: () => withAdmin(admin, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

async function withAdmin<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
