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
 * statement re-checks, inside the database, that the consent which let each
 * row in still stands (same receipt, not withdrawn) and that no erasure was
 * received after the row's decision, so a write racing a withdrawal or an
 * erasure never resurrects data; such rows are refused, not claimed. Each
 * head records the window its ring is shaped for; a row whose window differs
 * (the policy changed it) waits while the ring is reshaped (reshape.ts), then
 * is written.
 *
 * A batch travels as one parameter, a JSON document of its rows with times in
 * epoch milliseconds, and the statement answers only with the rows it did not
 * write. Per-column arrays (pg escapes each element with regular expressions)
 * and a result row per write cost Node about a quarter more per write, and
 * Node's share is half of a batch's time.
 *
 * The statement is prepared once per connection (on PGlite too, see
 * pglite-statements.ts): parsing and planning it cost about as much as
 * running it. A prepared statement soon runs a generic plan, made without the
 * parameters and often while the tables are still empty, so the statement is
 * written to have no plan that scans a whole table: lookups are per-row
 * subqueries, heads and rows meet in a sort instead of a join, and nothing
 * re-reads a CTE per row. (The first version let the generic plan hash-join
 * the whole interactions table on every batch and ran at a third of today's
 * speed once rings were full.)
 */
import type { Connection } from "./connection.ts";
import { createGroupCommit } from "./group-commit.ts";
import { reshapeRings, type Ring } from "./reshape.ts";
import { UNSTORABLE_TEXT, unstorableJson, unstorableText } from "./storable.ts";
import { ConsentgateError } from "../errors.ts";

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

/** An interaction as the host app and exports read it. */
export interface Interaction {
  purpose: string;
  kind: string;
  data: unknown;
  at: Date;
  expiresAt: Date;
  /** Why this row exists: the decision's source, the receipt or legal basis, and the policy version in force. */
  provenance: { source: string; receiptId: string | null; legalBasis: string; policyVersion: string };
}

export function toInteraction(row: {
  purpose: string; kind: string; data: unknown; createdAt: Date; expiresAt: Date;
  source: string; receiptId: string | null; legalBasis: string; policyVersion: string;
}): Interaction {
  return {
    purpose: row.purpose,
    kind: row.kind,
    data: row.data,
    at: row.createdAt,
    expiresAt: row.expiresAt,
    provenance: { source: row.source, receiptId: row.receiptId, legalBasis: row.legalBasis, policyVersion: row.policyVersion },
  };
}

