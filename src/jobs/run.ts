/**
 * Running one job by name, now: what the scheduler does on each elected
 * fire, what `gate.runJob` and the CLI do by hand, and what tests drive with
 * their own clock. Nothing here is scheduled or coordinated.
 */
import { ConsentgateError } from "../errors.ts";
import type { GateMetrics } from "../metrics/observations.ts";
import type { LearningJobResult } from "../store/learning.ts";
import { JOB_NAMES, type JobName } from "../policy/types.ts";
import { type ComplianceReportDeps, type ComplianceReportResult, writeDailyReports } from "./compliance-report.ts";
import { type DeadlinesDeps, type DeadlinesResult, markOverdue } from "./deadlines.ts";
import { type LogRetentionDeps, type LogRetentionResult, trimLogs } from "./log-retention.ts";
import { type PurgeDeps, type PurgeProgress, type PurgeResult, purge } from "./purge.ts";

/**
 * What the erasure-retry job did: partial erasures it tried again, and how
 * many of those it completed.
 *
 * @example
 * ```ts
 * const { retried, completed } = await gate.runJob("erasure-retry");
 * if (completed < retried) console.warn(`${retried - completed} erasures still wait for a data source`);
 * ```
 */
export interface ErasureRetryResult {
  /** Erasures tried again (partial ones, and ones interrupted for 15 minutes). */
  retried: number;
  /** Of those, the erasures now completed. */
  completed: number;
}

/**
 * What the insights job did: the differentially private releases it made,
 * the ones their privacy budget refused (`budget_exhausted`, logged as
 * `insights.refused`), and the ones not due yet (released less than their
 * policy's `every` ago).
 *
 * @example
 * ```ts
 * const { released, refused } = await gate.runJob("insights");
 * if (refused.length > 0) console.warn(`privacy budget spent for ${refused.join(", ")}`);
 * ```
 */
export interface InsightsJobResult {
  /** Releases made, by name. */
  released: string[];
  /** Releases their budget refused (`budget_exhausted`), by name. */
  refused: string[];
  /** Releases made less than their `every` ago, by name. */
  notDue: string[];
}

/**
 * What each job returns, by job name: `gate.runJob(name)` resolves to
 * `JobResults[name]`.
 *
 * @example
 * ```ts
 * import type { JobName, JobResults } from "consentgate";
 *
 * async function runAndLog<N extends JobName>(name: N): Promise<JobResults[N]> {
 *   const result = await gate.runJob(name);
 *   console.log(name, JSON.stringify(result));
 *   return result;
 * }
 * await runAndLog("deadlines");
 * ```
 */
export interface JobResults {
  /** Rows deleted per region and purpose; see PurgeResult. */
  purge: PurgeResult;
  /** Requests marked overdue; see DeadlinesResult. */
  deadlines: DeadlinesResult;
  /** Regions reported on; see ComplianceReportResult. */
  "compliance-report": ComplianceReportResult;
  /** Log entries trimmed per region; see LogRetentionResult. */
  "log-retention": LogRetentionResult;
  /** Erasures retried; see ErasureRetryResult. */
  "erasure-retry": ErasureRetryResult;
  /** Insight releases made, refused and not due; see InsightsJobResult. */
  insights: InsightsJobResult;
  /** Federated rounds published, waiting or stopped; see LearningJobResult. */
  learning: LearningJobResult;
}

/**
 * How `gate.runJob()` runs a job.
 *
 * @example
 * ```ts
 * import type { RunJobOptions } from "consentgate";
 *
 * const options: RunJobOptions = { dryRun: true, now: new Date("2027-01-01T00:00:00Z"), signal: AbortSignal.timeout(60_000) };
 * const wouldGo = await gate.runJob("purge", options);
 * ```
 */
export interface RunJobOptions {
  /** The moment the job acts at. Default: the gate's clock. */
  now?: Date;
  /** purge only: count what would go, change nothing. */
  dryRun?: boolean;
  /** purge only: rows per statement. */
  batchSize?: number;
  /** Asks a running job to stop at its next safe point (purge: between two statements). */
  signal?: AbortSignal;
  /** purge only: told the rows deleted so far, once before the first statement and after each (see PurgeProgress). */
  onProgress?: (progress: PurgeProgress) => void;
}

