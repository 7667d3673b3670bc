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
 * Counts are logged per region (the region of the request that wrote the row;
 * rows without one, written before regions were recorded or under a region
 * the policy no longer has, count for the default region) and per purpose,
 * as one `purge.ran` entry per region, also when nothing was due.
 */
import type { ComplianceLog } from "../audit/events.ts";
import type { Logger } from "../logger.ts";
import type { Policy } from "../policy/types.ts";
import { LOG_EVENT } from "../store/compliance-log.ts";
import type { InteractionStore, PurgedCount, RingKey } from "../store/interactions.ts";

export interface PurgeDeps {
  /** The statements of both passes (src/store/interactions.ts). */
  interactions: Pick<InteractionStore, "deleteExpired" | "deleteOutsideWindows" | "countPurgeable">;
  policy: Policy;
  audit: Pick<ComplianceLog, "append">;
  logger: Logger;
}

export interface PurgeOptions {
  now: Date;
  /** Count what would go, delete nothing, log nothing. */
  dryRun?: boolean;
  /** Rows (pass 1) or window heads (pass 2) per statement. Default 5000. */
  batchSize?: number;
  /** Stops the run between two statements. */
  signal?: AbortSignal;
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

  if (options.dryRun) {
    const purgeable = await interactions.countPurgeable(options.now, windows);
    add(expired, purgeable.expired);
    add(outOfWindow, purgeable.outOfWindow);
    return { dryRun: true, expired, outOfWindow, emptyWindows: purgeable.emptyWindows, interrupted: false };
  }

  let emptyWindows = 0;
  let interrupted = false;
  const stopped = () => (interrupted ||= options.signal?.aborted === true);
  const passes = async () => {
    for (let deleted = batchSize; deleted === batchSize && !stopped(); ) {
      deleted = add(expired, await interactions.deleteExpired(options.now, batchSize));
      deps.logger.debug({ job: "purge", pass: "expired", deleted }, "consentgate: purge batch");
    }
    for (let cursor: RingKey | undefined = { subjectId: "", purpose: "" }; cursor !== undefined && !stopped(); ) {
      const walked = await interactions.deleteOutsideWindows(cursor, batchSize, windows);
      const deleted = add(outOfWindow, walked.deleted);
      emptyWindows += walked.emptied;
      deps.logger.debug(
        { job: "purge", pass: "windows", deleted, emptyWindows: walked.emptied },
        "consentgate: purge batch",
      );
      cursor = walked.next;
    }
  };

  let failure: unknown;
  await passes().catch((error: unknown) => {
    failure = error;
    interrupted = true;
  });
  const result: PurgeResult = { dryRun: false, expired, outOfWindow, emptyWindows, interrupted };
  // What was deleted before a failure is logged too, if the log can still be written.
  const logged = logRuns(deps, result, options.now.toISOString());
  if (failure === undefined) await logged;
  else {
    await logged.catch(() => {});
    throw failure;
  }
  return result;
}

async function logRuns({ audit, policy }: PurgeDeps, result: PurgeResult, before: string): Promise<void> {
  for (const region of Object.keys(policy.regions)) {
    await audit.append({
      region,
      event: LOG_EVENT.purgeRan,
      details: {
        before,
        expired: result.expired[region] ?? {},
        outOfWindow: result.outOfWindow[region] ?? {},
        ...(result.interrupted ? { interrupted: true } : {}),
      },
    });
  }
}
