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
