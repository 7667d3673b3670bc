/**
 * Differentially private releases of what is popular (policy:
 * `purposes.<p>.insights.<name>`, docs/insights.md). A release counts, per
 * key, the distinct subjects whose unexpired rows of the purpose hold it,
 * among the subjects the purpose is allowed for now (whatever their GPC
 * signal: src/decision/insight-subjects.ts), each subject bounded to
 * `maxKeys` keys; adds discrete Laplace noise of scale maxKeys/epsilon to
 * every count, drawn exactly from node:crypto (src/noise/); and keeps a key
 * only when its noisy count reaches the partition-selection threshold for
 * (l0 = maxKeys, l∞ = 1, epsilon, delta), so that a key only a few people
 * hold is almost never revealed.
 *
 * Why that is (epsilon, delta)-DP: adding or removing one subject changes at
 * most maxKeys counts, each by one (L1 sensitivity maxKeys), so discrete
 * Laplace of scale maxKeys/epsilon gives epsilon-DP to the keys present with
 * and without them (Canonne, Kamath, Steinke 2020, §2, for the discrete
 * Laplace; Dwork & Roth 2014, Thm 3.6, for the Laplace mechanism), and the
 * threshold bounds by delta the chance that any of the at most maxKeys keys
 * present only because of them is released (Wilson et al. 2020, §3; the
 * exact discrete threshold in src/noise/threshold.ts).
 *
 * The store does the counting and the ledger in one transaction; this module
 * decides who is counted and draws the noise. Raw counts never leave that
 * call: they are not returned, stored or logged.
 */
import { randomBytes } from "node:crypto";
import type { ComplianceLog } from "../audit/events.ts";
import { insightSubjects } from "../decision/insight-subjects.ts";
import { ConsentgateError } from "../errors.ts";
import { discreteLaplaceSampler, discreteLaplaceThreshold, rationalFromDecimal } from "../noise/index.ts";
import { addDuration, subtractDuration } from "../policy/duration.ts";
import type { InsightRelease, Policy } from "../policy/types.ts";
import type { InsightStore, InsightView, Noise, ReleasedKey, ReleaseOutcome } from "../store/insights.ts";

export interface InsightDeps {
  readonly policy: Policy;
  readonly store: InsightStore;
  readonly log: Pick<ComplianceLog, "prepare">;
  readonly now: () => Date;
}

/**
 * What `gate.insights.release()` answers: released (how many keys, the
 * threshold they passed, the epsilon now spent in the budget's period), or
 * refused by the budget. Never a count.
 *
 * @example
 * ```ts
 * import type { ReleaseResult } from "consentgate";
 *
 * const result: ReleaseResult = await gate.insights.release("popular");
 * if (!result.released) console.warn(`${result.name}: ${result.code} (${result.spent}/${result.budget})`);
 * ```
 */
export type ReleaseResult =
  | { released: true; name: string; releasedAt: Date; keys: number; threshold: number; spent: number; budget: number }
  | { released: false; name: string; code: "budget_exhausted"; spent: number; budget: number };

/** The release `name` of the policy, or `not_found`. */
export function releaseOf(policy: Policy, name: string): InsightRelease {
  const release = Object.hasOwn(policy.insights, name) ? policy.insights[name] : undefined;
  if (!release) throw new ConsentgateError("not_found", `no insight release named "${name}" in the policy`);
  return release;
}

/**
 * The noise of one release: discrete Laplace of scale maxKeys/epsilon on
 * every count (the scale exact: epsilon as the decimal the policy wrote), then the
 * threshold. Exported for the tests, which check it on known counts.
 */
export function releaseNoise(release: Pick<InsightRelease, "epsilon" | "delta" | "maxKeys">): Noise & {
  threshold: bigint;
} {
  const epsilon = rationalFromDecimal(release.epsilon);
  const sample = discreteLaplaceSampler({ num: BigInt(release.maxKeys) * epsilon.den, den: epsilon.num });
  const threshold = discreteLaplaceThreshold({
    l0: release.maxKeys,
    lInf: 1,
    epsilon: release.epsilon,
    delta: release.delta,
  });
  const noise = (counts: ReadonlyMap<string, number>) => {
    const keys: ReleasedKey[] = [];
    for (const [key, count] of counts) {
      const noisy = BigInt(count) + sample();
      if (noisy >= threshold) keys.push({ key, count: Number(noisy) });
    }
    keys.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { threshold: Number(threshold), keys };
  };
  return Object.assign(noise, { threshold });
}

