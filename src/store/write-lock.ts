/**
 * Each subject's write lock (defined in migration 0005_subject_write_guard,
 * which explains the race it closes). Every record() batch holds it shared
 * for the subjects it writes; a consent change or an erasure takes it
 * exclusive as the first statement of its transaction, so that the two
 * cannot interleave: whichever comes second waits, then reads what the first
 * committed.
 */
import type { PrismaClient } from "../generated/prisma/client.ts";

/** For a raw SQL session inside a transaction: $1 the subjects, $2 exclusive or not. */
export const LOCK_SUBJECTS_SQL = `SELECT consentgate_lock_subjects($1::text[], $2::boolean)`;

/** The exclusive lock on one subject, as the first step of a Prisma transaction (batch or interactive) that changes its consent or erases it. */
export function lockSubjectForChange(prisma: Pick<PrismaClient, "$executeRaw">, subjectId: string) {
  return prisma.$executeRaw`SELECT consentgate_lock_subjects(ARRAY[${subjectId}]::text[], true)`;
}
