/**
 * Local-DP telemetry on the server (policy: `telemetry.<metric>`,
 * docs/telemetry.md): accepting one device's report under the metric's
 * purpose and per-subject limit, and estimating frequencies from the sums.
 *
 * The device randomized the report before sending it (consentgate/client's
 * telemetryReport), so each report is epsilon-LDP on its own; the server adds
 * its ±1 into one sketch cell and keeps, per subject, only when it reported
 * (for the limit, which also bounds what one person adds to the sketch).
 */
import type { Decision } from "../decision/decide.ts";
import { refusalMessage } from "../decision/refusal.ts";
import { ConsentgateError } from "../errors.ts";
import { addDuration, subtractDuration } from "../policy/duration.ts";
import type { Policy, TelemetryMetric } from "../policy/types.ts";
import type { TelemetryStore } from "../store/telemetry.ts";
import {
  estimateFrequencies,
  sketchSumsFromCells,
  type TelemetryFrequencies,
  validateReport,
} from "../telemetry/sketch.ts";

export interface TelemetryDeps {
  readonly policy: Policy;
  readonly store: TelemetryStore;
  readonly now: () => Date;
}

/** The most candidates one estimate takes: each costs k hashes, and the HTTP route lists them in the query. */
export const MAX_CANDIDATES = 1000;

/** The metric `name` of the policy, or `not_found`. */
export function metricOf(policy: Policy, name: string): TelemetryMetric {
  const metric = Object.hasOwn(policy.telemetry, name) ? policy.telemetry[name] : undefined;
  if (!metric) throw new ConsentgateError("not_found", `no telemetry metric named "${name}" in the policy`);
  return metric;
}

/**
 * The sketch a metric's reports are summed into: its name with the
 * parameters the devices randomized and hashed under. Reports made under
 * other parameters cannot be read with these (the estimator would be
 * biased), so a policy that changes a metric's epsilon, hashes or width
 * starts a new sketch; the old sums stay behind, unread.
 */
export function sketchId(name: string, metric: Pick<TelemetryMetric, "epsilon" | "sketch">): string {
  return `${name}/${metric.epsilon}/${metric.sketch.hashes}x${metric.sketch.width}`;
}

/** Who reports, and how the request decides the metric's purpose (req.privacy.decide). */
export interface Reporter {
  subjectId: string | undefined;
  region: string;
  decide(purpose: string): Promise<Decision>;
}

/**
 * Accepts one report: the metric must exist (`not_found`), the reporter be
 * signed in (`unauthenticated`), the body be a record of the metric's sketch
 * (`invalid_body`), the purpose be allowed for them as for a write
 * (`consent_required`; a decision that cannot be made rejects with
 * `consent_unavailable`), and their limit not be used up (`report_limit`,
 * with `details.retryAfter` in seconds). Nothing is stored unless all hold.
 */
export async function acceptReport(deps: TelemetryDeps, name: string, reporter: Reporter, body: unknown) {
  const metric = metricOf(deps.policy, name);
  const { subjectId } = reporter;
  if (subjectId === undefined) throw new ConsentgateError("unauthenticated", "sign in to send telemetry reports");
  const record = validateReport(body, metric.sketch);
  const decision = await reporter.decide(metric.purpose);
  if (!decision.allowed) {
    throw new ConsentgateError("consent_required", refusalMessage(deps.policy, decision, true), {
      purpose: metric.purpose,
      region: reporter.region,
    });
  }
  const now = deps.now();
  const outcome = await deps.store.report({
    subjectId,
    metric: name,
    sketch: sketchId(name, metric),
    ...record,
    now,
    since: subtractDuration(now, metric.limit.per),
    limit: metric.limit.reports,
  });
  if (!outcome.accepted) {
    const retryAfter = Math.max(
      1,
      Math.ceil((addDuration(outcome.oldest, metric.limit.per).getTime() - now.getTime()) / 1000),
    );
    throw new ConsentgateError(
      "report_limit",
      `at most ${metric.limit.reports} report(s) to "${name}" per ${metric.limit.per.text}; try again in ${retryAfter} s`,
      { metric: name, retryAfter },
    );
  }
}

/** Each candidate's estimated frequency in the metric, from the stored sums (Apple's HCMS estimator). */
export async function metricFrequencies(
  deps: Pick<TelemetryDeps, "policy" | "store">,
  name: string,
  candidates: readonly string[],
): Promise<TelemetryFrequencies> {
  const metric = metricOf(deps.policy, name);
  if (!Array.isArray(candidates) || candidates.length === 0 || candidates.length > MAX_CANDIDATES) {
    throw new ConsentgateError("invalid_body", `candidates must list 1 to ${MAX_CANDIDATES} values`);
  }
  for (const value of candidates) {
    if (typeof value !== "string" || value.length === 0 || !isWellFormed(value)) {
      throw new ConsentgateError("invalid_body", "each candidate must be a non-empty string without lone surrogates");
    }
  }
  const cells = await deps.store.cells(sketchId(name, metric));
  let reports = 0;
  for (const cell of cells) reports += cell.reports;
  const params = { epsilon: metric.epsilon, hashes: metric.sketch.hashes, width: metric.sketch.width };
  const sums = sketchSumsFromCells(params, cells);
  const estimates = estimateFrequencies(sums, reports, candidates, params).map(
    ({ value, estimate, standardError }) => ({ value, frequency: estimate, standardError }),
  );
  return { metric: name, reports, estimates };
}

/** String.prototype.isWellFormed (ES2024, not in this project's lib): no lone UTF-16 surrogate. */
function isWellFormed(value: string): boolean {
  return !/\p{Surrogate}/u.test(value);
}
