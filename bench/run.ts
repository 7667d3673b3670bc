/**
 * `npm run bench`: every benchmark, compiled with tsc first (as users run it:
 * tsx's transform adds per-closure costs that are not the library's), printed as Markdown tables. Figures are
 * ratios against a baseline measured in the same run (these machines are
 * shared and noisy, so absolute numbers drift between runs).
 */
import { benchConsentCacheMemory } from "./consent-cache.ts";
import { benchGateHttp, benchGateInProcess } from "./gate.ts";
import { benchGateProfile } from "./gate-profile.ts";
import { benchHostWrites } from "./host-writes.ts";
import { benchInsights } from "./insights.ts";
import { benchLearningCost } from "./learning-cost.ts";
import { benchLearning } from "./learning.ts";
import { benchMetrics } from "./metrics.ts";
import { benchMinimize } from "./minimize.ts";
import { benchNoise } from "./noise.ts";
import { benchPurge } from "./purge.ts";
import { benchReads } from "./reads.ts";
import { benchRecord } from "./record.ts";
import { benchRights } from "./rights.ts";
import { benchInserts, benchMemoryStart, benchStartup } from "./store.ts";
import { benchTraffic } from "./traffic.ts";

const suites: Record<string, () => Promise<void>> = {
  startup: benchStartup,
  inserts: benchInserts,
  minimize: benchMinimize,
  decision: benchGateInProcess,
  gate: benchGateHttp,
  record: benchRecord,
  "host-writes": benchHostWrites,
  purge: benchPurge,
  rights: benchRights,
  traffic: benchTraffic,
  noise: benchNoise,
};
/** Diagnostics, run only when named. */
const onDemand: Record<string, () => Promise<void>> = {
  "gate-profile": benchGateProfile,
  "cache-memory": benchConsentCacheMemory,
  "memory-start": benchMemoryStart,
  // gate.metrics() on vs off, on a gated POST that records.
  metrics: benchMetrics,
  reads: benchReads,
  // Seeds 5 000 000 rows on PostgreSQL: minutes.
  insights: benchInsights,
  // Seeds 2 000 updates of 128 KiB on PostgreSQL and loads the update route: about two minutes.
  "learning-cost": benchLearningCost,
  // Synthetic 5 000 × 2 000 data set, centralized ALS and federated rounds: minutes.
  learning: benchLearning,
};

const only = process.argv.slice(2);
for (const [name, suite] of Object.entries(suites)) {
  if (only.length === 0 || only.includes(name)) await suite();
}
for (const [name, suite] of Object.entries(onDemand)) {
  if (only.includes(name)) await suite();
}
