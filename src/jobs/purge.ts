/**
 * The purge job: storage limitation made physical (GDPR Art. 5(1)(e)).
 *
 * Two passes, each a series of short statements of at most `batchSize` rows
 * that commit one by one, so no lock is held for long, no transaction grows
 * without bound, and an interrupted run loses nothing: what was deleted stays
 * deleted and the next run carries on.
 *  1. Expired rows (expiresAt <= now), found through the index on the hour
 *     they expire in (expiresHour: see migration 0004 for why not expiresAt).
 *  2. A walk over the window heads (one per subject and purpose) that deletes
 *     rows older than the ring's newest `window` positions (a policy that
 *     shrank a window, for rings nobody wrote since: the newest rows stay, and
 *     the next write moves them into the new window's slots, see
 *     store/reshape.ts) and every row of a purpose the policy no longer has,
 *     then drops heads whose rings are empty: a head holds the subject id,
 *     which is personal data too.
 * Each deleted row is re-checked in the statement that deletes it, so a row
 * that a concurrent write just overwrote with fresh data is left alone; a
 * head is dropped only if no write moved it meanwhile (a write updates the
 * head before it adds a row, and an update gives the head a new ctid).
 *
 * Then the app's own gated models (src/data-layer/) with a createdAt field and
 * a purpose with a window (and so a retention), through the client each was
 * applied to, also in batches:
 *  3. rows written before now minus the purpose's retention;
 *  4. a walk over the subjects holding more than the window, in subject
 *     order, that deletes each one's rows past its newest `window`.
 *
 * Counts are logged per region (the region of the request that wrote the row;
 * rows without one, written before regions were recorded or under a region
 * the policy no longer has, count for the default region) and per purpose,
 * as one `purge.ran` entry per region, also when nothing was due. The app's
 * rows carry no region, so they count for the default region: its entry
 * lists them per model under `tables` (when any model is gated).
 */
import type { ComplianceLog } from "../audit/events.ts";
import type { Logger } from "../logger.ts";
import type { GateMetrics } from "../metrics/observations.ts";
import { subtractDuration } from "../policy/duration.ts";
import type { Policy, Purpose } from "../policy/types.ts";
import { LOG_EVENT } from "../store/compliance-log.ts";
import {
  countWrittenBefore,
  crowdedSubjects,
  deleteBeyondWindow,
  deleteWrittenBefore,
  type HostClient,
  type HostTable,
} from "../store/host-tables.ts";
import type { InteractionStore, PurgedCount, RingKey } from "../store/interactions.ts";

/** One of the app's gated models, with the client it was applied to. */
export interface GatedTable {
  readonly table: HostTable & { readonly purpose: Purpose };
  readonly client: HostClient;
}

export interface PurgeDeps {
  /** The statements of both passes (src/store/interactions.ts). */
  interactions: Pick<InteractionStore, "deleteExpired" | "deleteOutsideWindows" | "countPurgeable">;
  /** The app's gated models (src/data-layer/, wired in by createConsentgate). */
  gatedTables: () => readonly GatedTable[];
  policy: Policy;
  audit: Pick<ComplianceLog, "append">;
  logger: Logger;
  /** Told the rows each run deleted (dry runs delete nothing, and tell nothing). */
  metrics: Pick<GateMetrics, "purged">;
}

export interface PurgeOptions {
  now: Date;
  /** Count what would go, delete nothing, log nothing. */
  dryRun?: boolean;
  /** Rows (pass 1) or window heads (pass 2) per statement. Default 5000. */
  batchSize?: number;
  /** Stops the run between two statements. */
  signal?: AbortSignal;
  /** Told once what is due is counted (deleted 0), then after each statement that deleted rows; not in a dry run. */
  onProgress?: (progress: PurgeProgress) => void;
}

/**
 * How far a purge has got, for a progress display (`consentgate purge` draws
 * a bar on a terminal).
 *
 * @example
 * ```ts
 * import type { PurgeProgress } from "consentgate";
 *
 * const show = ({ deleted, expected }: PurgeProgress) => console.error(`${deleted} of ~${expected} rows deleted`);
 * await gate.runJob("purge", { onProgress: show });
 * ```
 */
export interface PurgeProgress {
  /** Rows deleted so far in this run, interactions and the app's gated rows. */
  deleted: number;
  /**
   * The interactions that were due when the run started (counted first, as a
   * dry run counts them). The app's gated rows are not counted ahead, and
   * concurrent writes may add some, so `deleted` can pass it.
   */
  expected: number;
}

/**
 * Rows the purge job deleted (or, in a dry run, would delete): region →
 * purpose → rows. Exported as `PurgeCounts`.
 *
 * @example
 * ```ts
 * import type { PurgeCounts } from "consentgate";
 *
 * const total = (counts: PurgeCounts) => Object.values(counts).flatMap(Object.values).reduce((a, b) => a + b, 0);
 * ```
 */
export type Counts = Record<string, Record<string, number>>;

