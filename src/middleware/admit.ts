/**
 * The write gate for one purpose: decide, refuse (403, counted, nothing
 * stored) or admit with the body replaced by its minimized form.
 */
import type { Request } from "express";
import type { BlockedWrites } from "../audit/blocked-writes.ts";
import type { Decision } from "../decision/decide.ts";
import { refusalMessage } from "../decision/refusal.ts";
import { ConsentgateError } from "../errors.ts";
import { type PrivacyDeps, createPrivacy, decideNow, markAdmitted } from "./privacy.ts";

/** What the write gate needs beyond req.privacy's own: somewhere to count refused writes. */
export interface GateDeps extends PrivacyDeps {
  /** Counts refused writes for the compliance log's `write.blocked` entries. */
  readonly blockedWrites: Pick<BlockedWrites, "add">;
}

/**
 * Returns nothing when it could decide at once (warm consent cache: no
 * promise, no extra tick on the hot path), or a promise when it had to read.
 */
export function admit(deps: GateDeps, req: Request, purpose: string): void | Promise<void> {
  req.privacy ??= createPrivacy(deps, req);
  const privacy = req.privacy;
  // A route both mapped in the policy and gated in code is checked once.
  if (privacy.admitted?.purpose === purpose) return;
  if (!deps.minimizers.has(purpose)) throw new ConsentgateError("unknown_purpose", `unknown purpose "${purpose}"`, { purpose, region: privacy.region });
  // The decision rules and the ability are the same pure function; the gate
  // asks the rules directly so that one write does not decide every purpose.
  const decision = decideNow(privacy, purpose);
  if (decision) return settle(deps, req, purpose, decision);
  return privacy.decide(purpose).then((read) => settle(deps, req, purpose, read));
}

function settle(deps: GateDeps, req: Request, purpose: string, decision: Decision): void {
  const privacy = req.privacy;
  if (!decision.allowed) {
    deps.blockedWrites.add(privacy.region, purpose, deps.now());
    throw new ConsentgateError("consent_required", refusalMessage(deps.policy, decision, privacy.subject !== undefined), { purpose, region: privacy.region });
  }
  // Frozen, so that record(req.body) can trust it is still the minimized body
  // (re-minimizing would hash hashed fields twice) and nothing is added to it.
  req.body = deepFreeze(deps.minimizers.get(purpose)!(req.body ?? {}));
  markAdmitted(privacy, purpose, decision, req.body);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
