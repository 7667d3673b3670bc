/**
 * What the gate tells its metrics, as named observations: the decision path,
 * the store and the jobs each take the few they make through their own
 * dependency interface. Every argument is from a bounded set (a policy's
 * purpose or region name, a job name, a fixed outcome) or a number, never a
 * subject id or free text, so no label can grow with the traffic.
 *
 * Until a host asks for metrics (`gate.metrics()`), every observation goes to
 * a no-op: the relay's one extra call is all a gate without metrics pays.
 */

/** How a write's decision ended: admitted, refused (`consent_required`), or not made (`consent_unavailable`). */
export type DecisionOutcome = "allowed" | "denied" | "unavailable";

/** How a job's fire ended on this instance: ran, threw, or left to the instance that holds its lease. */
export type JobOutcome = "ok" | "failed" | "skipped";

/** Why the purge deleted a row: past its retention, or past its purpose's window. */
export type PurgeReason = "expired" | "out_of_window";

export interface GateMetrics {
  /** A write (HTTP or a gated model's; once, when both check it) was decided for a purpose in a region. */
  decided(purpose: string, region: string, outcome: DecisionOutcome): void;
  /** A batched insert of interactions committed (or failed) with `rows` rows. */
  recordBatch(rows: number): void;
  /** One `req.privacy.record()` waited `seconds` for its row's batch to commit (or fail). */
  recorded(seconds: number): void;
  /** A subject's consent choices were found in the cache (`hit`) or had to be read. */
  consentLookup(hit: boolean): void;
  /** The purge job deleted `rows` rows of a purpose in a region. */
  purged(region: string, purpose: string, reason: PurgeReason, rows: number): void;
  /** A job's fire ended so. */
  jobRun(job: string, outcome: JobOutcome): void;
}

const noop = () => {};

export const silentMetrics: GateMetrics = {
  decided: noop,
  recordBatch: noop,
  recorded: noop,
  consentLookup: noop,
  purged: noop,
  jobRun: noop,
};

/**
 * The gate's parts are wired at start-up, but metrics are asked for later
 * (`gate.metrics()`), possibly on more than one registry: the parts hold this
 * relay, which passes each observation to every registry's metrics.
 */
export interface MetricsRelay {
  readonly metrics: GateMetrics;
  /** Adds a destination; adding the same one again changes nothing. */
  add(target: GateMetrics): void;
}

export function createMetricsRelay(): MetricsRelay {
  let targets: GateMetrics[] = [];
  let to: GateMetrics = silentMetrics;
  const all = (observe: (target: GateMetrics) => void) => {
    for (const target of targets) observe(target);
  };
  const fanOut: GateMetrics = {
    decided: (purpose, region, outcome) => all((t) => t.decided(purpose, region, outcome)),
    recordBatch: (rows) => all((t) => t.recordBatch(rows)),
    recorded: (seconds) => all((t) => t.recorded(seconds)),
    consentLookup: (hit) => all((t) => t.consentLookup(hit)),
    purged: (region, purpose, reason, rows) => all((t) => t.purged(region, purpose, reason, rows)),
    jobRun: (job, outcome) => all((t) => t.jobRun(job, outcome)),
  };
  return {
    metrics: {
      decided: (purpose, region, outcome) => to.decided(purpose, region, outcome),
      recordBatch: (rows) => to.recordBatch(rows),
      recorded: (seconds) => to.recorded(seconds),
      consentLookup: (hit) => to.consentLookup(hit),
      purged: (region, purpose, reason, rows) => to.purged(region, purpose, reason, rows),
      jobRun: (job, outcome) => to.jobRun(job, outcome),
    },
    add(target) {
      if (targets.includes(target)) return;
      targets = [...targets, target];
      // One registry (the usual case) is called directly, without the loop.
      to = targets.length === 1 ? target : fanOut;
    },
  };
}
