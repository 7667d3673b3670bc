/**
 * Differentially private insights (`npm run bench -- insights`, on demand:
 * seeding 5 000 000 rows takes minutes).
 *
 * 1. Release time on PostgreSQL: 100 000 subjects × a full 50-row window of
 *    one purpose (5 000 000 interactions, items Zipf-like over 10 000), the
 *    whole release (releaseInsight from src/insights/release.ts: ledger lock,
 *    counting with each subject bounded to maxKeys, the real noise, the
 *    stored release and its log entries) against a plain
 *    `count(DISTINCT "subjectId") … GROUP BY key` over the same rows, in the
 *    same run, alternating, 3 rounds each.
 * 2. Accuracy of a release, in process: true distinct counts of a synthetic
 *    Zipf catalogue (10 000 items, s = 0.99, 100 000 subjects each holding
 *    up to maxKeys = 10 distinct items), released through exactly the
 *    release's noise and threshold (releaseNoise) for several epsilons.
 * 3. Accuracy of the local-DP telemetry sketch: 100 000 devices each sending
 *    one Zipf value through telemetryReport, summed with addReport, estimated
 *    with estimateFrequencies over the top 200 true values.
 *
 * Randomness is node:crypto's throughout (no seeds): the accuracy figures
 * are means over trials and move a little between runs.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createComplianceLog } from "../src/audit/log.ts";
import { telemetryReport } from "../src/client/report.ts";
import { releaseInsight, releaseNoise } from "../src/insights/release.ts";
import { loadPolicy } from "../src/policy/load.ts";
import { createKeyring } from "../src/signatures/hmac.ts";
import { createComplianceLogStore } from "../src/store/compliance-log.ts";
import { createInsightStore } from "../src/store/insights.ts";
import { openStore } from "../src/store/store.ts";
import { addReport, createSketchSums, estimateFrequencies } from "../src/telemetry/sketch.ts";
import { fmt, median, scratchPostgres, table, time } from "./support.ts";

const SUBJECTS = 100_000;
const WINDOW = 50;
const ITEMS = 10_000;
const ZIPF_S = 0.99;
const ROUNDS = 3;
const MAX_KEYS = 10;
const DELTA = 1e-9;
const TOP = 20;
const RELEASE_TRIALS = 20;
const TELEMETRY_CANDIDATES = 200;
const TELEMETRY_TRIALS = 3;
const SKETCH = { hashes: 1024, width: 32768 };

const policyFile = {
  version: "bench",
  defaults: { region: "US-CA" },
  purposes: {
    personalization: {
      description: "bench",
      legalBasis: "consent",
      fields: { itemId: "keep", action: "keep" },
      window: WINDOW,
      retention: "90d",
      insights: {
        popular: {
          key: "itemId",
          epsilon: 1,
          delta: DELTA,
          maxKeys: MAX_KEYS,
          every: "1d",
          // Large enough for every round of the bench.
          budget: { epsilon: 1000, per: "1d" },
        },
      },
    },
  },
  regions: {
    EU: { model: "opt-in", requestDeadline: "1mo", logRetention: "3y" },
    "US-CA": { model: "opt-out", requestDeadline: "45d", logRetention: "24mo" },
  },
};

const PLAIN_SQL = `SELECT data->>'itemId' AS key, count(DISTINCT "subjectId")::int AS count
FROM interactions WHERE purpose = $1 AND "expiresAt" > now() GROUP BY 1`;

/**
 * The rows, in one statement: subject g / 50, ring slot and seq g % 50 (a
 * full ring), unexpired, region US-CA (opt-out, so everyone is counted
 * without a choice), item rank drawn from the continuous power law x^-s on
 * [1, N + 1) by its inverse CDF and floored: Zipf-like with exponent s.
 */
const SEED_SQL = `
INSERT INTO interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", "receiptId", source, "legalBasis", "policyVersion", region)
SELECT 'subject-' || (g / $2::int), 'personalization', g % $2::int, g % $2::int, 'play',
       jsonb_build_object('itemId', 'trk_' || least(floor(power(1 + random() * (power($3::float8 + 1, 1 - $4::float8) - 1), 1 / (1 - $4::float8)))::int, $3::int), 'action', 'play'),
       now() - (($2::int - g % $2::int) * interval '1 minute'), now() + interval '30 days', NULL, 'region-default', 'consent', 'bench', 'US-CA'
FROM generate_series(0, $1::int * $2::int - 1) g`;

/** Uniform doubles in [0, 1) from node:crypto, drawn in blocks. */
function uniforms(): () => number {
  let block = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + 8 > block.length) {
      block = randomBytes(8 * 65_536);
      at = 0;
    }
    // 53 random bits.
    const x = (block.readUInt32BE(at) >>> 11) * 2 ** 32 + block.readUInt32BE(at + 4);
    at += 8;
    return x / 2 ** 53;
  };
}

