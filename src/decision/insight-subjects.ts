/**
 * Whose rows an insight release may count, as region lists the release's
 * SQL can apply (src/store/interactions.ts, KeyCountSpec): for each state a
 * subject's choice for the purpose can be in (none, granted, granted over
 * GPC, withdrawn), the regions where the decision rules allow the purpose.
 *
 * A release runs without a request, so whether the person's browser sends
 * Global Privacy Control is unknown. Fail closed: a subject counts only when
 * the purpose is allowed whether or not GPC is on, i.e. under both
 * decisions. For a purpose that is not sold or shared, or a region without
 * the GPC rule, the two are the same.
 */
import type { Policy } from "../policy/types.ts";
import { type Choice, decide } from "./decide.ts";

export interface InsightSubjects {
  /** The region rows with no (or an unknown) region count under. */
  defaultRegion: string;
  regions: string[];
  allowedWith: { none: string[]; granted: string[]; override: string[]; withdrawn: string[] };
}

const at = new Date(0);
const CHOICES: Record<keyof InsightSubjects["allowedWith"], Choice | undefined> = {
  none: undefined,
  granted: { granted: true, overrideGpc: false, receiptId: "", at },
  override: { granted: true, overrideGpc: true, receiptId: "", at },
  withdrawn: { granted: false, overrideGpc: false, receiptId: "", at },
};

/**
 * @example
 * ```ts
 * const subjects = insightSubjects(policy, "personalization");
 * subjects.allowedWith.none; // e.g. ["US-CA"]: opt-out regions count people who never chose
 * ```
 */
export function insightSubjects(policy: Policy, purpose: string): InsightSubjects {
  const regions = Object.keys(policy.regions);
  const allowed = (choice: Choice | undefined) =>
    regions.filter((region) => [false, true].every((gpc) => decide({ policy, purpose, region, gpc, choice }).allowed));
  return {
    defaultRegion: policy.defaults.region,
    regions,
    allowedWith: {
      none: allowed(CHOICES.none),
      granted: allowed(CHOICES.granted),
      override: allowed(CHOICES.override),
      withdrawn: allowed(CHOICES.withdrawn),
    },
  };
}
