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
 *   insight_releases, privacy_budget_spends  insights.ts (counting through interactions.ts)
 *   telemetry_cells, telemetry_reports       telemetry.ts (with the database function
 *                                            consentgate_telemetry_report)
 *   learning_models, learning_rounds,        learning.ts
 *   learning_updates
 *   consentgate_migrations                   migrations.ts
 *   consentgate_lock_subjects (a function)   write-lock.ts
 *
 * An erasure spans several tables in one transaction (erase.ts): it calls
 * each owner's `…InTransaction` helper rather than querying their tables.
 *
 * In memory, the first store of a process leaves a snapshot of its migrated
 * files and later ones start from it (memory-snapshot.ts).
 */
import { ConsentgateError } from "../errors.ts";
import type { Connection, ConnectOptions, Database } from "./connection.ts";
import { connect } from "./connection.ts";
import { claimMemorySnapshot, giveUpMemorySnapshot, type MemorySnapshot, snapshotKey } from "./memory-snapshot.ts";
import { type Migration, migrate, readMigrations } from "./migrations.ts";

export interface Store {
  readonly connection: Connection;
  /**
   * Migrations this start-up applied (empty when the database was up to date).
   * In memory every database is new, so it is every migration, also for one
   * started from the snapshot (its files hold them).
   */
  readonly migrated: string[];
  /** In memory: whether this database started from the process's migrated snapshot (memory-snapshot.ts). */
  readonly fromSnapshot: boolean;
  /**
   * In memory: why taking or starting from the snapshot failed, when it did
   * at this start-up (the store opened the normal way, and so will later ones).
   */
  readonly snapshotFailure?: unknown;
  close(): Promise<void>;
}

interface Opened {
  connection: Connection;
  migrated: string[];
  fromSnapshot: boolean;
  snapshotFailure?: unknown;
}

export async function openStore(database: Database, options: ConnectOptions): Promise<Store> {
  const migrations = await readMigrations();
  const opened =
    database.kind === "pglite-memory"
      ? await openInMemory(database, options, migrations)
      : { ...(await openMigrated(database, options, migrations)), fromSnapshot: false };
  const { connection } = opened;
  let closing: Promise<void> | undefined;
  return {
    ...opened,
    // Idempotent: a host app may call close() from several shutdown hooks.
    close: () => (closing ??= connection.close()),
  };
}

/**
 * The first memory store of a process (for its migration set) opens the
 * normal way and leaves a snapshot of its migrated files; later ones, and
 * those opening meanwhile, start from that snapshot. Any failure of the
 * snapshot falls back to the normal way.
 */
async function openInMemory(database: Database, options: ConnectOptions, migrations: Migration[]): Promise<Opened> {
  const key = snapshotKey(migrations);
  const claim = claimMemorySnapshot(key);
  if (claim.turn !== undefined) {
    let opened: { connection: Connection; migrated: string[] };
    try {
      opened = await openMigrated(database, options, migrations);
    } catch (error) {
      claim.turn.abandon();
      throw error;
    }
    try {
      // Before the store is handed out: nothing of this gate's own (its secret's fingerprint) is in it yet.
      const snapshot = await opened.connection.snapshot?.();
      if (snapshot === undefined) throw new Error("this connection cannot take a snapshot");
      claim.turn.keep({ snapshot, migrated: opened.migrated });
      return { ...opened, fromSnapshot: false };
    } catch (error) {
      claim.turn.fail();
      return { ...opened, fromSnapshot: false, snapshotFailure: error };
    }
  }
  const taken = await claim.taken;
  let snapshotFailure: unknown;
  if (taken !== undefined) {
    try {
      const opened = await openMigrated(database, options, migrations, taken.snapshot);
      return { ...opened, migrated: [...taken.migrated, ...opened.migrated], fromSnapshot: true };
    } catch (error) {
      giveUpMemorySnapshot(key);
      snapshotFailure = error;
    }
  }
  return { ...(await openMigrated(database, options, migrations)), fromSnapshot: false, snapshotFailure };
}

/** Connects and brings the schema up to date (a no-op on a snapshot, but it checks its record); closes on failure. */
async function openMigrated(
  database: Database,
  options: ConnectOptions,
  migrations: Migration[],
  from?: MemorySnapshot,
): Promise<{ connection: Connection; migrated: string[] }> {
  const connection = await connect(database, options, from);
  try {
    return { connection, migrated: await migrate(connection, migrations) };
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
}

/** The database as a person would recognise it, never with its password. */
function where(database: Database): string {
  if (database.kind === "postgres") return `the database ${withoutPassword(database.url)}`;
  return database.kind === "pglite-files" ? `the embedded database in ${database.directory}` : "the in-memory database";
}

function withoutPassword(text: string): string {
  return text.replace(/\/\/([^:@/\s]+):[^@/\s]*@/g, "//$1:***@");
}
