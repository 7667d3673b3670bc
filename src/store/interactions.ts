/**
 * The windowed interaction store.
 *
 * Design: each (subject, purpose) owns a ring of `window` slots. A write takes
 * the next sequence number from interaction_windows and lands in slot
 * seq % window, overwriting whatever was there. The primary key
 * (subjectId, purpose, slot) therefore makes "at most `window` rows" a hard
 * bound enforced by the database itself, under any concurrency and across
 * instances, with no trimming pass on the write path and no table growth:
 * a subject's rows are updated in place. Newest first is seq descending.
 *
 * Writes go through group commit: one multi-row statement per batch. The
 * statement first takes each of its subjects' write lock (shared; consent
 * changes and erasures take it exclusive), then re-checks, inside the
 * database and with a snapshot taken after the lock, that the consent which
 * let each row in still stands (same receipt, not withdrawn; no explicit
 * choice since a row let in without one) and that no erasure was received
 * after the row's decision. So a write racing a withdrawal or an erasure
 * either commits before it (and is erased by it) or sees it (and is
 * refused), on any number of instances. Refused rows are not claimed (a batch
 * holding one writes nothing and goes again without it, so every ring's new
 * rows take consecutive sequence numbers). Each head records the window its ring is shaped for; a row whose window differs
 * (the policy changed it) waits while the ring is reshaped (reshape.ts), then
 * is written.
 *
 * A batch travels as one parameter, a JSON document of its rows with times in
 * epoch milliseconds, and the statement answers only with what it did not
 * write (usually nothing). Per-column arrays (pg escapes each element with
 * regular expressions) and a result row per write cost Node about a quarter
 * more per write, and Node's share is half of a batch's time.
 *
 * The statement is prepared once per connection (on PGlite too, see
 * pglite-statements.ts): parsing and planning it cost about as much as
 * running it. A prepared statement soon runs a generic plan, made without the
 * parameters and often while the tables are still empty, so the statement is
 * written to have no plan that scans a whole table: lookups are per-row
 * subqueries, the only join is between the batch's rows and its heads (a few
 * hundred rows at most, whatever plan joins them), and nothing re-reads a
 * CTE per row. (The first version let the generic plan hash-join the whole
 * interactions table on every batch and ran at a third of today's speed once
 * rings were full.) Rows are numbered within their ring by the caller rather
 * than by window functions, which sorted every wide row of the batch.
 *
 * This module owns `interactions` and `interaction_windows`: every query on
 * them is here or in reshape.ts, which only this module calls (the purge
 * job's statements, the erasures' deletes, the counts the host reads).
 */
import type { Connection } from "./connection.ts";
import { type GateMetrics, silentMetrics } from "../metrics/observations.ts";
import { createGroupCommit } from "./group-commit.ts";
import { reshapeRings, type Ring } from "./reshape.ts";
import { lockSubjectsShared } from "./write-lock.ts";
import { UNSTORABLE_TEXT, unstorableJson, unstorableText } from "./storable.ts";
import { ConsentgateError } from "../errors.ts";
import type { Prisma } from "../generated/prisma/client.ts";

export interface NewInteraction {
  subjectId: string;
  purpose: string;
  window: number;
  kind: string;
  data: Record<string, unknown>;
  createdAt: Date;
  expiresAt: Date;
  /** The consent receipt that let it in; undefined when a legal basis or the region default did. */
  receiptId: string | undefined;
  source: string;
  legalBasis: string;
  policyVersion: string;
  /** When the gate decided; an erasure received after this refuses the row. */
  decidedAt: Date;
  /** The request's region, so that the purge job can log deletions per region. */
  region?: string;
}

