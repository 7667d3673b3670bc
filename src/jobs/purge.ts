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
import type { Connection } from "../store/connection.ts";

export interface PurgeDeps {
  connection: Connection;
  policy: Policy;
  audit: ComplianceLog;
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

const EXPIRED_SQL = `
WITH gone AS (
  DELETE FROM interactions
  WHERE ctid = ANY (ARRAY(SELECT ctid FROM interactions
                          WHERE "expiresHour" <= date_trunc('hour', $1::timestamptz AT TIME ZONE 'UTC')
                            AND "expiresAt" <= $1
                          LIMIT $2))
    AND "expiresAt" <= $1
  RETURNING region, purpose
)
SELECT region, purpose, count(*)::int AS n FROM gone GROUP BY region, purpose`;

// Rows and heads are deleted by ctid, gathered through per-ring index lookups
// (a LATERAL subquery that OFFSET 0 keeps from being flattened, a scalar
// subquery): a join here tempts the planner into hashing the whole table on
// every batch. A row or head that a concurrent
// write updates gets a new ctid, so the delete skips it.
const RINGS_SQL = `
WITH batch AS MATERIALIZED (
  SELECT h.ctid AS head, h."subjectId", h.purpose, h."nextSeq" - coalesce(w.win, 0) AS oldest
  FROM interaction_windows h LEFT JOIN unnest($4::text[], $5::int[]) AS w(purpose, win) ON w.purpose = h.purpose
  WHERE (h."subjectId", h.purpose) > ($1, $2)
  ORDER BY h."subjectId", h.purpose
  LIMIT $3
),
outside AS (
  DELETE FROM interactions
  WHERE ctid = ANY (ARRAY(
    SELECT x.ctid FROM batch b CROSS JOIN LATERAL (
      SELECT i.ctid FROM interactions i WHERE i."subjectId" = b."subjectId" AND i.purpose = b.purpose AND i.seq < b.oldest OFFSET 0
    ) x))
  RETURNING region, purpose
),
emptied AS (
  DELETE FROM interaction_windows
  WHERE ctid = ANY (ARRAY(
    SELECT b.head FROM batch b
    WHERE (SELECT 1 FROM interactions i WHERE i."subjectId" = b."subjectId" AND i.purpose = b.purpose AND i.seq >= b.oldest LIMIT 1) IS NULL))
  RETURNING 1
)
SELECT region, purpose, count(*)::int AS n, NULL::text AS "lastSubject" FROM outside GROUP BY region, purpose
UNION ALL
SELECT NULL, last.purpose, (SELECT count(*)::int FROM emptied), last."subjectId"
FROM (SELECT "subjectId", purpose FROM batch ORDER BY "subjectId" DESC, purpose DESC LIMIT 1) last`;

const DRY_RUN_SQL = `
SELECT i.region, i.purpose,
       count(*) FILTER (WHERE i."expiresAt" <= $1)::int AS expired,
       count(*) FILTER (WHERE i."expiresAt" > $1 AND i.seq < h."nextSeq" - coalesce(w.win, 0))::int AS "outOfWindow"
FROM interactions i
LEFT JOIN interaction_windows h ON h."subjectId" = i."subjectId" AND h.purpose = i.purpose
LEFT JOIN unnest($2::text[], $3::int[]) AS w(purpose, win) ON w.purpose = i.purpose
GROUP BY i.region, i.purpose`;

const DRY_RUN_HEADS_SQL = `
SELECT count(*)::int AS n
FROM interaction_windows h LEFT JOIN unnest($2::text[], $3::int[]) AS w(purpose, win) ON w.purpose = h.purpose
WHERE NOT EXISTS (SELECT 1 FROM interactions i
                  WHERE i."subjectId" = h."subjectId" AND i.purpose = h.purpose AND i."expiresAt" > $1 AND i.seq >= h."nextSeq" - coalesce(w.win, 0))`;

/** Counts of deleted rows, plus one row naming the batch's last head (the walk's cursor) and the heads dropped. */
type RingRow = { region: string | null; purpose: string; n: number; lastSubject: string | null };

export async function purge(deps: PurgeDeps, options: PurgeOptions): Promise<PurgeResult> {
  const { connection, policy } = deps;
  const batchSize = options.batchSize ?? DEFAULT_PURGE_BATCH;
  const now = options.now.toISOString();
  // A purpose without a window keeps no interactions; one the policy lacks keeps none any more.
  const purposes = Object.values(policy.purposes);
  const windows = [purposes.map((p) => p.name), purposes.map((p) => p.window ?? 0)];
  const regionOf = (region: string | null) => (region !== null && Object.hasOwn(policy.regions, region) ? region : policy.defaults.region);
  const expired: Counts = {};
  const outOfWindow: Counts = {};
  const add = (counts: Counts, rows: { region: string | null; purpose: string; n: number }[]) => {
    let total = 0;
    for (const { region, purpose, n } of rows) {
      const perPurpose = (counts[regionOf(region)] ??= {});
      perPurpose[purpose] = (perPurpose[purpose] ?? 0) + n;
      total += n;
    }
    return total;
  };

  if (options.dryRun) {
    const rows = await connection.query<{ region: string | null; purpose: string; expired: number; outOfWindow: number }>(DRY_RUN_SQL, [now, ...windows]);
    add(expired, rows.filter((r) => r.expired > 0).map((r) => ({ ...r, n: r.expired })));
    add(outOfWindow, rows.filter((r) => r.outOfWindow > 0).map((r) => ({ ...r, n: r.outOfWindow })));
    const [heads] = await connection.query<{ n: number }>(DRY_RUN_HEADS_SQL, [now, ...windows]);
    return { dryRun: true, expired, outOfWindow, emptyWindows: heads!.n, interrupted: false };
  }

  let emptyWindows = 0;
  let interrupted = false;
  const stopped = () => (interrupted ||= options.signal?.aborted === true);
  const passes = async () => {
    for (let deleted = batchSize; deleted === batchSize && !stopped(); ) {
      deleted = add(expired, await connection.query(EXPIRED_SQL, [now, batchSize]));
      deps.logger.debug({ job: "purge", pass: "expired", deleted }, "consentgate: purge batch");
    }
    for (let cursor: [string, string] | undefined = ["", ""]; cursor !== undefined && !stopped(); ) {
      const rows: RingRow[] = await connection.query<RingRow>(RINGS_SQL, [...cursor, batchSize, ...windows]);
      const last = rows.find((r) => r.lastSubject !== null);
      const deleted = add(outOfWindow, rows.filter((r) => r.lastSubject === null));
      emptyWindows += last?.n ?? 0;
      deps.logger.debug({ job: "purge", pass: "windows", deleted, emptyWindows: last?.n ?? 0 }, "consentgate: purge batch");
      cursor = last === undefined ? undefined : [last.lastSubject!, last.purpose];
    }
  };

  let failure: unknown;
  await passes().catch((error: unknown) => {
    failure = error;
    interrupted = true;
  });
  const result: PurgeResult = { dryRun: false, expired, outOfWindow, emptyWindows, interrupted };
  // What was deleted before a failure is logged too, if the log can still be written.
  const logged = logRuns(deps, result, now);
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
      event: "purge.ran",
      details: {
        before,
        expired: result.expired[region] ?? {},
        outOfWindow: result.outOfWindow[region] ?? {},
        ...(result.interrupted ? { interrupted: true } : {}),
      },
    });
  }
}
