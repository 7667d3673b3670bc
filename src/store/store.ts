/**
 * The store: one open database with Consentgate's schema applied.
 */
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
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    connection,
    migrated,
    // Idempotent: a host app may call close() from several shutdown hooks.
    close: () => (closing ??= connection.close()),
  };
}
