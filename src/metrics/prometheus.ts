/**
 * The gate's observations as Prometheus metrics (prom-client), registered on
 * the host's registry so that its own `/metrics` serves them. Metric objects
 * hold no registry of their own, so those of our copy of prom-client go on a
 * registry of the host's copy as well.
 *
 * One set of metrics per registry, shared by every gate of the process that
 * registers on it: a second gate (or a second call) adds to the same
 * counters instead of failing on the names already taken.
 */
import { Counter, Gauge, Histogram, type Metric, type Registry, register } from "prom-client";
import { ConsentgateError } from "../errors.ts";
import type { DecisionOutcome, GateMetrics, JobOutcome, PurgeReason } from "./observations.ts";

/** What the gate uses of a registry: prom-client's Registry, of any copy of it, fits. */
export type MetricsRegistry = Pick<Registry, "registerMetric" | "getSingleMetric">;

const DECISION_OUTCOMES: readonly DecisionOutcome[] = ["allowed", "denied", "unavailable"];

/** Rows per batched insert: the group commit's batches are at most 256 rows by default. */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/** A record waits for its batch's commit: a millisecond or two alone, more under load. */
const RECORD_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * One registry's metrics: the observations the gate's parts make, and where
 * the overdue gauge reads its count when scraped.
 */
export interface RegistryMetrics {
  readonly observations: GateMetrics;
  /**
   * Adds a gate's count of overdue requests to the gauge (adding the same
   * function again changes nothing); the returned function takes it off,
   * for a gate that closes.
   */
  readOverdue(count: () => Promise<number>): () => void;
}

const byRegistry = new WeakMap<object, RegistryMetrics>();

/** prom-client's global registry, of the copy the gate depends on: what `gate.metrics()` registers on unless told otherwise. */
export const defaultRegistry: Registry = register;

/**
 * The gate's metrics on `registry`: made and registered on the first call,
 * the same ones on every later call.
 *
 * @throws {ConsentgateError} `invalid_option` when the registry already has a metric of one of
 * our names that is not ours (nothing is registered then).
 */
export function prometheusMetrics(registry: MetricsRegistry): RegistryMetrics {
  const known = byRegistry.get(registry);
  if (known) return known;
  const made = makeMetrics();
  const taken = made.all.filter((metric) => registry.getSingleMetric(nameOf(metric)) !== undefined).map(nameOf);
  if (taken.length > 0) {
    throw new ConsentgateError(
      "invalid_option",
      `the registry already has metrics named ${taken.join(", ")} that are not this process's Consentgate metrics`,
    );
  }
  for (const metric of made.all) registry.registerMetric(metric);
  byRegistry.set(registry, made.metrics);
  return made.metrics;
}

/**
 * `count` read at most once per `maxAgeMs` of the `now` clock: scrapes at
 * once share one read, and later ones within the age get its answer. A
 * failed read is not kept: the next scrape reads again.
 */
export function cachedCount(count: () => Promise<number>, now: () => Date, maxAgeMs: number): () => Promise<number> {
  let kept: { at: number; value: Promise<number> } | undefined;
  return () => {
    const at = now().getTime();
    if (kept === undefined || at - kept.at >= maxAgeMs || at < kept.at) {
      const value = count();
      const reading = { at, value };
      kept = reading;
      value.catch(() => {
        if (kept === reading) kept = undefined;
      });
    }
    return kept.value;
  };
}

/** prom-client's metrics carry their name at run time; its type declarations leave it out. */
function nameOf(metric: Metric): string {
  return (metric as unknown as { name: string }).name;
}

function makeMetrics(): { metrics: RegistryMetrics; all: Metric[] } {
  // registers: [] keeps them off prom-client's global registry: they go only where the host asked.
  const decisions = new Counter({
    name: "consentgate_decisions_total",
    help: "Writes decided by the gate (HTTP and gated models, each write once), by purpose, region and outcome.",
    labelNames: ["purpose", "region", "outcome"] as const,
    registers: [],
  });
  const batchSize = new Histogram({
    name: "consentgate_record_batch_size",
    help: "Interactions per batched insert.",
    buckets: BATCH_SIZE_BUCKETS,
    registers: [],
  });
  const recordSeconds = new Histogram({
    name: "consentgate_record_duration_seconds",
    help: "Time a req.privacy.record() waits for its interaction's batch to commit.",
    buckets: RECORD_SECONDS_BUCKETS,
    registers: [],
  });
  const lookups = new Counter({
    name: "consentgate_consent_cache_lookups_total",
    help: "Consent choices looked up in the in-process cache, by result (hit, or miss: read from the database).",
    labelNames: ["result"] as const,
    registers: [],
  });
  const purged = new Counter({
    name: "consentgate_rows_purged_total",
    help: "Rows the purge job deleted, by region, purpose and reason (expired, out_of_window).",
    labelNames: ["region", "purpose", "reason"] as const,
    registers: [],
  });
  const jobRuns = new Counter({
    name: "consentgate_job_runs_total",
    help: "Job fires on this instance, by job and outcome (ok, failed, skipped: another instance held the lease).",
    labelNames: ["job", "outcome"] as const,
    registers: [],
  });
  const overdueCounts = new Set<() => Promise<number>>();
  const overdue = new Gauge({
    name: "consentgate_requests_overdue",
    help: "Privacy requests past their legal deadline and still open, read from the database when scraped (at most every 30 s per gate).",
    registers: [],
    // Read when scraped, so every instance on a database reports the same, current count. Gates of the
    // process sharing this registry are taken as instances of one deployment: the highest count.
    // NaN (unknown) when no gate could read it: a failed read is not reported as none overdue.
    async collect() {
      const read = await Promise.allSettled([...overdueCounts].map((count) => count()));
      const counts = read.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      overdue.set(counts.length === 0 ? Number.NaN : Math.max(...counts));
    },
  });

  // Each (purpose, region) pair's children are bound once: a decision is then one map walk and an increment.
  const decided = new Map<string, Map<string, Counter.Internal[]>>();
  const decisionChildren = (purpose: string, region: string) => {
    let inPurpose = decided.get(purpose);
    if (!inPurpose) decided.set(purpose, (inPurpose = new Map()));
    let children = inPurpose.get(region);
    if (!children) {
      children = DECISION_OUTCOMES.map((outcome) => decisions.labels({ purpose, region, outcome }));
      inPurpose.set(region, children);
    }
    return children;
  };
  const hit = lookups.labels({ result: "hit" });
  const miss = lookups.labels({ result: "miss" });

  const observations: GateMetrics = {
    decided: (purpose, region, outcome) => decisionChildren(purpose, region)[DECISION_OUTCOMES.indexOf(outcome)]!.inc(),
    recordBatch: (rows) => batchSize.observe(rows),
    recorded: (seconds) => recordSeconds.observe(seconds),
    consentLookup: (found) => (found ? hit : miss).inc(),
    purged: (region: string, purpose: string, reason: PurgeReason, rows: number) =>
      purged.inc({ region, purpose, reason }, rows),
    jobRun: (job: string, outcome: JobOutcome) => jobRuns.inc({ job, outcome }),
  };
  const metrics: RegistryMetrics = {
    observations,
    readOverdue(count) {
      overdueCounts.add(count);
      return () => void overdueCounts.delete(count);
    },
  };
  return { metrics, all: [decisions, batchSize, recordSeconds, lookups, purged, jobRuns, overdue] };
}