/**
 * Rows the purge job deleted (or, in a dry run, would delete) from one of
 * the app's own gated models. Exported as `PurgedTable`.
 *
 * @example
 * ```ts
 * import type { PurgedTable } from "consentgate";
 *
 * const total = (tables: Record<string, PurgedTable>) =>
 *   Object.values(tables).reduce((sum, t) => sum + t.expired + t.outOfWindow, 0);
 * ```
 */
export interface TableCounts {
  /** The model's purpose, whose retention and window applied. */
  purpose: string;
  /** Rows written longer than the purpose's retention ago. */
  expired: number;
  /** Rows past the newest `window` of their subject's. */
  outOfWindow: number;
}

/**
 * What the purge job did: expired rows and rows past their purpose's window
 * deleted, per region and purpose.
 *
 * @example
 * ```ts
 * import type { PurgeResult } from "consentgate";
 *
 * const result: PurgeResult = await gate.runJob("purge");
 * if (result.interrupted) console.warn("the purge stopped early; the next run carries on");
 * console.log(result.expired.EU?.personalization ?? 0, "expired personalization rows deleted in the EU");
 * ```
 */
export interface PurgeResult {
  /** Counted only; nothing was deleted or logged. */
  dryRun: boolean;
  /** Rows past their expiresAt. */
  expired: Counts;
  /** Rows older than their ring's newest `window`, or of purposes the policy no longer has. */
  outOfWindow: Counts;
  /** Window heads dropped (or, in a dry run, that would be) because nothing is left in their ring. */
  emptyWindows: number;
  /**
   * The app's own gated models (`gate.prismaExtension()`) by model name:
   * every one with a `createdAt` field and a purpose with a window, also
   * when nothing was due. Their rows count for the default region.
   */
  tables: Record<string, TableCounts>;
  /** Stopped before the end; a rerun finishes. */
  interrupted: boolean;
}

export const DEFAULT_PURGE_BATCH = 5000;

export async function purge(deps: PurgeDeps, options: PurgeOptions): Promise<PurgeResult> {
  const { interactions, policy } = deps;
  const batchSize = options.batchSize ?? DEFAULT_PURGE_BATCH;
  // A purpose without a window keeps no interactions; one the policy lacks keeps none any more.
  const windows = Object.values(policy.purposes).map((p) => ({ purpose: p.name, window: p.window ?? 0 }));
  const regionOf = (region: string | null) =>
    region !== null && Object.hasOwn(policy.regions, region) ? region : policy.defaults.region;
  const expired: Counts = {};
  const outOfWindow: Counts = {};
  const add = (counts: Counts, rows: PurgedCount[]) => {
    let total = 0;
    for (const { region, purpose, n } of rows) {
      const perPurpose = (counts[regionOf(region)] ??= {});
      perPurpose[purpose] = (perPurpose[purpose] ?? 0) + n;
      total += n;
    }
    return total;
  };

  const gated = purgedTables(deps.gatedTables(), options.now);
  const tables: Record<string, TableCounts> = Object.fromEntries(
    gated.map(({ table }) => [table.model, { purpose: table.purpose.name, expired: 0, outOfWindow: 0 }]),
  );

  if (options.dryRun) {
    const purgeable = await interactions.countPurgeable(options.now, windows);
    add(expired, purgeable.expired);
    add(outOfWindow, purgeable.outOfWindow);
    for (const entry of gated) await countTable(entry, tables[entry.table.model]!, batchSize);
    return { dryRun: true, expired, outOfWindow, emptyWindows: purgeable.emptyWindows, tables, interrupted: false };
  }

  let emptyWindows = 0;
  let interrupted = false;
  const stopped = () => (interrupted ||= options.signal?.aborted === true);
  const progress = await progressReporter(interactions, options, windows);
  const passes = async () => {
    for (let deleted = batchSize; deleted === batchSize && !stopped(); ) {
      deleted = add(expired, await interactions.deleteExpired(options.now, batchSize));
      progress(deleted);
      deps.logger.debug({ job: "purge", pass: "expired", deleted }, "consentgate: purge batch");
    }
    for (let cursor: RingKey | undefined = { subjectId: "", purpose: "" }; cursor !== undefined && !stopped(); ) {
      const walked = await interactions.deleteOutsideWindows(cursor, batchSize, windows);
      const deleted = add(outOfWindow, walked.deleted);
      progress(deleted);
      emptyWindows += walked.emptied;
      deps.logger.debug(
        { job: "purge", pass: "windows", deleted, emptyWindows: walked.emptied },
        "consentgate: purge batch",
      );
      cursor = walked.next;
    }
    for (const entry of gated) {
      if (stopped()) break;
      await purgeTable(deps, entry, tables[entry.table.model]!, batchSize, stopped, progress);
    }
  };

  let failure: unknown;
  await passes().catch((error: unknown) => {
    failure = error;
    interrupted = true;
  });
  const result: PurgeResult = { dryRun: false, expired, outOfWindow, emptyWindows, tables, interrupted };
  countPurged(deps, result);
  // What was deleted before a failure is logged too, if the log can still be written.
  const logged = logRuns(deps, result, options.now.toISOString());
  if (failure === undefined) await logged;
  else {
    await logged.catch(() => {});
    throw failure;
  }
  return result;
}

