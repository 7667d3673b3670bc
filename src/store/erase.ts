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

/**
 * Rows an erasure removed from Consentgate's own tables, as the erasure
 * certificate lists them.
 *
 * @example
 * ```ts
 * import type { ErasedCounts } from "consentgate";
 *
 * const consentRows = (counts: ErasedCounts) => counts.consentEvents + counts.consentState;
 * ```
 */
export interface ErasedCounts {
  /** Stored interactions. */
  interactions: number;
  /** The interaction windows' bookkeeping, one per purpose the subject had interactions for. */
  interactionWindows: number;
  /** Consent choices (the history). */
  consentEvents: number;
  /** Current consent state, one per purpose chosen for. */
  consentState: number;
  /** Earlier export and erasure requests (the erasure's own request is kept as its proof). */
  privacyRequests: number;
}

/**
 * Erases the subject's rows and, in the same transaction, notes the counts on
 * the erasure request (`keepRequestId`), so an erasure interrupted after this
 * commit (a crash, a failed completion) can be finished later with the
 * counts of what it erased. `before`: counts from an earlier pass, added in.
 */
export async function eraseSubject(connection: Connection, subjectId: string, keepRequestId: string, before?: ErasedCounts): Promise<ErasedCounts> {
  return connection.prisma.$transaction(async (tx) => {
    // First, so that record() batches in flight for the subject either commit
    // before this (and are erased below) or wait and see the erasure.
    await lockSubjectForChange(tx, subjectId);
    const counts: ErasedCounts = {
      interactions: (await tx.interaction.deleteMany({ where: { subjectId } })).count,
      interactionWindows: (await tx.interactionWindow.deleteMany({ where: { subjectId } })).count,
      consentEvents: (await tx.consentEvent.deleteMany({ where: { subjectId } })).count,
      consentState: (await tx.consentState.deleteMany({ where: { subjectId } })).count,
      privacyRequests: (await tx.privacyRequest.deleteMany({ where: { subjectId, id: { not: keepRequestId } } })).count,
    };
    if (before) for (const key of Object.keys(counts) as (keyof ErasedCounts)[]) counts[key] += before[key];
    await tx.privacyRequest.update({ where: { id: keepRequestId }, data: { details: { erased: { tables: { ...counts } } } } });
    // Other instances drop their cached choices for the subject on commit.
    if (connection.kind === "postgres") await tx.$executeRaw`SELECT pg_notify(${CONSENT_CHANNEL}, ${subjectId})`;
    return counts;
  });
}