/**
 * `gate.runJob`: runs one job by name, now, on this instance, and resolves
 * to its result.
 *
 * @throws {ConsentgateError} `invalid_option` for an unknown job, or `dryRun`/`batchSize`
 * given to a job other than purge. Rejects with the database's error when the store fails.
 *
 * @example
 * ```ts
 * import type { RunJob } from "consentgate";
 *
 * // A host's own scheduler, handed only what it needs.
 * function nightly(runJob: RunJob) {
 *   return async () => {
 *     await runJob("compliance-report");
 *     await runJob("log-retention");
 *   };
 * }
 * setInterval(nightly(gate.runJob), 24 * 60 * 60 * 1000).unref();
 * ```
 */
export type RunJob = <N extends JobName>(name: N, options?: RunJobOptions) => Promise<JobResults[N]>;

/** What the jobs need: each job's own, the gate's clock, and the erasure retry the rights module provides. */
export interface JobRunnerDeps
  extends PurgeDeps,
    Omit<DeadlinesDeps, "logStore" | "requests">,
    Omit<ComplianceReportDeps, "logStore" | "requests">,
    Omit<LogRetentionDeps, "logStore"> {
  /** The log's table, for every job's queries on it. */
  readonly logStore: DeadlinesDeps["logStore"] & ComplianceReportDeps["logStore"] & LogRetentionDeps["logStore"];
  /** The requests' table, for the deadlines job and the daily report. */
  readonly requests: DeadlinesDeps["requests"] & ComplianceReportDeps["requests"];
  readonly now: () => Date;
  /**
   * The erasure-retry job: runs interrupted erasures again and retries the
   * data sources that failed in `partial` ones (src/rights/erasure.ts, wired
   * in by createConsentgate: the jobs do not import the rights endpoints).
   */
  retryErasures(): Promise<ErasureRetryResult>;
  /** The insights job: releases what is due at `now` (src/insights/release.ts, wired in by createConsentgate). */
  releaseInsights(now: Date): Promise<InsightsJobResult>;
  /** The learning job: closes, aggregates and publishes the rounds that are ready (src/learning/rounds.ts, wired in by createConsentgate). */
  trainModels(now: Date): Promise<LearningJobResult>;
  /** Counts each run by job and outcome, and the rows purged. */
  readonly metrics: Pick<GateMetrics, "jobRun"> & PurgeDeps["metrics"];
}

export function createJobRunner(deps: JobRunnerDeps): RunJob {
  const jobs: { [N in JobName]: (now: Date, options: RunJobOptions) => Promise<JobResults[N]> } = {
    purge: (now, o) =>
      purge(deps, {
        now,
        dryRun: o.dryRun ?? false,
        ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      }),
    deadlines: (now) => markOverdue(deps, now),
    "compliance-report": (now) => writeDailyReports(deps, now),
    "log-retention": (now) => trimLogs(deps, now),
    "erasure-retry": () => deps.retryErasures(),
    insights: (now) => deps.releaseInsights(now),
    learning: (now) => deps.trainModels(now),
  };
  return async (name, options = {}) => {
    if (!(JOB_NAMES as readonly string[]).includes(name)) {
      throw new ConsentgateError("invalid_option", `unknown job "${name}" (jobs: ${JOB_NAMES.join(", ")})`);
    }
    if ((options.dryRun || options.batchSize !== undefined || options.onProgress) && name !== "purge") {
      throw new ConsentgateError(
        "invalid_option",
        `dryRun, batchSize and onProgress apply to the purge job only, not to "${name}"`,
      );
    }
    const started = Date.now();
    let result: JobResults[typeof name];
    try {
      result = await jobs[name](options.now ?? deps.now(), options);
    } catch (error) {
      deps.metrics.jobRun(name, "failed");
      throw error;
    }
    deps.metrics.jobRun(name, "ok");
    deps.logger.info({ job: name, ms: Date.now() - started, result }, `consentgate: ${name} done`);
    return result;
  };
}