/** What was deleted, also before a failure, for the metrics; the app's own models count for the default region. */
function countPurged({ metrics, policy }: PurgeDeps, result: PurgeResult): void {
  const reasons = [
    ["expired", result.expired],
    ["out_of_window", result.outOfWindow],
  ] as const;
  for (const [reason, counts] of reasons)
    for (const [region, perPurpose] of Object.entries(counts))
      for (const [purpose, rows] of Object.entries(perPurpose))
        if (rows > 0) metrics.purged(region, purpose, reason, rows);
  for (const table of Object.values(result.tables)) {
    if (table.expired > 0) metrics.purged(policy.defaults.region, table.purpose, "expired", table.expired);
    if (table.outOfWindow > 0)
      metrics.purged(policy.defaults.region, table.purpose, "out_of_window", table.outOfWindow);
  }
}

/**
 * Adds each statement's deletions up and tells `onProgress`; the count of
 * what is due (one more query) only when someone listens.
 */
async function progressReporter(
  interactions: PurgeDeps["interactions"],
  { now, onProgress }: PurgeOptions,
  windows: { purpose: string; window: number }[],
): Promise<(deleted: number) => void> {
  if (onProgress === undefined) return () => {};
  const due = await interactions.countPurgeable(now, windows);
  const expected = [...due.expired, ...due.outOfWindow].reduce((sum, { n }) => sum + n, 0);
  let deleted = 0;
  onProgress({ deleted, expected });
  return (rows) => {
    if (rows === 0) return;
    deleted += rows;
    onProgress({ deleted, expected });
  };
}

async function logRuns({ audit, policy }: PurgeDeps, result: PurgeResult, before: string): Promise<void> {
  const gated = Object.keys(result.tables).length > 0;
  for (const region of Object.keys(policy.regions)) {
    await audit.append({
      region,
      event: LOG_EVENT.purgeRan,
      details: {
        before,
        expired: result.expired[region] ?? {},
        outOfWindow: result.outOfWindow[region] ?? {},
        ...(gated && region === policy.defaults.region ? { tables: result.tables } : {}),
        ...(result.interrupted ? { interrupted: true } : {}),
      },
    });
  }
}

type Purged = GatedTable & {
  readonly table: GatedTable["table"] & { readonly createdAt: string };
  readonly window: number;
  /** Rows written before this are past the purpose's retention. */
  readonly since: Date;
};

/** The gated models the purge applies to: with a createdAt field, and a purpose that keeps a window for a retention. */
function purgedTables(tables: readonly GatedTable[], now: Date): Purged[] {
  return tables.flatMap(({ table, client }) => {
    const { createdAt, purpose } = table;
    const { window, retention } = purpose;
    if (createdAt === undefined || window === undefined || retention === undefined) return [];
    return [{ table: { ...table, createdAt }, client, window, since: subtractDuration(now, retention) }];
  });
}

/** Passes 3 and 4 on one model, each statement at most `batchSize` rows or subjects. */
async function purgeTable(
  deps: PurgeDeps,
  { table, client, window, since }: Purged,
  counts: TableCounts,
  batchSize: number,
  stopped: () => boolean,
  progress: (deleted: number) => void,
): Promise<void> {
  for (let deleted = batchSize; deleted === batchSize && !stopped(); ) {
    deleted = await deleteWrittenBefore(client, table, since, batchSize);
    counts.expired += deleted;
    progress(deleted);
    deps.logger.debug({ job: "purge", pass: "expired", model: table.model, deleted }, "consentgate: purge batch");
  }
  for (let after: string | undefined = ""; after !== undefined && !stopped(); ) {
    const crowded = await crowdedSubjects(client, table, { window, since, after, batchSize });
    let deleted = 0;
    for (const { subjectId } of crowded) {
      for (let batch = batchSize; batch === batchSize && !stopped(); ) {
        batch = await deleteBeyondWindow(client, table, subjectId, window, batchSize);
        deleted += batch;
        progress(batch);
      }
    }
    counts.outOfWindow += deleted;
    deps.logger.debug({ job: "purge", pass: "windows", model: table.model, deleted }, "consentgate: purge batch");
    after = crowded.length === batchSize ? crowded.at(-1)!.subjectId : undefined;
  }
}

/** What passes 3 and 4 would delete from one model: the expired rows, then each subject's rows past its window among the rest. */
async function countTable(
  { table, client, window, since }: Purged,
  counts: TableCounts,
  batchSize: number,
): Promise<void> {
  counts.expired = await countWrittenBefore(client, table, since);
  for (let after: string | undefined = ""; after !== undefined; ) {
    const crowded = await crowdedSubjects(client, table, { window, since, after, batchSize });
    for (const { rows } of crowded) counts.outOfWindow += rows - window;
    after = crowded.length === batchSize ? crowded.at(-1)!.subjectId : undefined;
  }
}
