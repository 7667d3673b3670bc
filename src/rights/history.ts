/**
 * A subject's consent history read a page at a time. Every choice is kept
 * (the receipts prove what was agreed), so one person's history can be long;
 * exports stream it page by page and the privacy center reads only its
 * newest entries.
 */
import type { ConsentEvent } from "../generated/prisma/client.ts";
import type { Connection } from "../store/connection.ts";

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
