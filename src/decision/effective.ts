/**
 * Every purpose of the policy with the subject's latest choice and what the
 * decision rules make of it here and now: what GET /consents, the export and
 * the privacy center all show.
 */
import type { Policy, Purpose } from "../policy/types.ts";
import { type Choice, type Decision, decide } from "./decide.ts";

export interface EffectiveDecision {
  purpose: Purpose;
  choice: Choice | undefined;
  decision: Decision;
}

export function effectiveDecisions(
  policy: Policy,
  where: { region: string; gpc: boolean },
  choices: ReadonlyMap<string, Choice>,
): EffectiveDecision[] {
  return Object.values(policy.purposes).map((purpose) => {
    const choice = choices.get(purpose.name);
    return {
      purpose,
      choice,
      decision: decide({ policy, purpose: purpose.name, region: where.region, gpc: where.gpc, choice }),
    };
  });
}
