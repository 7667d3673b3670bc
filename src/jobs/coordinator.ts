/**
 * The database-backed RunCoordinator (node-cron's interface): with several
 * instances on one database, each fire of a job runs on exactly one of them.
 *
 * A fire is a lease row (job, fireAt). Semantics:
 *  - Claiming inserts the row; the primary key lets exactly one instance win
 *    each fire, whatever the timing.
 *  - A job runs on one instance at a time: a fire is not claimed while
 *    another fire of the same job holds a live lease (unfinished, not
 *    expired). A run that outlasts its interval makes the next fires skip
 *    instead of piling up, across instances as noOverlap does within one.
 *  - The winner renews its lease while it runs and marks it finished at the
 *    end. A runner that dies stops renewing; once its lease expires, the job's
 *    next fire is claimed normally, and its own fire can be taken over by an
 *    instance that asks for it late. Every job is written to catch up (purge
 *    deletes whatever is due now, report.daily is written once per day), so a
 *    lost fire costs a delay, never data.
 *  - Lease times come from this process's clock: instances are assumed to
 *    agree within a small fraction of the lease (60 s by default).
 * Finished leases older than a week are deleted as new ones are claimed.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { RunCoordinator } from "node-cron";
import type { Logger } from "../logger.ts";
import { type GateMetrics, silentMetrics } from "../metrics/observations.ts";
import type { JobLeases } from "../store/job-leases.ts";

export interface LeaseCoordinatorOptions {
  /** This instance's name in lease rows. Default: host, pid and a random suffix. */
  holder?: string;
  /** Default: the wall clock. */
  clock?: () => Date;
  logger: Logger;
  /** Counts the fires another instance won (`skipped`). Default: nowhere. */
  metrics?: Pick<GateMetrics, "jobRun">;
}

export interface LeaseCoordinator extends RunCoordinator {
  readonly holder: string;
  /** True when this instance won the fire; it then holds the lease for `leaseMs`, renewed until finish(). */
  claim(job: string, fireAt: Date, leaseMs: number): Promise<boolean>;
  finish(job: string, fireAt: Date): Promise<void>;
  /** Waits (up to `timeoutMs`) for the runs holding leases to finish, then stops renewing whatever is left, which then expires. */
  close(timeoutMs?: number): Promise<void>;
}

const HISTORY_MS = 7 * 86_400_000;

export function createLeaseCoordinator(leases: JobLeases, options: LeaseCoordinatorOptions): LeaseCoordinator {
  const holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const clock = options.clock ?? (() => new Date());
  const held = new Map<string, { renew: NodeJS.Timeout; finished: Promise<void>; release(): void }>();
  const claiming = new Set<Promise<boolean>>();
  const keyOf = (job: string, fireAt: Date) => `${job}:${fireAt.toISOString()}`;
  // node-cron's key is "<task name>:<fire time, ISO>"; task names are job names, which hold no colon.
  const parse = (key: string): [string, Date] => [
    key.slice(0, key.indexOf(":")),
    new Date(key.slice(key.indexOf(":") + 1)),
  ];
  const release = (key: string) => {
    const lease = held.get(key);
    held.delete(key);
    clearInterval(lease?.renew);
    lease?.release();
  };

  const renew = (job: string, fireAt: Date, leaseMs: number) => {
    const timer = setInterval(
      () => {
        leases
          .renew(job, fireAt, holder, new Date(clock().getTime() + leaseMs))
          .then((renewed) => {
            if (!renewed)
              options.logger.warn(
                { job, fireAt, holder },
                "consentgate: this instance's job lease was taken over; another instance may be running the job too",
              );
          })
          .catch((error: unknown) =>
            options.logger.warn({ err: error, job }, "consentgate: could not renew a job lease"),
          );
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    return timer;
  };

  const coordinator: LeaseCoordinator = {
    holder,
    async claim(job, fireAt, leaseMs) {
      const now = clock();
      if (!(await leases.claim(job, fireAt, holder, new Date(now.getTime() + leaseMs), now))) {
        (options.metrics ?? silentMetrics).jobRun(job, "skipped");
        return false;
      }
      let resolve = () => {};
      const finished = new Promise<void>((r) => (resolve = r));
      held.set(keyOf(job, fireAt), { renew: renew(job, fireAt, leaseMs), finished, release: resolve });
      await leases
        .deleteOld(job, new Date(now.getTime() - HISTORY_MS), now)
        .catch((error: unknown) =>
          options.logger.warn({ err: error, job }, "consentgate: could not delete old job leases"),
        );
      return true;
    },
    async finish(job, fireAt) {
      const key = keyOf(job, fireAt);
      try {
        await leases.finish(job, fireAt, holder, clock());
      } finally {
        release(key);
      }
    },
    shouldRun(key, ttlMs) {
      const claim = coordinator.claim(...parse(key), ttlMs);
      claiming.add(claim);
      void claim.finally(() => claiming.delete(claim)).catch(() => {});
      return claim;
    },
    onComplete: (key) => coordinator.finish(...parse(key)),
    async close(timeoutMs = 5000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      // A claim still in flight may yet win a lease that node-cron will release when its run ends.
      const settled = async () => {
        await Promise.allSettled([...claiming]);
        await Promise.all([...held.values()].map((lease) => lease.finished));
      };
      await Promise.race([settled(), timeout]);
      clearTimeout(timer);
      for (const key of [...held.keys()]) release(key);
    },
  };
  return coordinator;
}
