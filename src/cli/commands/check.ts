/**
 * `consentgate check [folder] [--json]`: validates a policy folder the way
 * start-up does, and shows a privacy officer what the policy means in
 * practice: what a new user gets for each purpose in each region.
 */
import { parseArgs } from "node:util";
import { isConsentgateError } from "../../errors.ts";
import {
  discreteLaplaceThreshold,
  laplaceThreshold,
  type PartitionSelection,
  zcdpToEpsilon,
} from "../../noise/index.ts";
import { loadPolicy } from "../../policy/load.ts";
import { roundRho } from "../../learning/rounds.ts";
import type { InsightRelease, LearningModel, Policy, Purpose, Region, TelemetryMetric } from "../../policy/types.ts";
import { type Command, type Io, UsageError, answer, failure } from "../command.ts";
import { formatTable } from "../table.ts";

export const check: Command = {
  usage: "[folder]",
  summary: "validate a policy folder (default ./policies) and show what it decides; --json prints the compiled policy",
  async run(args, io) {
    const { positionals } = parseArgs({ args: [...args], options: {}, allowPositionals: true });
    if (positionals.length > 1) throw new UsageError(`check takes one folder, got ${positionals.length}`);
    const folder = positionals[0] ?? "./policies";
    let policy: Policy;
    try {
      policy = await loadPolicy(folder);
    } catch (error) {
      if (!isConsentgateError(error, "policy_invalid")) throw error;
      const problems = error.details.problems ?? [];
      const message = `${folder}: ${count(problems.length, "problem")}; the policy is not valid`;
      failure(io, { code: "policy_invalid", message, problems }, [...problems, message]);
      return 1;
    }
    answer(io, compiled(policy), () => describePolicy(policy, io));
    return 0;
  },
};

/**
 * The compiled policy as data: maps become objects, route matchers (functions) are left out. `implied` adds
 * what each release's parameters imply (they are not part of the policy, so gate.policy does not carry them).
 */
function compiled(policy: Policy): object {
  const implied = {
    insights: Object.fromEntries(
      Object.values(policy.insights).map((release) => {
        const { noiseScale, threshold, googleThreshold } = implications(release);
        return [release.name, { noiseScale, threshold: jsonInteger(threshold), googleThreshold }];
      }),
    ),
  };
  return { ...policy, implied };
}

/**
 * What a release's parameters imply: the scale of the discrete Laplace noise on each count, and the threshold
 * a noisy count must reach for its key to be released. `threshold` is src/noise's exact threshold for the
 * discrete noise releases add; `googleThreshold` is Google's for continuous Laplace noise; the exact one is
 * Google's rounded up, or one more (src/noise/threshold.ts). Both for (l0 = maxKeys, l∞ = 1, epsilon, delta), l∞ = 1
 * because a release counts each subject once per key. The policy refuses parameters whose threshold is not finite.
 */
function implications(release: InsightRelease): { noiseScale: number; threshold: bigint; googleThreshold: number } {
  const selection: PartitionSelection = {
    l0: release.maxKeys,
    lInf: 1,
    epsilon: release.epsilon,
    delta: release.delta,
  };
  return {
    noiseScale: release.maxKeys / release.epsilon,
    threshold: discreteLaplaceThreshold(selection),
    googleThreshold: laplaceThreshold(selection),
  };
}