/** Releases `name` now, or refuses it when its budget would be overspent (logged either way, in every region). */
export async function releaseInsight(deps: InsightDeps, name: string): Promise<ReleaseResult> {
  const { policy } = deps;
  const release = releaseOf(policy, name);
  const now = deps.now();
  const subjects = insightSubjects(policy, release.purpose);
  const noise = releaseNoise(release);
  const regions = Object.keys(policy.regions);
  const outcome: ReleaseOutcome = await deps.store.release(
    {
      name,
      purpose: release.purpose,
      epsilon: release.epsilon,
      delta: release.delta,
      budget: { epsilon: release.budget.epsilon, since: subtractDuration(now, release.budget.per) },
      now,
      count: {
        purpose: release.purpose,
        keyPath: release.key.split("."),
        defaultRegion: subjects.defaultRegion,
        regions: subjects.regions,
        allowedWith: subjects.allowedWith,
        maxKeys: release.maxKeys,
        salt: randomBytes(16).toString("hex"),
      },
      logged: (result) =>
        regions.map((region) =>
          deps.log.prepare(
            result.kind === "released"
              ? {
                  region,
                  event: "insights.released",
                  details: {
                    name,
                    purpose: release.purpose,
                    epsilon: release.epsilon,
                    delta: release.delta,
                    threshold: result.release.threshold,
                    keys: result.release.keys.length,
                    spent: result.spent,
                    budget: release.budget.epsilon,
                  },
                }
              : {
                  region,
                  event: "insights.refused",
                  details: {
                    name,
                    purpose: release.purpose,
                    epsilon: release.epsilon,
                    spent: result.spent,
                    budget: result.budget,
                    code: "budget_exhausted",
                  },
                },
          ),
        ),
    },
    noise,
  );
  if (outcome.kind === "refused") {
    return { released: false, name, code: "budget_exhausted", spent: outcome.spent, budget: outcome.budget };
  }
  return {
    released: true,
    name,
    releasedAt: outcome.release.releasedAt,
    keys: outcome.release.keys.length,
    threshold: outcome.release.threshold,
    spent: outcome.spent,
    budget: release.budget.epsilon,
  };
}

/** The most keys one answer lists; `k` defaults to 20. */
export const MAX_K = 1000;
const DEFAULT_K = 20;

/** The newest release of `name`, its top `k` keys (`not_found` for a name the policy does not have). */
export async function latestInsight(
  deps: Pick<InsightDeps, "policy" | "store">,
  name: string,
  { k = DEFAULT_K }: { k?: number } = {},
): Promise<InsightView | undefined> {
  releaseOf(deps.policy, name);
  if (!Number.isSafeInteger(k) || k < 1 || k > MAX_K) {
    throw new ConsentgateError("invalid_body", `k must be an integer from 1 to ${MAX_K}, got ${k}`);
  }
  const stored = await deps.store.latest(name);
  if (!stored) return undefined;
  const { id: _id, ...view } = stored;
  return { ...view, keys: view.keys.slice(0, k) };
}

/** When the job may release `name` next: its newest release plus the policy's `every` (now, if none). */
export function nextReleaseAt(release: InsightRelease, latest: Pick<InsightView, "releasedAt"> | undefined): Date {
  return latest ? addDuration(latest.releasedAt, release.every) : new Date(0);
}

/** The insights job: every release of the policy that is due is released (or refused by its budget). */
export async function releaseDue(
  deps: InsightDeps,
  now: Date,
): Promise<{ released: string[]; refused: string[]; notDue: string[] }> {
  const result = { released: [] as string[], refused: [] as string[], notDue: [] as string[] };
  for (const [name, release] of Object.entries(deps.policy.insights)) {
    if (nextReleaseAt(release, await deps.store.latest(name)) > now) {
      result.notDue.push(name);
      continue;
    }
    const outcome = await releaseInsight({ ...deps, now: () => now }, name);
    (outcome.released ? result.released : result.refused).push(name);
  }
  return result;
}
