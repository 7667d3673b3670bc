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
 */
import type { Connection } from "./connection.ts";
import { createGroupCommit } from "./group-commit.ts";
import { reshapeRings, type Ring } from "./reshape.ts";
import { LOCK_SUBJECTS_SQL } from "./write-lock.ts";
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
   * Rows physically held per purpose (expired ones the purge job has not
   * removed yet included): for one subject, or for everyone.
   */
  countByPurpose(subjectId?: string): Promise<Record<string, number>>;
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
    async countByPurpose(subjectId) {
      const groups = await connection.prisma.interaction.groupBy({ by: ["purpose"], _count: { _all: true }, ...(subjectId === undefined ? {} : { where: { subjectId } }) });
      return Object.fromEntries(groups.map((g) => [g.purpose, g._count._all]));
    },
    drain: () => commit.drain(),
  };
}

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
    retried(() => connection.query<Outcome>(BATCH_SQL, batchOf(rows, indexes, connection.kind === "postgres"), "consentgate_record_batch")),
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
          await tx.query(LOCK_SUBJECTS_SQL, [[...new Set(first.waiting.map((i) => rows[i]!.subjectId))], false]);
          await reshapeRings(tx, ringsOf(first.waiting.map((i) => rows[i]!)));
          return writeAllowed(rows, first.waiting, refused, (indexes) => tx.query<Outcome>(BATCH_SQL, batchOf(rows, indexes, connection.kind === "postgres")));
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
    if (failedRings.has(ringKey(r))) return reshapeFailure instanceof Error ? reshapeFailure : new Error(String(reshapeFailure));
    return new ConsentgateError("consent_required", `consent for "${r.purpose}" was withdrawn or the subject's data erased before this write committed; nothing was stored`, {
      purpose: r.purpose,
    });
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