const BATCH_SQL = `
WITH input AS (
  SELECT subject, purpose, win, kind, data, to_timestamp(created / 1000) AS created, to_timestamp(expires / 1000) AS expires,
         receipt, source, basis, version, to_timestamp(decided / 1000) AS decided, ord, region
  FROM json_to_recordset($1::json)
    AS t(subject text, purpose text, win int, kind text, data jsonb, created float8, expires float8,
         receipt uuid, source text, basis text, version text, decided float8, ord int, region text)
),
checked AS (
  -- Still allowed: the consent that let the row in stands and no erasure came
  -- after its decision. The lookups are subqueries that OFFSET 0 keeps per
  -- row, so the generic plan of the prepared statement cannot turn them into
  -- scans of whole tables.
  SELECT i.*, coalesce((SELECT CASE WHEN i.receipt IS NULL THEN c.granted ELSE c.granted AND c."receiptId" = i.receipt END
                  FROM consent_state c WHERE c."subjectId" = i.subject AND c.purpose = i.purpose OFFSET 0),
                 i.receipt IS NULL)
    AND NOT EXISTS (SELECT 1 FROM privacy_requests r
                    WHERE r."subjectId" = i.subject AND r.type = 'erasure' AND r."receivedAt" >= i.decided OFFSET 0) AS ok
  FROM input i
),
admitted AS (SELECT * FROM checked WHERE ok),
counts AS (
  SELECT subject, purpose, max(win) AS win, count(*)::bigint AS n FROM admitted GROUP BY subject, purpose
),
heads AS (
  -- A head moves only if its ring has this window; a ring shaped by another
  -- window (the policy changed it) is left alone, and its rows wait until
  -- reshape.ts has reshaped it.
  INSERT INTO interaction_windows ("subjectId", purpose, "nextSeq", "window")
  SELECT subject, purpose, n, win FROM counts ORDER BY subject, purpose
  ON CONFLICT ("subjectId", purpose) DO UPDATE SET "nextSeq" = interaction_windows."nextSeq" + excluded."nextSeq"
    WHERE interaction_windows."window" = excluded."window"
  RETURNING "subjectId" AS subject, purpose, "nextSeq", "window"
),
sequenced AS (
  -- Each ring's new rows take the sequence numbers just below its head's new
  -- nextSeq. Heads and rows meet in one sort by ring (a UNION ALL under window
  -- functions) rather than a join, whose plan would depend on estimates.
  SELECT * FROM (
    SELECT u.*, max(next) OVER ring AS head, max(hwin) OVER ring AS ringwin,
           max(next) OVER ring - count(ord) OVER ring + row_number() OVER (ring ORDER BY ord) - 1 AS seq
    FROM (SELECT subject, purpose, kind, data, created, expires, receipt, source, basis, version, region, ord,
                 NULL::bigint AS next, NULL::int AS hwin FROM admitted
          UNION ALL
          SELECT subject, purpose, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "nextSeq", "window" FROM heads) u
    WINDOW ring AS (PARTITION BY subject, purpose)
  ) r
  WHERE ord IS NOT NULL
),
written AS (
  INSERT INTO interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", "receiptId", source, "legalBasis", "policyVersion", region)
  SELECT subject, purpose, (seq % ringwin)::int, seq, kind, data, created, expires, receipt, source, basis, version, region
  FROM sequenced WHERE head IS NOT NULL
  ON CONFLICT ("subjectId", purpose, slot) DO UPDATE SET
    seq = excluded.seq, kind = excluded.kind, data = excluded.data, "createdAt" = excluded."createdAt",
    "expiresAt" = excluded."expiresAt", "receiptId" = excluded."receiptId", source = excluded.source,
    "legalBasis" = excluded."legalBasis", "policyVersion" = excluded."policyVersion", region = excluded.region
)
-- Only the rows not written: refused, or waiting for their ring to be reshaped.
SELECT ord, false AS reshape FROM checked WHERE NOT ok
UNION ALL
SELECT ord, true FROM sequenced WHERE head IS NULL
`;

/** Deadlocks and serialization failures: the whole statement or transaction rolled back. */
const RETRYABLE = new Set(["40P01", "40001"]);

export interface InteractionStore {
  /** Stores one interaction; resolves once committed, rejects when refused or the batch failed. */
  record(row: NewInteraction): Promise<void>;
  /** Newest first, never past expiresAt. */
  recent(subjectId: string, purpose: string, options: { limit: number; now: Date }): Promise<Interaction[]>;
  /** Everything held for a subject that has not expired, by purpose (purposes since removed from the policy included), newest first. */
  forSubject(subjectId: string, options: { now: Date; purpose?: string }): Promise<Interaction[]>;
  drain(): Promise<void>;
}

export interface InteractionStoreOptions {
  maxBatch?: number;
  concurrency?: number;
}

export function createInteractionStore(connection: Connection, options: InteractionStoreOptions = {}): InteractionStore {
  const commit = createGroupCommit<Queued, true>({
    maxBatch: options.maxBatch ?? 256,
    // PGlite has one connection: a second batch in flight would only queue behind the first.
    concurrency: options.concurrency ?? (connection.kind === "postgres" ? 2 : 1),
    flush: (rows) => writeBatch(connection, rows),
  });
  return {
    async record(row) {
      const json = JSON.stringify(row.data);
      if (unstorableJson(json) || unstorableText(row.subjectId)) {
        throw new ConsentgateError("invalid_body", UNSTORABLE_TEXT, { purpose: row.purpose });
      }
      await commit.add({ ...row, json });
    },
    async recent(subjectId, purpose, { limit, now }) {
      const rows = await connection.prisma.interaction.findMany({
        where: { subjectId, purpose, expiresAt: { gt: now } },
        orderBy: { seq: "desc" },
        take: limit,
      });
      return rows.map(toInteraction);
    },
    async forSubject(subjectId, { now, purpose }) {
      const rows = await connection.prisma.interaction.findMany({
        where: { subjectId, expiresAt: { gt: now }, ...(purpose === undefined ? {} : { purpose }) },
        orderBy: [{ purpose: "asc" }, { seq: "desc" }],
      });
      return rows.map(toInteraction);
    },
    drain: () => commit.drain(),
  };
}

