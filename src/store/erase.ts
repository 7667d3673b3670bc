/**
 * Erases everything Consentgate's own tables hold about a subject, in one
 * transaction, so no reader ever sees half an erasure and nothing is left
 * pointing at what is gone. The erasure request itself is kept: it is the
 * proof that the erasure happened, and it names the subject only as the
 * subject asked. Each table's rows go through the module that owns it.
 */
import type { Connection } from "./connection.ts";
import { announceChoicesChanged, deleteSubjectConsentsInTransaction } from "./consents.ts";
import { deleteSubjectInteractionsInTransaction } from "./interactions.ts";
import { deleteSubjectUpdatesInTransaction } from "./learning.ts";
import { deleteSubjectRequestsInTransaction, noteErasedInTransaction } from "./requests.ts";
import { deleteSubjectTelemetryInTransaction } from "./telemetry.ts";
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
  /** When the subject sent telemetry reports (kept for the reports' rate limit; the reports themselves are not kept). */
  telemetryReports: number;
  /** Federated-learning updates still waiting for their round to be aggregated (aggregated ones are already gone). */
  learningUpdates: number;
}

/**
 * Erases the subject's rows and, in the same transaction, notes the counts on
 * the erasure request (`keepRequestId`), so an erasure interrupted after this
 * commit (a crash, a failed completion) can be finished later with the
 * counts of what it erased. `before`: counts from an earlier pass, added in.
 */
export async function eraseSubject(
  connection: Connection,
  subjectId: string,
  keepRequestId: string,
  before?: ErasedCounts,
): Promise<ErasedCounts> {
  return connection.prisma.$transaction(async (tx) => {
    // First, so that record() batches in flight for the subject either commit
    // before this (and are erased below) or wait and see the erasure.
    await lockSubjectForChange(tx, subjectId);
    const { interactions, interactionWindows } = await deleteSubjectInteractionsInTransaction(tx, subjectId);
    const { consentEvents, consentState } = await deleteSubjectConsentsInTransaction(tx, subjectId);
    const privacyRequests = await deleteSubjectRequestsInTransaction(tx, subjectId, keepRequestId);
    const telemetryReports = await deleteSubjectTelemetryInTransaction(tx, subjectId);
    const learningUpdates = await deleteSubjectUpdatesInTransaction(tx, subjectId);
    const counts: ErasedCounts = {
      interactions,
      interactionWindows,
      consentEvents,
      consentState,
      privacyRequests,
      telemetryReports,
      learningUpdates,
    };
    // An earlier pass noted before telemetry (or learning) existed has no count for it.
    if (before) for (const key of Object.keys(counts) as (keyof ErasedCounts)[]) counts[key] += before[key] ?? 0;
    await noteErasedInTransaction(tx, keepRequestId, { ...counts });
    // Other instances drop their cached choices for the subject on commit.
    await announceChoicesChanged(connection, tx, subjectId);
    return counts;
  });
}

/** Erasure of Consentgate's own tables, bound to one open store (see eraseSubject). */
export interface Erasures {
  erase(subjectId: string, keepRequestId: string, before?: ErasedCounts): Promise<ErasedCounts>;
}

export function createErasures(connection: Connection): Erasures {
  return { erase: (subjectId, keepRequestId, before) => eraseSubject(connection, subjectId, keepRequestId, before) };
}