/** A bigint as a JSON number when it is one exactly, else as its decimal digits. */
function jsonInteger(n: bigint): number | string {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

function describePolicy(policy: Policy, io: Io): void {
  const purposes = Object.values(policy.purposes);
  const regions = Object.values(policy.regions);
  const releases = Object.values(policy.insights);
  const metrics = Object.values(policy.telemetry);
  const models = Object.values(policy.learning);
  const extras = [
    ...(releases.length > 0 ? [count(releases.length, "release")] : []),
    ...(metrics.length > 0 ? [count(metrics.length, "telemetry metric")] : []),
    ...(models.length > 0 ? [count(models.length, "federated model")] : []),
  ];
  io.out(
    `Policy ${policy.version} is valid: ${[count(purposes.length, "purpose"), count(regions.length, "region"), count(policy.routes.length, "route"), ...extras].join(", ")}.`,
  );
  io.out(`Read from ${policy.sources.join(", ")}.`);
  io.out(
    `Region when unknown: ${policy.defaults.region}. Region header: ${policy.regionHeader ?? "none"}. Writes to unmapped routes: ${policy.defaults.unmappedWrites === "reject" ? "rejected" : "allowed"}.`,
  );

  io.out("");
  io.out("Regions");
  const regionRows = regions.map((r) => [
    r.name,
    r.model,
    r.frameworks.join(", ") || "-",
    r.gpc ?? "-",
    r.requestDeadline.text,
    r.logRetention.text,
    countries(r),
  ]);
  formatTable(
    ["region", "model", "frameworks", "GPC means", "request deadline", "log retention", "countries"],
    regionRows,
  ).forEach((line) => io.out(line));

  io.out("");
  io.out("What a new user gets, before any choice of their own");
  const decisionRows = purposes.flatMap((purpose) =>
    regions.map((region, index) => [
      index === 0 ? purpose.name : "",
      region.name,
      byDefault(purpose, region),
      withGpc(purpose, region),
      index === 0 ? String(purpose.window ?? "none") : "",
      index === 0 ? (purpose.retention?.text ?? "-") : "",
    ]),
  );
  formatTable(["purpose", "region", "by default", "with GPC", "window", "retention"], decisionRows).forEach((line) =>
    io.out(line),
  );

  if (policy.routes.length > 0) {
    io.out("");
    io.out("Routes");
    formatTable(
      ["route", "purpose"],
      policy.routes.map((route) => [`${route.method} ${route.path}`, route.purpose]),
    ).forEach((line) => io.out(line));
  }

  if (releases.length > 0) describeReleases(releases, io);
  if (metrics.length > 0) describeMetrics(metrics, io);
  if (models.length > 0) describeModels(models, io);
}

/**
 * The policy's federated models (docs/learning.md) and what their noise
 * implies: each round's zCDP rho, the epsilon of one round alone at the
 * budget's delta, and how many rounds the budget pays for.
 */
function describeModels(models: readonly LearningModel[], io: Io): void {
  io.out("");
  io.out("Federated learning: models trained on the devices");
  formatTable(
    [
      "model",
      "purpose",
      "dimensions",
      "minClients",
      "clip",
      "aggregation",
      "noise",
      "rho a round",
      "one round",
      "rounds",
      "budget",
    ],
    models.map((m) => {
      const { rho, oneRound, rounds } = learningImplications(m);
      return [
        m.model,
        m.purpose,
        String(m.dimensions),
        String(m.round.minClients),
        String(m.clip),
        m.aggregation === "trimmed-mean" ? `trimmed-mean (${m.trim})` : m.aggregation,
        String(m.noise),
        significant(rho),
        `epsilon ${oneRound.toFixed(2)}`,
        String(rounds),
        `epsilon ${m.budget.epsilon} at delta ${m.budget.delta}`,
      ];
    }),
  ).forEach((line) => io.out(line));
  io.out("rho a round: 1/(2 × noise²), zCDP; rounds add their rho, and epsilon is stated at the budget's delta.");
  io.out("rounds: how many rounds the budget pays for; then training stops (learning.stopped).");
}

/**
 * A model's rho per round, the epsilon of one round, and the rounds its
 * budget allows: the largest T with epsilon(T × rho) within the budget,
 * found by bisection (epsilon grows with rho), at most 10^9.
 */
function learningImplications(model: LearningModel): { rho: number; oneRound: number; rounds: number } {
  const rho = roundRho(model.noise);
  const fits = (rounds: number) => zcdpToEpsilon(rounds * rho, model.budget.delta) <= model.budget.epsilon + 1e-9;
  let low = 0;
  let high = 1e9;
  if (fits(high)) low = high;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle;
  }
  return { rho, oneRound: zcdpToEpsilon(rho, model.budget.delta), rounds: low };
}

/** The policy's releases (docs/insights.md): what each one counts, its privacy parameters, and the noise they imply. */
function describeReleases(releases: readonly InsightRelease[], io: Io): void {
  io.out("");
  io.out("Insights: differentially private releases");
  formatTable(
    [
      "release",
      "purpose",
      "key",
      "epsilon",
      "delta",
      "maxKeys",
      "noise scale",
      "threshold",
      "Google τ",
      "every",
      "budget",
    ],
    releases.map((r) => {
      const { noiseScale, threshold, googleThreshold } = implications(r);
      return [
        r.name,
        r.purpose,
        r.key,
        String(r.epsilon),
        String(r.delta),
        String(r.maxKeys),
        significant(noiseScale),
        threshold < 10n ** 15n ? threshold.toString() : Number(threshold).toPrecision(4),
        googleThreshold < 1e15 ? googleThreshold.toFixed(2) : googleThreshold.toPrecision(4),
        r.every.text,
        `epsilon ${r.budget.epsilon} per ${r.budget.per.text}`,
      ];
    }),
  ).forEach((line) => io.out(line));
  io.out("noise scale: maxKeys / epsilon, of the discrete Laplace noise added to each count.");
  io.out(
    "threshold: a key is released only when its noisy count reaches it (Laplace partition selection for l0 = maxKeys,",
  );
  io.out(
    "  l∞ = 1, epsilon, delta, exact for discrete noise); Google τ: the same for continuous noise, as Google's library has it.",
  );
}

/** The policy's telemetry metrics (docs/telemetry.md): the sketch each one's devices report into, and how often they may. */
function describeMetrics(metrics: readonly TelemetryMetric[], io: Io): void {
  io.out("");
  io.out("Telemetry: local differential privacy, randomized on the device");
  formatTable(
    ["metric", "purpose", "epsilon", "hashes (k)", "width (m)", "limit per subject"],
    metrics.map((m) => [
      m.name,
      m.purpose,
      String(m.epsilon),
      String(m.sketch.hashes),
      String(m.sketch.width),
      `${count(m.limit.reports, "report")} per ${m.limit.per.text}`,
    ]),
  ).forEach((line) => io.out(line));
}

/** At most 4 significant digits, without trailing zeros: 10, 0.3333, 12350. */
function significant(x: number): string {
  return String(Number(x.toPrecision(4)));
}

/** Decision rules 4 to 6 (docs/decision-rules.md), for a subject with no explicit choice. */
function byDefault(purpose: Purpose, region: Region): string {
  if (purpose.legalBasis !== "consent") return `allowed (${purpose.legalBasis})`;
  if (purpose.sensitive) return "denied until consent (sensitive)";
  return region.model === "opt-in" ? "denied until consent (opt-in)" : "allowed (opt-out)";
}

/** Decision rule 2: GPC wins over the default for sales and sharing where the region says so. */
function withGpc(purpose: Purpose, region: Region): string {
  return purpose.saleOrShare && region.gpc === "opt-out-of-sale-or-share" ? "denied (GPC)" : byDefault(purpose, region);
}

function countries(region: Region): string {
  if (region.countries.length === 0) return "none (only when named by the app)";
  return region.countries.length <= 3 ? region.countries.join(", ") : `${region.countries.length} countries`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
