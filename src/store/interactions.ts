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
 * erasure never resurrects data; such rows are refused, not claimed.
 */
import type { Connection } from "./connection.ts";
import { createGroupCommit } from "./group-commit.ts";
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
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::jsonb[], $6::timestamptz[], $7::timestamptz[],
                       $8::uuid[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::int[], $14::text[])
    AS t(subject, purpose, win, kind, data, created, expires, receipt, source, basis, version, decided, ord, region)
),
admitted AS (
  SELECT i.* FROM input i
  LEFT JOIN consent_state c ON c."subjectId" = i.subject AND c.purpose = i.purpose
  WHERE (CASE WHEN i.receipt IS NULL THEN c.granted IS NOT FALSE ELSE c."receiptId" = i.receipt AND c.granted END)
    AND NOT EXISTS (SELECT 1 FROM privacy_requests r
                    WHERE r."subjectId" = i.subject AND r.type = 'erasure' AND r."receivedAt" >= i.decided)
),
counts AS (
  SELECT subject, purpose, max(win) AS win, count(*)::bigint AS n FROM admitted GROUP BY subject, purpose
),
heads AS (
  INSERT INTO interaction_windows ("subjectId", purpose, "nextSeq")
  SELECT subject, purpose, n FROM counts ORDER BY subject, purpose
  ON CONFLICT ("subjectId", purpose) DO UPDATE SET "nextSeq" = interaction_windows."nextSeq" + excluded."nextSeq"
  RETURNING "subjectId" AS subject, purpose, "nextSeq"
),
numbered AS (
  SELECT a.*, h."nextSeq" - c.n + row_number() OVER (PARTITION BY a.subject, a.purpose ORDER BY a.ord) - 1 AS seq
  FROM admitted a
  JOIN counts c ON c.subject = a.subject AND c.purpose = a.purpose
  JOIN heads h ON h.subject = a.subject AND h.purpose = a.purpose
),
written AS (
  INSERT INTO interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", "receiptId", source, "legalBasis", "policyVersion", region)
  SELECT subject, purpose, (seq % win)::int, seq, kind, data, created, expires, receipt, source, basis, version, region FROM numbered
  ON CONFLICT ("subjectId", purpose, slot) DO UPDATE SET
    seq = excluded.seq, kind = excluded.kind, data = excluded.data, "createdAt" = excluded."createdAt",
    "expiresAt" = excluded."expiresAt", "receiptId" = excluded."receiptId", source = excluded.source,
    "legalBasis" = excluded."legalBasis", "policyVersion" = excluded."policyVersion", region = excluded.region
  RETURNING 1
),
shrunk AS (
  -- A window made smaller by a new policy: slots past it go now, not at the next purge.
  DELETE FROM interactions x USING counts c
  WHERE x."subjectId" = c.subject AND x.purpose = c.purpose AND x.slot >= c.win
  RETURNING 1
)
SELECT ord FROM numbered, (SELECT count(*) FROM written) w, (SELECT count(*) FROM shrunk) s
`;

/** Deadlocks and serialization failures are safe to retry: the whole batch rolled back. */
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
      // PostgreSQL's jsonb cannot hold U+0000; one such row would fail its whole batch.
      if (json.includes("\\u0000")) {
        throw new ConsentgateError("invalid_body", "text fields cannot contain the NUL character (U+0000)", { purpose: row.purpose });
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

async function writeBatch(connection: Connection, rows: Queued[]): Promise<(true | Error)[]> {
  // Rows a later row of the same batch would overwrite at once are applied
  // in order by keeping only the newest `window` per ring: one statement
  // cannot update the same slot twice.
  const keep = newestPerWindow(rows);
  const columns: unknown[][] = Array.from({ length: 14 }, () => []);
  for (const i of keep) {
    const r = rows[i]!;
    const values = [
      r.subjectId, r.purpose, r.window, r.kind, r.json, r.createdAt.toISOString(), r.expiresAt.toISOString(),
      r.receiptId ?? null, r.source, r.legalBasis, r.policyVersion, r.decidedAt.toISOString(), i, r.region ?? null,
    ];
    values.forEach((v, c) => columns[c]!.push(v));
  }
  let result: { ord: number }[] | undefined;
  for (let attempt = 0; result === undefined; attempt++) {
    try {
      result = await connection.query<{ ord: number }>(BATCH_SQL, columns, "consentgate_record_batch");
    } catch (error) {
      if (attempt >= 3 || !RETRYABLE.has((error as { code?: string }).code ?? "")) throw error;
    }
  }
  const stored = new Set(result.map((r) => r.ord));
  const ringKey = (r: NewInteraction) => `${r.subjectId}\u0000${r.purpose}`;
  // A row overwritten within its own batch counts as written (and displaced,
  // as if the rows had gone one by one) when its ring's newer rows were stored.
  const storedRings = new Set([...stored].map((i) => ringKey(rows[i]!)));
  const keptSet = new Set(keep);
  return rows.map((r, i) => {
    if (stored.has(i) || (!keptSet.has(i) && storedRings.has(ringKey(r)))) return true;
    return new ConsentgateError("consent_required", `consent for "${r.purpose}" was withdrawn or the subject's data erased before this write committed; nothing was stored`, {
      purpose: r.purpose,
    });
  });
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
