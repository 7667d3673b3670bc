/**
 * Erases everything Consentgate's own tables hold about a subject, in one
 * transaction, so no reader ever sees half an erasure and nothing is left
 * pointing at what is gone. The erasure request itself is kept: it is the
 * proof that the erasure happened, and it names the subject only as the
 * subject asked.
 */
import { CONSENT_CHANNEL } from "./consents.ts";
import type { Connection } from "./connection.ts";
import { lockSubjectForChange } from "./write-lock.ts";

export interface ErasedCounts {
  interactions: number;
  interactionWindows: number;
  consentEvents: number;
  consentState: number;
  privacyRequests: number;
}

export async function eraseSubject(connection: Connection, subjectId: string, keepRequestId: string): Promise<ErasedCounts> {
  const { prisma } = connection;
  const [, interactions, interactionWindows, consentState, consentEvents, privacyRequests] = await prisma.$transaction([
    // First, so that record() batches in flight for the subject either commit
    // before this (and are erased below) or wait and see the erasure.
    lockSubjectForChange(prisma, subjectId),
    prisma.interaction.deleteMany({ where: { subjectId } }),
    prisma.interactionWindow.deleteMany({ where: { subjectId } }),
    prisma.consentState.deleteMany({ where: { subjectId } }),
    prisma.consentEvent.deleteMany({ where: { subjectId } }),
    prisma.privacyRequest.deleteMany({ where: { subjectId, id: { not: keepRequestId } } }),
    // Other instances drop their cached choices for the subject on commit.
    ...(connection.kind === "postgres" ? [prisma.$executeRaw`SELECT pg_notify(${CONSENT_CHANNEL}, ${subjectId})`] : []),
  ]);
  return {
    interactions: interactions.count,
    interactionWindows: interactionWindows.count,
    consentEvents: consentEvents.count,
    consentState: consentState.count,
    privacyRequests: privacyRequests.count,
  };
}