/**
 * An interaction as the host app and exports read it: what
 * `req.privacy.recent()` and `gate.store.interactions.forSubject()` return.
 *
 * @example
 * ```ts
 * import type { Interaction } from "consentgate";
 *
 * const skipped = (i: Interaction) => i.kind === "play" && Number((i.data as { durationMs?: number }).durationMs) < 30_000;
 * app.get("/api/skips", async (req, res) => {
 *   res.json((await req.privacy.recent("personalization")).filter(skipped).length);
 * });
 * ```
 */
export interface Interaction {
  /** The purpose it was collected for. */
  purpose: string;
  /** What the app called it in `record(kind, data)`, e.g. "play". */
  kind: string;
  /** The data as stored: minimized by the purpose's field rules. */
  data: unknown;
  /** When it was recorded. */
  at: Date;
  /** When it stops being returned and the purge job deletes it (the purpose's retention after `at`). */
  expiresAt: Date;
  /** Why this row exists: the decision's source, the receipt or legal basis, and the policy version in force. */
  provenance: {
    /** The decision's source: explicit, legal-basis or region-default. */
    source: string;
    /** The consent receipt that let it in; null when a legal basis or the region's default did. */
    receiptId: string | null;
    /** The purpose's legal basis when it was recorded. */
    legalBasis: string;
    /** The policy version in force when it was recorded. */
    policyVersion: string;
  };
}

export function toInteraction(row: {
  purpose: string;
  kind: string;
  data: unknown;
  createdAt: Date;
  expiresAt: Date;
  source: string;
  receiptId: string | null;
  legalBasis: string;
  policyVersion: string;
}): Interaction {
  return {
    purpose: row.purpose,
    kind: row.kind,
    data: row.data,
    at: row.createdAt,
    expiresAt: row.expiresAt,
    provenance: {
      source: row.source,
      receiptId: row.receiptId,
      legalBasis: row.legalBasis,
      policyVersion: row.policyVersion,
    },
  };
}

/**
 * The batch statement lives in the database as a function (migration
 * 0005_subject_write_guard), because it must take each subject's write lock
 * before it reads anything: see that migration for why and how.
 */
const BATCH_SQL = `SELECT * FROM consentgate_record_batch($1::json, $2::text[])`;

/** Deadlocks and serialization failures: the whole statement or transaction rolled back. */
const RETRYABLE = new Set(["40P01", "40001"]);

export interface InteractionStore {
  /** Stores one interaction; resolves once committed, rejects when refused or the batch failed. */
  record(row: NewInteraction): Promise<void>;
  /** Newest first, never past expiresAt. */
  recent(subjectId: string, purpose: string, options: { limit: number; now: Date }): Promise<Interaction[]>;
  /** Everything held for a subject that has not expired, by purpose (purposes since removed from the policy included), newest first. */
  forSubject(subjectId: string, options: { now: Date; purpose?: string }): Promise<Interaction[]>;
  /**
   * Rows held per purpose, for one subject or for everyone: every row
   * physically held (expired ones the purge job has not removed yet
   * included), or with `unexpiredAt` only those not expired by then.
   */
  countByPurpose(options?: { subjectId?: string; unexpiredAt?: Date }): Promise<Record<string, number>>;
  /** Purge, first pass: deletes at most `limit` rows expired by `now`; answers what went, per region and purpose. */
  deleteExpired(now: Date, limit: number): Promise<PurgedCount[]>;
  /**
   * Purge, second pass: walks the next `limit` ring heads after `after` (in
   * (subjectId, purpose) order), deletes their rows older than the newest
   * `window` positions of their purpose (all rows of a purpose `windows`
   * lacks) and the heads left with nothing. `next` is where the walk goes on,
   * undefined at the end.
   */
  deleteOutsideWindows(
    after: RingKey,
    limit: number,
    windows: readonly PurposeWindow[],
  ): Promise<{ deleted: PurgedCount[]; emptied: number; next: RingKey | undefined }>;
  /** Purge, dry run: what the two passes would delete at `now`, deleting nothing. */
  countPurgeable(
    now: Date,
    windows: readonly PurposeWindow[],
  ): Promise<{ expired: PurgedCount[]; outOfWindow: PurgedCount[]; emptyWindows: number }>;
  drain(): Promise<void>;
}

