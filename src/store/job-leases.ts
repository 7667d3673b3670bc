/**
 * `job_leases`: who runs each fire of a scheduled job (src/jobs/coordinator.ts
 * says how the leases elect one instance per fire). Every query on the table
 * is here.
 */
import type { Connection } from "./connection.ts";

export interface JobLeases {
  /**
   * Takes the lease of the fire (job, fireAt) for `holder` until `expiresAt`:
   * true when won. Not while another fire of the job holds a live lease
   * (unfinished and unexpired at `now`); a fire whose lease expired unfinished
   * is taken over.
   */
  claim(job: string, fireAt: Date, holder: string, expiresAt: Date, now: Date): Promise<boolean>;
  /** Moves the holder's unfinished lease to `expiresAt`; false when the holder no longer has it. */
  renew(job: string, fireAt: Date, holder: string, expiresAt: Date): Promise<boolean>;
  /** Marks the holder's lease finished (and expired) at `at`. */
  finish(job: string, fireAt: Date, holder: string, at: Date): Promise<void>;
  /** Deletes the job's leases of fires before `before` that are finished or expired by `now`. */
  deleteOld(job: string, before: Date, now: Date): Promise<void>;
}

// One statement, so that two instances claiming the same fire cannot both
// win: the insert or the take-over of an expired lease, guarded by the check
// that no other fire of the job is running. Prisma's upsert has neither the
// guard nor a conditional update on conflict.
const CLAIM_SQL = `
INSERT INTO job_leases (job, "fireAt", holder, "expiresAt")
SELECT $1, $2::timestamptz, $3, $4::timestamptz
WHERE NOT EXISTS (
  SELECT 1 FROM job_leases
  WHERE job = $1 AND "fireAt" <> $2::timestamptz AND "finishedAt" IS NULL AND "expiresAt" > $5::timestamptz
)
ON CONFLICT (job, "fireAt") DO UPDATE SET holder = excluded.holder, "expiresAt" = excluded."expiresAt"
  WHERE job_leases."finishedAt" IS NULL AND job_leases."expiresAt" <= $5::timestamptz
RETURNING holder`;

export function createJobLeases(connection: Connection): JobLeases {
  const { prisma } = connection;
  return {
    async claim(job, fireAt, holder, expiresAt, now) {
      const won = await connection.query(CLAIM_SQL, [
        job,
        fireAt.toISOString(),
        holder,
        expiresAt.toISOString(),
        now.toISOString(),
      ]);
      return won.length > 0;
    },
    async renew(job, fireAt, holder, expiresAt) {
      const { count } = await prisma.jobLease.updateMany({
        where: { job, fireAt, holder, finishedAt: null },
        data: { expiresAt },
      });
      return count > 0;
    },
    async finish(job, fireAt, holder, at) {
      await prisma.jobLease.updateMany({ where: { job, fireAt, holder }, data: { finishedAt: at, expiresAt: at } });
    },
    async deleteOld(job, before, now) {
      await prisma.jobLease.deleteMany({
        where: { job, fireAt: { lt: before }, OR: [{ finishedAt: { not: null } }, { expiresAt: { lt: now } }] },
      });
    },
  };
}
