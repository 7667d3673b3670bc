/**
 * The write gate for one purpose: decide, refuse (403, counted, nothing
 * stored) or admit with the body replaced by its minimized form.
 */
import type { Request } from "express";
import type { Core } from "../core.ts";
import { ConsentgateError } from "../errors.ts";
import type { Decision } from "../decision/decide.ts";
import { createPrivacy, decideNow, markAdmitted, type Privacy } from "./privacy.ts";

/**
 * Returns nothing when it could decide at once (warm consent cache: no
 * promise, no extra tick on the hot path), or a promise when it had to read.
 * `privacy`: req.privacy, when the caller has it at hand (a read of req is not free in Express 5).
 */
export function admit(core: Core, req: Request, purpose: string, privacy: Privacy = (req.privacy ??= createPrivacy(core, req))): void | Promise<void> {
  // A route both mapped in the policy and gated in code is checked once.
  if (privacy.admitted?.purpose === purpose) return;
  if (!core.minimizers.has(purpose)) throw new ConsentgateError("unknown_purpose", `unknown purpose "${purpose}"`, { purpose, region: privacy.region });
  // The decision rules and the ability are the same pure function; the gate
  // asks the rules directly so that one write does not decide every purpose.
  const decision = decideNow(privacy, purpose);
  if (decision) return settle(core, req, privacy, purpose, decision);
  return privacy.decide(purpose).then((read) => settle(core, req, privacy, purpose, read));
}

function settle(core: Core, req: Request, privacy: Privacy, purpose: string, decision: Decision): void {
  if (!decision.allowed) {
    core.blockedWrites.add(privacy.region, purpose, core.now());
    throw new ConsentgateError(
      "consent_required",
      `collecting data for "${purpose}" needs the user's consent in region ${privacy.region}; they can give it with PUT /consents/${purpose} on the privacy router`,
      { purpose, region: privacy.region },
    );
  }
  // Frozen, so that record(req.body) can trust it is still the minimized body
  // (re-minimizing would hash hashed fields twice) and nothing is added to it.
  const body = deepFreeze(core.minimizers.get(purpose)!(req.body ?? {}));
  req.body = body;
  markAdmitted(privacy, purpose, decision, body);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    // The own enumerable values, as Object.values gives them, without an array per object of every write.
    for (const key in value) if (Object.hasOwn(value, key)) deepFreeze(value[key]);
  }
  return value;
}