/** Rows deleted (or that would be) of one purpose, by the region of the request that wrote them (null: written before regions were recorded). */
export interface PurgedCount {
  region: string | null;
  purpose: string;
  n: number;
}

/** A purpose's window as the policy has it now (0: the purpose keeps no interactions). */
export interface PurposeWindow {
  purpose: string;
  window: number;
}

/** A ring head's key: the purge walk's cursor. */
export interface RingKey {
  subjectId: string;
  purpose: string;
}

export interface InteractionStoreOptions {
  maxBatch?: number;
  concurrency?: number;
  /** Where each batch's size and each record's wait are told. Default: nowhere. */
  metrics?: Pick<GateMetrics, "recordBatch" | "recorded">;
}

export function createInteractionStore(
  connection: Connection,
  options: InteractionStoreOptions = {},
): InteractionStore {
  const metrics = options.metrics ?? silentMetrics;
  const commit = createGroupCommit<Queued, true>({
    maxBatch: options.maxBatch ?? 256,
    // PGlite has one connection: a second batch in flight would only queue behind the first.
    concurrency: options.concurrency ?? (connection.kind === "postgres" ? 2 : 1),
    flush: (rows) => {
      metrics.recordBatch(rows.length);
      return writeBatch(connection, rows);
    },
  });
  return {
    async record(row) {
      const json = JSON.stringify(row.data);
      if (unstorableJson(json) || unstorableText(row.subjectId)) {
        throw new ConsentgateError("invalid_body", UNSTORABLE_TEXT, { purpose: row.purpose });
      }
      const queued = performance.now();
      try {
        await commit.add({ ...row, json });
      } finally {
        metrics.recorded((performance.now() - queued) / 1000);
      }
    },
    async recent(subjectId, purpose, { limit, now }) {
      const rows = await connection.query<InteractionRow>(
        RECENT_SQL,
        [subjectId, purpose, now.toISOString(), limit],
        "consentgate_recent",
      );
      return rows.map(toInteraction);
    },
    async forSubject(subjectId, { now, purpose }) {
      const rows = await connection.prisma.interaction.findMany({
        where: { subjectId, expiresAt: { gt: now }, ...(purpose === undefined ? {} : { purpose }) },
        orderBy: [{ purpose: "asc" }, { seq: "desc" }],
      });
      return rows.map(toInteraction);
    },
    async countByPurpose({ subjectId, unexpiredAt } = {}) {
      if (subjectId !== undefined && unexpiredAt !== undefined) {
        const held = await connection.query<{ purpose: string; n: number }>(
          HELD_SQL,
          [subjectId, unexpiredAt.toISOString()],
          "consentgate_held",
        );
        return Object.fromEntries(held.map((g) => [g.purpose, g.n]));
      }
      const groups = await connection.prisma.interaction.groupBy({
        by: ["purpose"],
        _count: { _all: true },
        where: {
          ...(subjectId === undefined ? {} : { subjectId }),
          ...(unexpiredAt === undefined ? {} : { expiresAt: { gt: unexpiredAt } }),
        },
      });
      return Object.fromEntries(groups.map((g) => [g.purpose, g._count._all]));
    },
    deleteExpired: (now, limit) => connection.query<PurgedCount>(EXPIRED_SQL, [now.toISOString(), limit]),
    async deleteOutsideWindows(after, limit, windows) {
      const rows = await connection.query<RingRow>(RINGS_SQL, [
        after.subjectId,
        after.purpose,
        limit,
        ...windowParams(windows),
      ]);
      const last = rows.find((r) => r.lastSubject !== null);
      return {
        deleted: rows.filter((r) => r.lastSubject === null).map(({ region, purpose, n }) => ({ region, purpose, n })),
        emptied: last?.n ?? 0,
        next: last === undefined ? undefined : { subjectId: last.lastSubject!, purpose: last.purpose },
      };
    },
    async countPurgeable(now, windows) {
      const at = now.toISOString();
      const rows = await connection.query<{
        region: string | null;
        purpose: string;
        expired: number;
        outOfWindow: number;
      }>(DRY_RUN_SQL, [at, ...windowParams(windows)]);
      const [heads] = await connection.query<{ n: number }>(DRY_RUN_HEADS_SQL, [at, ...windowParams(windows)]);
      return {
        expired: rows.filter((r) => r.expired > 0).map((r) => ({ region: r.region, purpose: r.purpose, n: r.expired })),
        outOfWindow: rows
          .filter((r) => r.outOfWindow > 0)
          .map((r) => ({ region: r.region, purpose: r.purpose, n: r.outOfWindow })),
        emptyWindows: heads!.n,
      };
    },
    drain: () => commit.drain(),
  };
}