/** A sampler of ranks 1..n with P(r) ∝ r^-s (exact discrete Zipf, by binary search on the cumulative weights). */
function zipf(n: number, s: number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let r = 1; r <= n; r++) cumulative[r - 1] = total += r ** -s;
  const uniform = uniforms();
  return () => {
    const u = uniform() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo + 1;
  };
}

const item = (rank: number) => `trk_${rank}`;

/** Keys by count, highest first (ties by key, as the release sorts). */
const ranked = (counts: Iterable<[string, number]>) =>
  [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([key]) => key);

async function benchReleaseTime(): Promise<void> {
  const scratch = await scratchPostgres();
  const store = await openStore({ kind: "postgres", url: scratch.url }, { poolSize: 4 });
  try {
    const { connection } = store;
    const policy = await loadPolicy(policyFile);
    const keyring = createKeyring("bench-secret-bench-secret-bench-secret");
    const log = createComplianceLog(createComplianceLogStore(connection), {
      pseudonym: keyring.pseudonym,
      chainKey: keyring.key("log-chain"),
      now: () => new Date(),
    });
    const deps = { policy, store: createInsightStore(connection), log, now: () => new Date() };

    const seed = await time(async () => {
      await connection.query(SEED_SQL, [SUBJECTS, WINDOW, ITEMS, ZIPF_S]);
      await connection.query(
        `INSERT INTO interaction_windows ("subjectId", purpose, "nextSeq", "window")
         SELECT 'subject-' || s, 'personalization', $2::int, $2::int FROM generate_series(0, $1::int - 1) s`,
        [SUBJECTS, WINDOW],
      );
      await connection.query("VACUUM ANALYZE interactions");
      await connection.query("VACUUM ANALYZE interaction_windows");
    });

    // Warm-up: the table into the page cache, so that neither side pays for reading it from disk first.
    const warm = await connection.query<{ key: string; count: number }>(PLAIN_SQL, ["personalization"]);
    const plain: number[] = [];
    const release: number[] = [];
    let keys = 0;
    let threshold = 0;
    for (let round = 0; round < ROUNDS; round++) {
      plain.push((await time(() => connection.query(PLAIN_SQL, ["personalization"]))).ms);
      const released = await time(() => releaseInsight(deps, "popular"));
      release.push(released.ms);
      if (!released.value.released) throw new Error(`the release was refused: ${JSON.stringify(released.value)}`);
      keys = released.value.keys;
      threshold = released.value.threshold;
    }
    const plainMs = median(plain);
    const releaseMs = median(release);
    table(
      `Release time on PostgreSQL: ${SUBJECTS.toLocaleString("en")} subjects × ${WINDOW} rows (${(SUBJECTS * WINDOW).toLocaleString("en")} interactions, ${warm.length.toLocaleString("en")} distinct items), medians of ${ROUNDS} alternating rounds`,
      [
        {
          case: "plain count(DISTINCT subject) GROUP BY key (baseline)",
          "median, s": fmt(plainMs / 1000, 2),
          "rounds, s": plain.map((ms) => fmt(ms / 1000, 2)).join(", "),
          "× plain": "1.00",
        },
        {
          case: `release (maxKeys ${MAX_KEYS}, ε 1, δ ${DELTA}): ${keys} keys released at threshold ${threshold}`,
          "median, s": fmt(releaseMs / 1000, 2),
          "rounds, s": release.map((ms) => fmt(ms / 1000, 2)).join(", "),
          "× plain": fmt(releaseMs / plainMs, 2),
        },
      ],
    );
    console.log(
      `\n(seeding ${(SUBJECTS * WINDOW).toLocaleString("en")} rows and VACUUM ANALYZE: ${fmt(seed.ms / 1000)} s)`,
    );
  } finally {
    await store.close();
    await scratch.drop();
  }
}

