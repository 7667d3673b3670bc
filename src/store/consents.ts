/**
 * Consent choices: an append-only event history plus the current state per
 * (subject, purpose), written together in one transaction. The state table
 * is derived (it always equals the latest event), kept so that the gate reads
 * one small row set instead of scanning history.
 */
import type { Choice } from "../decision/decide.ts";
import type { ConsentEvent, Prisma } from "../generated/prisma/client.ts";
import type { Connection } from "./connection.ts";
import { lockSubjectForChange } from "./write-lock.ts";

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
  at: Date;
}

export interface SaveChoiceOptions {
  purgeInteractions: boolean;
  /**
   * A statement that commits with the choice or not at all: its compliance
   * log entry, which needs the number of interactions erased.
   */
  logged?: (tx: Prisma.TransactionClient, outcome: { erased: number }) => Prisma.PrismaPromise<unknown>;
}

/**
 * Records a choice. With `purgeInteractions`, a withdrawal erases the
 * purpose's interactions in the same transaction, so no reader ever sees the
 * withdrawal without the erasure. Returns how many interactions were erased.
 * (An interactive transaction: the log entry is built from the erased count.
 * Nothing outside it is awaited inside it, so PGlite cannot deadlock.)
 */
export async function saveChoice(connection: Connection, event: ConsentEventRecord, options: SaveChoiceOptions): Promise<{ erased: number }> {
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
        create: { subjectId, purpose, granted: event.granted, overrideGpc: event.overrideGpc, receiptId: event.id, policyVersion: event.policyVersion, updatedAt: event.at },
        update: { granted: event.granted, overrideGpc: event.overrideGpc, receiptId: event.id, policyVersion: event.policyVersion, updatedAt: event.at },
      });
      let erased = 0;
      if (erase) {
        erased = (await tx.interaction.deleteMany({ where: { subjectId, purpose } })).count;
        await tx.interactionWindow.deleteMany({ where: { subjectId, purpose } });
      }
      // Delivered to every listening instance when (and only if) this transaction commits.
      if (connection.kind === "postgres") await tx.$executeRaw`SELECT pg_notify(${CONSENT_CHANNEL}, ${subjectId})`;
      // Last: it locks the region's log head until the commit.
      if (options.logged) await options.logged(tx, { erased });
      return { erased };
    },
    // Choices of one region queue on its log head; give them time to.
    { maxWait: 10_000, timeout: 10_000 },
  );
}

export async function loadChoices(connection: Connection, subjectId: string): Promise<Map<string, Choice>> {
  const rows = await connection.prisma.consentState.findMany({ where: { subjectId } });
  return new Map(rows.map((r) => [r.purpose, { granted: r.granted, overrideGpc: r.overrideGpc, receiptId: r.receiptId, at: r.updatedAt }]));
}

/** The full history of a subject's choices, oldest first, in one read (gate.store; exports page through consentEvents). */
export function consentHistory(connection: Connection, subjectId: string) {
  return connection.prisma.consentEvent.findMany({ where: { subjectId }, orderBy: { seq: "asc" } });
}

// A subject's history read a page at a time: every choice is kept (the
// receipts prove what was agreed), so one person's history can be long;
// exports stream it page by page and the privacy center reads only its
// newest entries.

/** Rows per query: a page of receipts is some 200 kB of JSON. */
export const HISTORY_PAGE = 500;

/** Every consent event of the subject, oldest first, fetched HISTORY_PAGE at a time (keyset on seq). */
export async function* consentEvents(connection: Connection, subjectId: string, pageSize = HISTORY_PAGE): AsyncGenerator<ConsentEvent> {
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

/** The subject's newest `limit` consent events, newest first, and how many there are in all. */
export async function latestConsentEvents(connection: Connection, subjectId: string, limit: number): Promise<{ events: ConsentEvent[]; total: number }> {
  const { prisma } = connection;
  const [events, total] = await Promise.all([
    prisma.consentEvent.findMany({ where: { subjectId }, orderBy: { seq: "desc" }, take: limit }),
    prisma.consentEvent.count({ where: { subjectId } }),
  ]);
  return { events, total };
}