/**
 * In a transaction that erases (a withdrawal with onWithdrawal: purge, an
 * erasure): deletes the subject's interactions and ring heads, of one
 * purpose or of all; answers how many rows went from each table.
 */
export async function deleteSubjectInteractionsInTransaction(
  tx: Prisma.TransactionClient,
  subjectId: string,
  purpose?: string,
): Promise<{ interactions: number; interactionWindows: number }> {
  const where = purpose === undefined ? { subjectId } : { subjectId, purpose };
  return {
    interactions: (await tx.interaction.deleteMany({ where })).count,
    interactionWindows: (await tx.interactionWindow.deleteMany({ where })).count,
  };
}

/**
 * Who may be counted in an insight release, and what is counted: the
 * purpose's unexpired rows, the key at `keyPath` in their data, each
 * subject's region taken from their newest such row. A subject counts when
 * their current choice for the purpose, in that region, allows it: the
 * region lists are worked out from the decision rules by the caller
 * (src/decision/insight-subjects.ts); consent_state is read here only
 * through this join, as the record batch's re-check reads it.
 */
export interface KeyCountSpec {
  purpose: string;
  /** The key's path in the stored data, e.g. ["itemId"]. */
  keyPath: readonly string[];
  /** Rows that expire after this count. */
  now: Date;
  /** The region a row without one (or with one the policy no longer has) counts under. */
  defaultRegion: string;
  /** The regions the policy defines. */
  regions: readonly string[];
  /** Regions where a subject with no choice is counted; with a grant; with a grant that overrides GPC; with a withdrawal. */
  allowedWith: {
    none: readonly string[];
    granted: readonly string[];
    override: readonly string[];
    withdrawn: readonly string[];
  };
  /** The most distinct keys one subject adds (l0). */
  maxKeys: number;
  /**
   * A fresh random salt (node:crypto) for this release: each subject's keys
   * are ordered by md5(salt, subject, key) and the first maxKeys kept, a
   * sample of their keys that is uniform for each subject and independent
   * between subjects and between releases.
   */
  salt: string;
}

