/**
 * The jobs on node-cron. Every job is a distributed task: node-cron asks the
 * lease coordinator before each fire, so with several instances each fire
 * runs once; `noOverlap` keeps a slow run from stacking on itself here.
 * Timers are unref'd: scheduled jobs never keep the host's process alive.
 * stop() destroys the tasks, asks running jobs to stop at their next safe
 * point, and waits for them and for their leases to be released.
 */
import cron, { type ScheduledTask, type Logger as CronLogger } from "node-cron";
import type { Logger } from "../logger.ts";
import { JOB_NAMES, type JobName } from "../policy/types.ts";
import type { LeaseCoordinator } from "./coordinator.ts";
import type { RunJob } from "./run.ts";
import type { Schedules } from "./schedules.ts";

export interface Scheduler {
  stop(): Promise<void>;
}

export interface SchedulerOptions {
  schedules: Schedules;
  run: RunJob;
  coordinator: LeaseCoordinator;
  logger: Logger;
  /** How long a fire's lease lasts between renewals. Default 60 s. */
  leaseMs?: number;
}

export function startScheduler(options: SchedulerOptions): Scheduler {
  const { logger } = options;
  const running = new Set<{ done: Promise<void>; controller: AbortController }>();
  let stopped = false;

  const fire = async (job: JobName) => {
    // node-cron may hand over a fire it elected just before stop().
    if (stopped) return;
    const controller = new AbortController();
    const done = options.run(job, { signal: controller.signal }).then(
      () => {},
      (error: unknown) => logger.error({ err: error, job }, `consentgate: the ${job} job failed`),
    );
    const entry = { done, controller };
    running.add(entry);
    await done;
    running.delete(entry);
  };

  const tasks: ScheduledTask[] = JOB_NAMES.map((job) =>
    cron.schedule(options.schedules[job], () => fire(job), {
      name: job,
      timezone: "UTC",
      noOverlap: true,
      distributed: true,
      runCoordinator: options.coordinator,
      distributedLease: options.leaseMs ?? 60_000,
      unref: true,
      logger: cronLogger(logger),
    }),
  );

  return {
    async stop() {
      stopped = true;
      for (const task of tasks) await task.destroy();
      for (const { controller } of running) controller.abort();
      await Promise.all([...running].map((r) => r.done));
      await options.coordinator.close();
    },
  };
}

/**
 * A task of this instance alone, never elected (this instance's own counts of
 * refused writes, for one): runs on schedule and once more on stop().
 */
export function startLocalTask(
  expression: string,
  name: string,
  run: () => Promise<unknown>,
  logger: Logger,
): Scheduler {
  let last: Promise<unknown> = Promise.resolve();
  const once = () =>
    (last = last
      .then(run)
      .catch((error: unknown) => logger.error({ err: error, task: name }, `consentgate: ${name} failed`)));
  const task = cron.schedule(expression, once, {
    name,
    timezone: "UTC",
    noOverlap: true,
    unref: true,
    logger: cronLogger(logger),
  });
  return {
    async stop() {
      await task.destroy();
      await once();
    },
  };
}

function cronLogger(logger: Logger): CronLogger {
  const text = (message: string | Error) => (message instanceof Error ? message.message : message);
  return {
    info: (message) => logger.info({ scheduler: "node-cron" }, message),
    warn: (message) => logger.warn({ scheduler: "node-cron" }, message),
    error: (message, err) => logger.error({ scheduler: "node-cron", err: err ?? message }, text(message)),
    debug: (message, err) => logger.debug({ scheduler: "node-cron", err }, text(message)),
  };
}