function benchReleaseAccuracy(): void {
  const draw = zipf(ITEMS, ZIPF_S);
  const counts = new Map<string, number>();
  for (let subject = 0; subject < SUBJECTS; subject++) {
    // Up to maxKeys distinct items each: the bound never drops one, so these are the counts the release sees.
    const held = new Set<number>();
    for (let i = 0; i < MAX_KEYS; i++) held.add(draw());
    for (const rank of held) counts.set(item(rank), (counts.get(item(rank)) ?? 0) + 1);
  }
  const trueTop = ranked(counts).slice(0, TOP);
  const rows: Record<string, string | number>[] = [];
  for (const epsilon of [0.5, 1, 2, 4]) {
    const noise = releaseNoise({ epsilon, delta: DELTA, maxKeys: MAX_KEYS });
    let recall = 0;
    let error = 0;
    let released = 0;
    let threshold = 0;
    const started = performance.now();
    for (let trial = 0; trial < RELEASE_TRIALS; trial++) {
      const result = noise(counts);
      threshold = result.threshold;
      const top = new Set(result.keys.slice(0, TOP).map(({ key }) => key));
      recall += trueTop.filter((key) => top.has(key)).length / TOP;
      let sum = 0;
      for (const { key, count } of result.keys) sum += Math.abs(count - counts.get(key)!);
      error += result.keys.length > 0 ? sum / result.keys.length : 0;
      released += result.keys.length;
    }
    const ms = (performance.now() - started) / RELEASE_TRIALS;
    rows.push({
      epsilon,
      "noise scale (maxKeys/ε)": MAX_KEYS / epsilon,
      threshold,
      "keys released (of items held)": `${fmt(released / RELEASE_TRIALS, 0)} (of ${counts.size})`,
      [`recall of true top ${TOP} in released top ${TOP}`]: fmt(recall / RELEASE_TRIALS, 3),
      "mean abs. error of released counts": fmt(error / RELEASE_TRIALS, 1),
      "noise per release, ms": fmt(ms, 0),
    });
  }
  const sorted = ranked(counts).map((key) => counts.get(key)!);
  table(
    `Release accuracy: Zipf s = ${ZIPF_S} over ${ITEMS.toLocaleString("en")} items, ${SUBJECTS.toLocaleString("en")} subjects × up to ${MAX_KEYS} distinct items (true counts: #1 ${sorted[0]}, #${TOP} ${sorted[TOP - 1]}, #200 ${sorted[199]}), δ ${DELTA}, maxKeys ${MAX_KEYS}, mean of ${RELEASE_TRIALS} releases each`,
    rows,
  );
}

function benchTelemetryAccuracy(): void {
  const draw = zipf(ITEMS, ZIPF_S);
  const rows: Record<string, string | number>[] = [];
  for (const epsilon of [2, 4, 8]) {
    const params = { epsilon, ...SKETCH };
    let recall = 0;
    let error = 0;
    let standardError = 0;
    let within4 = 0;
    let reportMs = 0;
    let estimateMs = 0;
    for (let trial = 0; trial < TELEMETRY_TRIALS; trial++) {
      const sums = createSketchSums(SKETCH);
      const truth = new Map<string, number>();
      let started = performance.now();
      for (let device = 0; device < SUBJECTS; device++) {
        const value = item(draw());
        truth.set(value, (truth.get(value) ?? 0) + 1);
        addReport(sums, telemetryReport(value, params));
      }
      reportMs += performance.now() - started;
      const candidates = ranked(truth).slice(0, TELEMETRY_CANDIDATES);
      const trueTop = candidates.slice(0, TOP);
      started = performance.now();
      const estimates = estimateFrequencies(sums, SUBJECTS, candidates, params);
      estimateMs += performance.now() - started;
      const byValue = new Map(estimates.map((e) => [e.value, e]));
      const top = new Set(ranked(estimates.map((e) => [e.value, e.estimate])).slice(0, TOP));
      recall += trueTop.filter((value) => top.has(value)).length / TOP;
      for (const value of trueTop) {
        const { estimate, standardError: se } = byValue.get(value)!;
        const miss = Math.abs(estimate - truth.get(value)!);
        error += miss / SUBJECTS / TOP;
        standardError += se / SUBJECTS / TOP;
        if (miss <= 4 * se) within4 += 1 / TOP;
      }
    }
    rows.push({
      epsilon,
      [`recall of true top ${TOP} in estimated top ${TOP}`]: fmt(recall / TELEMETRY_TRIALS, 3),
      [`mean abs. error of the top ${TOP} / n`]: fmt(error / TELEMETRY_TRIALS, 4),
      "mean standard error / n": fmt(standardError / TELEMETRY_TRIALS, 4),
      "within 4 SE": fmt(within4 / TELEMETRY_TRIALS, 2),
      "reports, µs each": fmt((reportMs * 1000) / TELEMETRY_TRIALS / SUBJECTS, 1),
      "estimate, ms": fmt(estimateMs / TELEMETRY_TRIALS, 0),
    });
  }
  table(
    `Telemetry sketch accuracy: ${SUBJECTS.toLocaleString("en")} devices × one value, Zipf s = ${ZIPF_S} over ${ITEMS.toLocaleString("en")} items, sketch ${SKETCH.hashes} × ${SKETCH.width}, candidates the true top ${TELEMETRY_CANDIDATES}, mean of ${TELEMETRY_TRIALS} trials`,
    rows,
  );
}

export async function benchInsights(): Promise<void> {
  benchReleaseAccuracy();
  benchTelemetryAccuracy();
  await benchReleaseTime();
}