// One statement: the distinct subjects per key, each subject bounded to
// maxKeys keys. Its answer is the raw count, which only src/store/insights.ts
// sees, inside the release's transaction.
//
// One sort of the live rows, by subject and then by the sampling order
// md5(salt, subject, key) (key to break a tie, so that a key's rows are
// adjacent), and the windows over it do the rest: the subject's region is
// that of its newest row (the arg-max of seq, as a string whose prefix sorts
// like seq: its sign bit flipped, in 16 hex digits); dense_rank numbers the
// subject's distinct keys in sampling order (NULL keys sort last, so they
// never take a place); lag keeps each key once. The subjects whose choice
// allows the purpose are joined last, on the kept rows only. The first
// version sorted the 5 000 000 rows of the bench three times (newest row per
// subject, distinct pairs, sampling order), each spilling to disk, and joined
// them back: 3.68 × a plain count(DISTINCT "subjectId") GROUP BY key of the
// same rows; this one 2.23 × (`npm run bench -- insights`, 2026-11-30, one run
// each on a loaded machine, medians of 3 rounds). Comparisons in "C": only equality
// of subjects and the order of md5's hex digits matter, and "C" compares
// bytes instead of running the locale's rules.
const KEY_COUNTS_SQL = `
WITH live AS (
  SELECT "subjectId", data #>> $2::text[] AS key, CASE WHEN region = ANY ($5::text[]) THEN region ELSE $4 END AS region, seq
  FROM interactions WHERE purpose = $1 AND "expiresAt" > $3
),
ranked AS (
  SELECT "subjectId", key,
    substr(max(lpad(to_hex(seq # (-9223372036854775808)::bigint), 16, '0') || region) OVER subject, 17) AS region,
    dense_rank() OVER sampling AS n,
    lag(key) OVER sampling AS previous
  FROM live
  WINDOW subject AS (PARTITION BY "subjectId" COLLATE "C"),
    sampling AS (subject ORDER BY md5($10 || "subjectId" || chr(31) || key) COLLATE "C", key COLLATE "C")
)
SELECT r.key, count(*)::int AS count FROM ranked r
LEFT JOIN consent_state c ON c."subjectId" = r."subjectId" AND c.purpose = $1
WHERE r.key IS NOT NULL AND r.n <= $11 AND r.previous IS DISTINCT FROM r.key AND CASE
    WHEN c."subjectId" IS NULL THEN r.region = ANY ($6::text[])
    WHEN c.granted AND c."overrideGpc" THEN r.region = ANY ($8::text[])
    WHEN c.granted THEN r.region = ANY ($7::text[])
    ELSE r.region = ANY ($9::text[])
  END
GROUP BY r.key`;

/** In an insight release's transaction: distinct allowed subjects per key (see KeyCountSpec). */
export async function countKeysInTransaction(
  tx: Prisma.TransactionClient,
  spec: KeyCountSpec,
): Promise<Map<string, number>> {
  const rows = await tx.$queryRawUnsafe<{ key: string; count: number }[]>(
    KEY_COUNTS_SQL,
    spec.purpose,
    spec.keyPath,
    spec.now,
    spec.defaultRegion,
    spec.regions,
    spec.allowedWith.none,
    spec.allowedWith.granted,
    spec.allowedWith.override,
    spec.allowedWith.withdrawn,
    spec.salt,
    spec.maxKeys,
  );
  return new Map(rows.map((row) => [row.key, row.count]));
}

// The reads made per request: recent() (req.privacy.recent) and what the
// privacy center says is held (countByPurpose with a subject and a time;
// gate.store's counts, a host's own reports, stay with Prisma). Prepared
// statements: the Prisma client's own work per query (building it, mapping
// its rows) took several times what these index lookups take. Measured with
// `npm run bench -- reads`: time per read against the Prisma call each
// replaced, same run, same rows (1 000 subjects, a ring of 50 rows, 45
// unexpired, per subject and purpose), one caller / 20 callers at once:
//   recent(), limit 50   PostgreSQL 0.23 / 0.21 of Prisma's time, PGlite 0.32 / 0.41
//   held per purpose     PostgreSQL 0.19 / 0.15, PGlite 0.17 / 0.10
// Their generic plans, even one made on empty tables, find the subject's
// rows through the primary key (EXPLAIN EXECUTE under plan_cache_mode =
// force_generic_plan, on both databases).

/** The columns toInteraction reads, under its names; timestamps parse to Date and data to its JSON value on both databases. */
type InteractionRow = Parameters<typeof toInteraction>[0];

const RECENT_SQL = `
SELECT purpose, kind, data, "createdAt", "expiresAt", source, "receiptId", "legalBasis", "policyVersion"
FROM interactions
WHERE "subjectId" = $1 AND purpose = $2 AND "expiresAt" > $3
ORDER BY seq DESC
LIMIT $4`;

