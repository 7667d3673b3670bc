/**
 * Each subject's write lock (defined in migration 0005_subject_write_guard,
 * which explains the race it closes; this module owns its function,
 * consentgate_lock_subjects). Every record() batch holds it shared for the
 * subjects it writes; a consent change or an erasure takes it exclusive as
 * the first statement of its transaction, so that the two cannot interleave:
 * whichever comes second waits, then reads what the first committed.
 */
import type { SqlSession } from "./connection.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";

/** The shared lock on each of `subjects`, in a raw SQL transaction that writes their interactions (reshape.ts's). */
export async function lockSubjectsShared(tx: Pick<SqlSession, "query">, subjects: readonly string[]): Promise<void> {
  await tx.query(`SELECT consentgate_lock_subjects($1::text[], false)`, [subjects]);
}

/** The exclusive lock on one subject, as the first step of a Prisma transaction (batch or interactive) that changes its consent or erases it. */
export function lockSubjectForChange(prisma: Pick<PrismaClient, "$executeRaw">, subjectId: string) {
  return prisma.$executeRaw`SELECT consentgate_lock_subjects(ARRAY[${subjectId}]::text[], true)`;
}

/**
 * After the shared lock, in the same raw SQL transaction: does the decision a
 * write was let in by still stand? With a receipt, that grant must still be
 * the subject's current choice; without one (a legal basis or the region's
 * default), no explicit choice may have been made since; and no erasure of
 * the subject may have been received at or after the decision. The rule
 * record()'s batches apply in the database (migration 0005); a federated
 * update (learning.ts) applies it here. It reads consent_state and
 * privacy_requests only to guard the write, as that function does.
 */
export async function decisionStandsInSession(
  tx: Pick<SqlSession, "query">,
  write: { subjectId: string; purpose: string; receiptId: string | undefined; decidedAt: Date },
): Promise<boolean> {
  const [row] = await tx.query<{ stands: boolean }>(
    `SELECT coalesce((SELECT $3::text IS NOT NULL AND c.granted AND c."receiptId"::text = $3::text
                      FROM consent_state c WHERE c."subjectId" = $1 AND c.purpose = $2), $3::text IS NULL)
        AND NOT EXISTS (SELECT 1 FROM privacy_requests r
                        WHERE r."subjectId" = $1 AND r.type = 'erasure' AND r."receivedAt" >= $4) AS stands`,
    [write.subjectId, write.purpose, write.receiptId ?? null, write.decidedAt],
  );
  return row?.stands === true;
}