type Queued = NewInteraction & { json: string };

/** One row of the batch statement's result: a row refused, or waiting for its ring to be reshaped. */
type Outcome = { ord: number; reshape: boolean };

async function writeBatch(connection: Connection, rows: Queued[]): Promise<(true | Error)[]> {
  // Rows a later row of the same batch would overwrite at once are applied
  // in order by keeping only the newest `window` per ring: one statement
  // cannot update the same slot twice.
  const keep = newestPerWindow(rows);
  const outcomes = await retried(() => connection.query<Outcome>(BATCH_SQL, batchOf(rows, keep), "consentgate_record_batch"));
  const notWritten = new Set(outcomes.map((o) => o.ord));
  const stored = new Set(keep.filter((i) => !notWritten.has(i)));
  const waiting = outcomes.filter((o) => o.reshape).map((o) => o.ord);
  // Rare (a window changed): reshape the rings and write their rows in one
  // transaction that holds the rings' heads, so no other write reshapes them
  // in between. Its failure fails only these rows: the others are committed.
  let reshapeFailure: unknown;
  if (waiting.length > 0) {
    try {
      const again = await retried(() =>
        connection.transaction(async (tx) => {
          await reshapeRings(tx, ringsOf(waiting.map((i) => rows[i]!)));
          return tx.query<Outcome>(BATCH_SQL, batchOf(rows, waiting));
        }),
      );
      const refused = new Set(again.map((o) => o.ord));
      for (const i of waiting) if (!refused.has(i)) stored.add(i);
    } catch (error) {
      reshapeFailure = error;
    }
  }
  const ringKey = (r: NewInteraction) => `${r.subjectId}\u0000${r.purpose}`;
  // A row overwritten within its own batch counts as written (and displaced,
  // as if the rows had gone one by one) when its ring's newer rows were stored.
  const storedRings = new Set([...stored].map((i) => ringKey(rows[i]!)));
  const keptSet = new Set(keep);
  const failedRings = new Set(reshapeFailure === undefined ? [] : waiting.map((i) => ringKey(rows[i]!)));
  return rows.map((r, i) => {
    if (stored.has(i) || (!keptSet.has(i) && storedRings.has(ringKey(r)))) return true;
    if (failedRings.has(ringKey(r))) return reshapeFailure instanceof Error ? reshapeFailure : new Error(String(reshapeFailure));
    return new ConsentgateError("consent_required", `consent for "${r.purpose}" was withdrawn or the subject's data erased before this write committed; nothing was stored`, {
      purpose: r.purpose,
    });
  });
}

/** The batch statement's one parameter: the rows at `indexes` as a JSON array (times in epoch milliseconds). */
function batchOf(rows: Queued[], indexes: number[]): [string] {
  const parts: string[] = [];
  for (const i of indexes) {
    const r = rows[i]!;
    parts.push(
      `{"subject":${JSON.stringify(r.subjectId)},"purpose":${JSON.stringify(r.purpose)},"win":${r.window},"kind":${JSON.stringify(r.kind)},` +
        `"data":${r.json},"created":${r.createdAt.getTime()},"expires":${r.expiresAt.getTime()},"receipt":${JSON.stringify(r.receiptId ?? null)},` +
        `"source":${JSON.stringify(r.source)},"basis":${JSON.stringify(r.legalBasis)},"version":${JSON.stringify(r.policyVersion)},` +
        `"decided":${r.decidedAt.getTime()},"ord":${i},"region":${JSON.stringify(r.region ?? null)}}`,
    );
  }
  return [`[${parts.join(",")}]`];
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
    const key = `${r.subjectId}\u0000${r.purpose}`;
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
    const key = `${r.subjectId}\u0000${r.purpose}`;
    const n = seen.get(key) ?? 0;
    if (n < r.window) keep.push(i);
    seen.set(key, n + 1);
  }
  return keep.reverse();
}
