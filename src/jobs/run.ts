/**
 * Running one job by name, now: what the scheduler does on each elected
 * fire, what `gate.runJob` and the CLI do by hand, and what tests drive with
 * their own clock. Nothing here is scheduled or coordinated.
 */
import { ConsentgateError } from "../errors.ts";
import { JOB_NAMES, type JobName } from "../policy/types.ts";
import { type ComplianceReportDeps, type ComplianceReportResult, writeDailyReports } from "./compliance-report.ts";
import { type DeadlinesDeps, type DeadlinesResult, markOverdue } from "./deadlines.ts";
import { type LogRetentionDeps, type LogRetentionResult, trimLogs } from "./log-retention.ts";
import { type PurgeDeps, type PurgeResult, purge } from "./purge.ts";

export interface ErasureRetryResult {
  retried: number;
  completed: number;
}

export interface JobResults {
  purge: PurgeResult;
  deadlines: DeadlinesResult;
  "compliance-report": ComplianceReportResult;
  "log-retention": LogRetentionResult;
  "erasure-retry": ErasureRetryResult;
}

export interface RunJobOptions {
  /** The moment the job acts at. Default: the gate's clock. */
  now?: Date;
  /** purge only: count what would go, change nothing. */
  dryRun?: boolean;
  /** purge only: rows per statement. */
  batchSize?: number;
  /** Asks a running job to stop at its next safe point (purge: between two statements). */
  signal?: AbortSignal;
}

export type RunJob = <N extends JobName>(name: N, options?: RunJobOptions) => Promise<JobResults[N]>;

/** What the jobs need: each job's own, the gate's clock, and the erasure retry the rights module provides. */
export interface JobRunnerDeps extends PurgeDeps, DeadlinesDeps, ComplianceReportDeps, LogRetentionDeps {
  readonly now: () => Date;
  /**
   * The erasure-retry job: runs interrupted erasures again and retries the
   * data sources that failed in `partial` ones (src/rights/erasure.ts, wired
   * in by createConsentgate: the jobs do not import the rights endpoints).
   */
  retryErasures(): Promise<ErasureRetryResult>;
}

export function createJobRunner(deps: JobRunnerDeps): RunJob {
  const jobs: { [N in JobName]: (now: Date, options: RunJobOptions) => Promise<JobResults[N]> } = {
    purge: (now, o) => purge(deps, { now, dryRun: o.dryRun ?? false, ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }), ...(o.signal ? { signal: o.signal } : {}) }),
    deadlines: (now) => markOverdue(deps, now),
    "compliance-report": (now) => writeDailyReports(deps, now),
    "log-retention": (now) => trimLogs(deps, now),
    "erasure-retry": () => deps.retryErasures(),
  };
  return async (name, options = {}) => {
    if (!(JOB_NAMES as readonly string[]).includes(name)) {
      throw new ConsentgateError("invalid_option", `unknown job "${name}" (jobs: ${JOB_NAMES.join(", ")})`);
    }
    if ((options.dryRun || options.batchSize !== undefined) && name !== "purge") {
      throw new ConsentgateError("invalid_option", `dryRun and batchSize apply to the purge job only, not to "${name}"`);
    }
    const started = Date.now();
    const result = await jobs[name](options.now ?? deps.now(), options);
    deps.logger.info({ job: name, ms: Date.now() - started, result }, `consentgate: ${name} done`);
    return result;
  };
}
