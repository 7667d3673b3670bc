/**
 * What a refused write tells its caller: which decision rule said no
 * (docs/decision-rules.md) and the one step that would change the answer.
 * A message that names the wrong step sends people in circles: an anonymous
 * caller told to PUT /consents gets a 401 there, and someone who opted out
 * is not helped by being told that consent is needed.
 */
import type { Policy } from "../policy/types.ts";
import type { Decision } from "./decide.ts";

/**
 * The message of the `consent_required` error for a refused decision.
 * `signedIn` is false for an anonymous request, which cannot give consent.
 *
 * @example
 * ```ts
 * const decision = decide({ policy, purpose: "personalization", region: "US-CA", gpc: false, choice });
 * if (!decision.allowed) throw new ConsentgateError("consent_required", refusalMessage(policy, decision, true));
 * ```
 */
export function refusalMessage(policy: Policy, decision: Decision & { allowed: false }, signedIn: boolean): string {
  const { purpose, region } = decision;
  const collecting = `collecting data for "${purpose}"`;
  const change = `PUT /consents/${purpose} on the privacy router`;
  if (!signedIn) {
    return `${collecting} needs the consent of a signed-in user in region ${region}; this request is anonymous: sign in first, then give it with ${change}`;
  }
  switch (decision.source) {
    case "gpc":
      return `${collecting} is refused in region ${region}: the browser sends Global Privacy Control, which opts the user out of the sale or sharing of their data; they can still allow it with ${change}, body {"granted": true, "overrideGpc": true}`;
    case "explicit":
      return Object.hasOwn(policy.regions, region) && policy.regions[region]?.model === "opt-out"
        ? `${collecting} is refused: the user opted out of it in region ${region}; they can opt back in with ${change}`
        : `${collecting} is refused: the user withdrew or declined their consent in region ${region}; they can give it with ${change}`;
    default:
      return Object.hasOwn(policy.purposes, purpose) && policy.purposes[purpose]?.sensitive
        ? `${collecting} needs the user's explicit consent in every region (sensitive data), and they have not given it in region ${region}; they can give it with ${change}`
        : `${collecting} needs the user's consent in region ${region}; they can give it with ${change}`;
  }
}
