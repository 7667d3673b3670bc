/**
 * Consent choices: an append-only event history plus the current state per
 * (subject, purpose), written together in one transaction. The state table
 * is derived (it always equals the latest event), kept so that the gate reads
 * one small row set instead of scanning history. Every query on
 * `consent_events` and `consent_state` is here, and so is the one NOTIFY that
 * tells other instances a subject's choices changed.
 */
import { appendLogEntry, type PendingLogEntry } from "./compliance-log.ts";
import type { Choice } from "../decision/decide.ts";
import type { Connection } from "./connection.ts";
import { deleteSubjectUpdatesInTransaction } from "./learning.ts";
import { deleteSubjectInteractionsInTransaction } from "./interactions.ts";
import { lockSubjectForChange } from "./write-lock.ts";
import type { ConsentEvent, Prisma } from "../generated/prisma/client.ts";

/** Where consent changes are announced on PostgreSQL (LISTEN/NOTIFY). */
export const CONSENT_CHANNEL = "consentgate_consent";

export interface ConsentEventRecord {
  id: string;
  subjectId: string;
  purpose: string;
  granted: boolean;
  overrideGpc: boolean;
  gpc: boolean;
  region: string;
  policyVersion: string;
  actorId: string | undefined;
  signature: string;
  /** The Ed25519 key the receipt was signed with (absent or null: the secret's HMAC, before Ed25519). */
  kid?: string | null;
  at: Date;
}

export interface SaveChoiceOptions {
  purgeInteractions: boolean;
  /**
   * The compliance log entry that commits with the choice or not at all,
   * made once the number of interactions erased is known.
   */
  logged?: (outcome: { erased: number }) => PendingLogEntry;
}

/**
 * Records a choice. With `purgeInteractions`, a withdrawal erases the
 * purpose's interactions in the same transaction, so no reader ever sees the
 * withdrawal without the erasure. Returns how many interactions were erased.
 * (An interactive transaction: the log entry is built from the erased count.
 * Nothing outside it is awaited inside it, so PGlite cannot deadlock.)
 */
export async function saveChoice(
  connection: Connection,
  event: ConsentEventRecord,
  options: SaveChoiceOptions,
): Promise<{ erased: number }> {
  const { subjectId, purpose } = event;
  const erase = options.purgeInteractions && !event.granted;
  return connection.prisma.$transaction(
    async (tx) => {
      // First, so that record() batches in flight for the subject either commit
      // before this (and are erased below) or wait and see the new choice.
      await lockSubjectForChange(tx, subjectId);
      await tx.consentEvent.create({ data: { ...event, actorId: event.actorId ?? null } });
      await tx.consentState.upsert({
        where: { subjectId_purpose: { subjectId, purpose } },
        create: {
          subjectId,
          purpose,
          granted: event.granted,
          overrideGpc: event.overrideGpc,
          receiptId: event.id,
          policyVersion: event.policyVersion,
          updatedAt: event.at,
        },
        update: {
          granted: event.granted,
          overrideGpc: event.overrideGpc,
          receiptId: event.id,
          policyVersion: event.policyVersion,
          updatedAt: event.at,
        },
      });
      // What was collected under the consent: stored interactions, and federated updates not yet aggregated.
      const erased = erase
        ? (await deleteSubjectInteractionsInTransaction(tx, subjectId, purpose)).interactions +
          (await deleteSubjectUpdatesInTransaction(tx, subjectId, purpose))
        : 0;
      await announceChoicesChanged(connection, tx, subjectId);
      // Last: it locks the region's log head until the commit.
      if (options.logged) await appendLogEntry(tx, options.logged({ erased }));
      return { erased };
    },
    // Choices of one region queue on its log head; give them time to.
    { maxWait: 10_000, timeout: 10_000 },
  );
}

/**
 * In a transaction that changes a subject's choices (saveChoice, an
 * erasure): tells every listening instance to drop its cached choices for
 * the subject (src/store/consent-cache.ts), delivered when (and only if) the
 * transaction commits. PostgreSQL only: on PGlite there is one process.
 */
export async function announceChoicesChanged(
  connection: Pick<Connection, "kind">,
  tx: Prisma.TransactionClient,
  subjectId: string,
): Promise<void> {
  if (connection.kind === "postgres") await tx.$executeRaw`SELECT pg_notify(${CONSENT_CHANNEL}, ${subjectId})`;
}