const HELD_SQL = `
SELECT purpose, count(*)::int AS n
FROM interactions
WHERE "subjectId" = $1 AND "expiresAt" > $2
GROUP BY purpose`;

// The purge job's statements (src/jobs/purge.ts says what each pass is for).
// Hand-written for their plans, which Prisma cannot shape: they delete by
// ctid, found through the expiresHour index and per-ring index lookups, in
// batches that commit one by one. Measured (README: Benchmarks, `npm run
// bench -- purge`): 1 000 000 expired rows on PostgreSQL in 6.5 s in batches
// of 5 000 while 20 writers keep calling record(), their p99 3.1 → 8.1 ms.

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

/** The purposes' windows as the statements take them: names, then windows. */
const windowParams = (windows: readonly PurposeWindow[]) => [
  windows.map((w) => w.purpose),
  windows.map((w) => w.window),
];

type Queued = NewInteraction & { json: string };

/** One row of the batch statement's result: a row refused, or a ring waiting to be reshaped. */
type Outcome = { ord: number; subjectId: null; purpose: null } | { ord: null; subjectId: string; purpose: string };

const ringKey = (r: { subjectId: string; purpose: string }) => `${r.subjectId}\u0000${r.purpose}`;

async function writeBatch(connection: Connection, rows: Queued[]): Promise<(true | Error)[]> {
  const refused = new Set<number>();
  // Rows a later row of the same batch would overwrite at once are applied
  // in order by keeping only the newest `window` per ring: one statement
  // cannot update the same slot twice.
  const keep = newestPerWindow(rows);
  const first = await writeAllowed(rows, keep, refused, (indexes) =>
    retried(() =>
      connection.query<Outcome>(
        BATCH_SQL,
        batchOf(rows, indexes, connection.kind === "postgres"),
        "consentgate_record_batch",
      ),
    ),
  );
  const stored = new Set(first.written);
  // Rare (a window changed): reshape the rings and write their rows in one
  // transaction that holds the rings' heads, so no other write reshapes them
  // in between. Its failure fails only these rows: the others are committed.
  let reshapeFailure: unknown;
  if (first.waiting.length > 0) {
    try {
      const again = await retried(() =>
        connection.transaction(async (tx) => {
          // The subjects' write locks before the heads' row locks, in the order
          // every writer takes them, so a withdrawal waiting on one cannot deadlock us.
          await lockSubjectsShared(tx, [...new Set(first.waiting.map((i) => rows[i]!.subjectId))]);
          await reshapeRings(tx, ringsOf(first.waiting.map((i) => rows[i]!)));
          return writeAllowed(rows, first.waiting, refused, (indexes) =>
            tx.query<Outcome>(BATCH_SQL, batchOf(rows, indexes, connection.kind === "postgres")),
          );
        }),
      );
      for (const i of again.written) stored.add(i);
    } catch (error) {
      reshapeFailure = error;
    }
  }
  // A row overwritten within its own batch counts as written (and displaced,
  // as if the rows had gone one by one) when its ring's newer rows were stored.
  const storedRings = new Set([...stored].map((i) => ringKey(rows[i]!)));
  const keptSet = new Set(keep);
  const failedRings = new Set(reshapeFailure === undefined ? [] : first.waiting.map((i) => ringKey(rows[i]!)));
  return rows.map((r, i) => {
    if (stored.has(i) || (!keptSet.has(i) && storedRings.has(ringKey(r)))) return true;
    if (failedRings.has(ringKey(r)))
      return reshapeFailure instanceof Error ? reshapeFailure : new Error(String(reshapeFailure));
    return new ConsentgateError(
      "consent_required",
      `consent for "${r.purpose}" was withdrawn or the subject's data erased before this write committed; nothing was stored`,
      {
        purpose: r.purpose,
      },
    );
  });
}