/** In an erasure's transaction: deletes the subject's consent history and state; answers how many rows went. */
export async function deleteSubjectConsentsInTransaction(
  tx: Prisma.TransactionClient,
  subjectId: string,
): Promise<{ consentEvents: number; consentState: number }> {
  return {
    consentEvents: (await tx.consentEvent.deleteMany({ where: { subjectId } })).count,
    consentState: (await tx.consentState.deleteMany({ where: { subjectId } })).count,
  };
}

/** A subject with no choice on record: most people, so one shared, frozen answer. */
export const NO_CHOICES: ReadonlyMap<string, Choice> = new Map<string, Choice>();

// One prepared statement for every choice read: the gate's cache misses come
// in batches (src/store/consent-cache.ts) and a single subject is a batch of
// one. Prisma's findMany cost about 1 ms of CPU per call here, more than the
// database's own work, and could not read many subjects in one round trip.
const CHOICES_SQL = `SELECT "subjectId", purpose, granted, "overrideGpc", "receiptId", "updatedAt"
FROM consent_state WHERE "subjectId" = ANY ($1::text[])`;

interface ChoiceRow {
  subjectId: string;
  purpose: string;
  granted: boolean;
  overrideGpc: boolean;
  receiptId: string;
  updatedAt: Date;
}

/**
 * The latest choice per purpose of each subject, in one query: subjects with
 * no choice are absent from the answer (callers use NO_CHOICES for them).
 */
export async function loadChoicesOf(
  connection: Pick<Connection, "query">,
  subjectIds: readonly string[],
): Promise<Map<string, Map<string, Choice>>> {
  const rows = await connection.query<ChoiceRow>(CHOICES_SQL, [subjectIds], "consentgate_choices");
  const bySubject = new Map<string, Map<string, Choice>>();
  for (const row of rows) {
    let choices = bySubject.get(row.subjectId);
    if (choices === undefined) bySubject.set(row.subjectId, (choices = new Map()));
    choices.set(row.purpose, {
      granted: row.granted,
      overrideGpc: row.overrideGpc,
      receiptId: row.receiptId,
      at: row.updatedAt,
    });
  }
  return bySubject;
}

/** One subject's latest choice per purpose. */
export async function loadChoices(
  connection: Pick<Connection, "query">,
  subjectId: string,
): Promise<ReadonlyMap<string, Choice>> {
  return (await loadChoicesOf(connection, [subjectId])).get(subjectId) ?? NO_CHOICES;
}

/**
 * One choice as `gate.store.consents.history()` returns it: our own shape,
 * mapped from the row, so that a column renamed in the schema is a compile
 * error here rather than a silent change to the public API.
 *
 * @example
 * ```ts
 * import type { ConsentRecord } from "consentgate";
 *
 * const history: ConsentRecord[] = await gate.store.consents.history("alice");
 * const byAgents = history.filter((record) => record.actorId !== null && record.actorId !== record.subjectId);
 * ```
 */
export interface ConsentRecord {
  /** The choice's id: the id of the receipt handed out for it. */
  id: string;
  /** Whose choice it is. */
  subjectId: string;
  /** The purpose it is about. */
  purpose: string;
  /** true: a grant; false: a withdrawal or a refusal. */
  granted: boolean;
  /** A grant given while the browser sent Sec-GPC: 1, after the subject was told of the conflict; it wins over GPC. */
  overrideGpc: boolean;
  /** The browser sent Sec-GPC: 1 when the choice was made. */
  gpc: boolean;
  /** The policy region the choice was made in. */
  region: string;
  /** The version of the policy in force when the choice was made. */
  policyVersion: string;
  /** Who made the choice: the subject's own id, or the agent who acted for them; null when none was recorded. */
  actorId: string | null;
  /** The receipt's signature, as handed out when the choice was made. */
  signature: string;
  /** The key that signature was made with, as `GET /keys` names it; null for a receipt signed with the secret's HMAC. */
  kid: string | null;
  /** When the choice was made. */
  at: Date;
}

const consentRecord = (row: ConsentEvent): ConsentRecord => ({
  id: row.id,
  subjectId: row.subjectId,
  purpose: row.purpose,
  granted: row.granted,
  overrideGpc: row.overrideGpc,
  gpc: row.gpc,
  region: row.region,
  policyVersion: row.policyVersion,
  actorId: row.actorId,
  signature: row.signature,
  kid: row.kid,
  at: row.at,
});

/** The full history of a subject's choices, oldest first, in one read (gate.store; exports page through consentEvents). */
export async function consentHistory(connection: Connection, subjectId: string): Promise<ConsentRecord[]> {
  const rows = await connection.prisma.consentEvent.findMany({ where: { subjectId }, orderBy: { seq: "asc" } });
  return rows.map(consentRecord);
}

// A subject's history read a page at a time: every choice is kept (the
// receipts prove what was agreed), so one person's history can be long;
// exports stream it page by page and the privacy center reads only its
// newest entries.

/** Rows per query: a page of receipts is some 200 kB of JSON. */
export const HISTORY_PAGE = 500;

/** Every consent event of the subject, oldest first, fetched HISTORY_PAGE at a time (keyset on seq). */
export async function* consentEvents(
  connection: Connection,
  subjectId: string,
  pageSize = HISTORY_PAGE,
): AsyncGenerator<ConsentEvent> {
  let after: bigint | undefined;
  for (;;) {
    const page = await connection.prisma.consentEvent.findMany({
      where: { subjectId, ...(after === undefined ? {} : { seq: { gt: after } }) },
      orderBy: { seq: "asc" },
      take: pageSize,
    });
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.seq;
  }
}

/**
 * What the privacy center lists on every visit: one prepared statement, the
 * page of events with the count beside it (a scalar subquery, run once; no
 * row when the subject has no events, so the total is then 0). It was a
 * Prisma findMany and count, two queries each costing more in the Prisma
 * client than in the database. Measured with `npm run bench -- reads` (40
 * events per subject, the newest 20; time per read against the Prisma pair,
 * same run, one caller / 20 callers at once):
 *   PostgreSQL 0.12 / 0.14 of Prisma's time, PGlite 0.27 / 0.20
 * Both parts find the subject's rows through the (subjectId, purpose, at)
 * index, in a generic plan too (EXPLAIN under force_generic_plan).
 * `seq` is bigint as the row type has it (pg answers int8 as text, PGlite as a
 * number), so it travels as text, under another name: `ORDER BY seq` would
 * otherwise sort by the output column, the text.
 */
const LATEST_EVENTS_SQL = `
SELECT id, seq::text AS "seqText", "subjectId", purpose, granted, "overrideGpc", gpc, region, "policyVersion", "actorId",
       signature, kid, at, (SELECT count(*)::int FROM consent_events WHERE "subjectId" = $1) AS total
FROM consent_events
WHERE "subjectId" = $1
ORDER BY seq DESC
LIMIT $2`;

/** The subject's newest `limit` consent events, newest first, and how many there are in all. */
export async function latestConsentEvents(
  connection: Connection,
  subjectId: string,
  limit: number,
): Promise<{ events: ConsentEvent[]; total: number }> {
  const rows = await connection.query<Omit<ConsentEvent, "seq"> & { seqText: string; total: number }>(
    LATEST_EVENTS_SQL,
    [subjectId, limit],
    "consentgate_latest_consent_events",
  );
  return {
    events: rows.map((r) => ({
      id: r.id,
      seq: BigInt(r.seqText),
      subjectId: r.subjectId,
      purpose: r.purpose,
      granted: r.granted,
      overrideGpc: r.overrideGpc,
      gpc: r.gpc,
      region: r.region,
      policyVersion: r.policyVersion,
      actorId: r.actorId,
      signature: r.signature,
      kid: r.kid,
      at: r.at,
    })),
    total: rows[0]?.total ?? 0,
  };
}

/**
 * The consent tables as the layers above use them: bound to one open store,
 * so that the rights endpoints, the privacy center and `gate.store` are
 * handed this interface and never the connection itself.
 */
export interface ConsentStore {
  /** Records a choice (see saveChoice). */
  save(event: ConsentEventRecord, options: SaveChoiceOptions): Promise<{ erased: number }>;
  /** The subject's latest choice per purpose. */
  choices(subjectId: string): Promise<ReadonlyMap<string, Choice>>;
  /** The subject's whole history, oldest first, in one read. */
  history(subjectId: string): Promise<ConsentRecord[]>;
  /** The subject's history, oldest first, a page at a time (exports). */
  events(subjectId: string): AsyncGenerator<ConsentEvent>;
  /** The subject's newest `limit` events, newest first, and how many there are. */
  latest(subjectId: string, limit: number): Promise<{ events: ConsentEvent[]; total: number }>;
}

export function createConsentStore(connection: Connection): ConsentStore {
  return {
    save: (event, options) => saveChoice(connection, event, options),
    choices: (subjectId) => loadChoices(connection, subjectId),
    history: (subjectId) => consentHistory(connection, subjectId),
    events: (subjectId) => consentEvents(connection, subjectId),
    latest: (subjectId, limit) => latestConsentEvents(connection, subjectId, limit),
  };
}