/**
 * Runs the batch statement for the rows at `indexes`. A batch with a refused
 * row writes nothing, so it goes again without the rows refused (adding them
 * to `refused`) until no row is: each round drops at least one row.
 */
async function writeAllowed(
  rows: Queued[],
  indexes: number[],
  refused: Set<number>,
  run: (indexes: number[]) => Promise<Outcome[]>,
): Promise<{ written: number[]; waiting: number[] }> {
  for (let pending = indexes; pending.length > 0; pending = pending.filter((i) => !refused.has(i))) {
    const outcomes = await run(pending);
    const newlyRefused = outcomes.flatMap((o) => (o.ord === null ? [] : [o.ord]));
    if (newlyRefused.length > 0) {
      for (const i of newlyRefused) refused.add(i);
      continue;
    }
    const waitingRings = new Set(outcomes.flatMap((o) => (o.ord === null ? [ringKey(o)] : [])));
    const waits = (i: number) => waitingRings.has(ringKey(rows[i]!));
    return { written: pending.filter((i) => !waits(i)), waiting: pending.filter(waits) };
  }
  return { written: [], waiting: [] };
}

/**
 * The batch statement's parameters: the rows at `indexes` as a JSON array,
 * times in epoch milliseconds, each numbered k of n within its ring; and
 * the batch's subjects, whose write locks it takes first (a separate array,
 * so the lock step does not parse the whole document). PGlite gets none: it
 * runs one statement or transaction at a time, so a batch cannot interleave
 * with a withdrawal there, and the locks would only cost time.
 */
function batchOf(rows: Queued[], indexes: number[], locks: boolean): [string, string[]] {
  const perRing = new Map<string, number>();
  const places = indexes.map((i) => {
    const key = ringKey(rows[i]!);
    const k = (perRing.get(key) ?? 0) + 1;
    perRing.set(key, k);
    return { key, k };
  });
  const parts = indexes.map((i, at) => {
    const r = rows[i]!;
    const { key, k } = places[at]!;
    return (
      `{"subject":${JSON.stringify(r.subjectId)},"purpose":${JSON.stringify(r.purpose)},"win":${r.window},"kind":${JSON.stringify(r.kind)},` +
      `"data":${r.json},"created":${r.createdAt.getTime()},"expires":${r.expiresAt.getTime()},"receipt":${JSON.stringify(r.receiptId ?? null)},` +
      `"source":${JSON.stringify(r.source)},"basis":${JSON.stringify(r.legalBasis)},"version":${JSON.stringify(r.policyVersion)},` +
      `"decided":${r.decidedAt.getTime()},"ord":${i},"region":${JSON.stringify(r.region ?? null)},"k":${k},"n":${perRing.get(key)}}`
    );
  });
  return [`[${parts.join(",")}]`, locks ? [...new Set(indexes.map((i) => rows[i]!.subjectId))] : []];
}

/** Runs a statement or transaction again (up to 3 times) after a RETRYABLE failure. */
async function retried<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= 3 || !RETRYABLE.has((error as { code?: string }).code ?? "")) throw error;
    }
  }
}

/** Each ring once, with the window the batch statement gives it (the largest among its rows). */
function ringsOf(rows: NewInteraction[]): Ring[] {
  const rings = new Map<string, Ring>();
  for (const r of rows) {
    const key = ringKey(r);
    const window = Math.max(r.window, rings.get(key)?.window ?? 0);
    rings.set(key, { subjectId: r.subjectId, purpose: r.purpose, window });
  }
  return [...rings.values()];
}

function newestPerWindow(rows: NewInteraction[]): number[] {
  const seen = new Map<string, number>();
  const keep: number[] = [];
  for (let i = rows.length - 1; i >= 0; i--) {
    const r = rows[i]!;
    const key = ringKey(r);
    const n = seen.get(key) ?? 0;
    if (n < r.window) keep.push(i);
    seen.set(key, n + 1);
  }
  return keep.reverse();
}
