/**
 * The write gate for one purpose: decide, refuse (403, counted, nothing
 * stored) or admit with the body replaced by its minimized form.
 */
import type { Request } from "express";
import type { BlockedWrites } from "../audit/blocked-writes.ts";
import type { Decision } from "../decision/decide.ts";
import { refusalMessage } from "../decision/refusal.ts";
import { ConsentgateError } from "../errors.ts";
import type { GateMetrics } from "../metrics/observations.ts";

/** What the write gate needs beyond req.privacy's own: somewhere to count refused writes. */
export interface GateDeps extends PrivacyDeps {
  /** Counts refused writes for the compliance log's `write.blocked` entries. */
  readonly blockedWrites: Pick<BlockedWrites, "add">;
  /**
   * Runs the rest of the request inside its privacy context, where the
   * host's gated Prisma models find whose data a write is about.
   */
  readonly enter: (privacy: Privacy, next: () => void) => void;
  /** Counts each decision by purpose, region and outcome. */
  readonly metrics: Pick<GateMetrics, "decided">;
}
import { type Privacy, type PrivacyDeps, createPrivacy, decideNow, markAdmitted } from "./privacy.ts";

/**
 * Returns nothing when it could decide at once (warm consent cache: no
 * promise, no extra tick on the hot path), or a promise when it had to read.
 * `privacy`: req.privacy, when the caller has it at hand (a read of req is not free in Express 5).
 */
export function admit(
  deps: GateDeps,
  req: Request,
  purpose: string,
  privacy: Privacy = (req.privacy ??=
    createPrivacy(deps, req)),
): void | Promise<void> {
  // A route both mapped in the policy and gated in code is checked once.
  if (privacy.admitted?.purpose === purpose) return;
  if (!deps.minimizers.has(purpose))
    throw new ConsentgateError("unknown_purpose", `unknown purpose "${purpose}"`, { purpose, region: privacy.region });
  // The decision rules and the ability are the same pure function; the gate
  // asks the rules directly so that one write does not decide every purpose.
  const decision = decideNow(privacy, purpose);
  if (decision) return settle(deps, req, privacy, purpose, decision);
  return privacy.decide(purpose).then(
    (read) => settle(deps, req, privacy, purpose, read),
    (error: unknown) => {
      deps.metrics.decided(purpose, privacy.region, "unavailable");
      throw error;
    },
  );
}

function settle(deps: GateDeps, req: Request, privacy: Privacy, purpose: string, decision: Decision): void {
  deps.metrics.decided(purpose, privacy.region, decision.allowed ? "allowed" : "denied");
  if (!decision.allowed) {
    deps.blockedWrites.add(privacy.region, purpose, deps.now());
    throw new ConsentgateError(
      "consent_required",
      refusalMessage(deps.policy, decision, privacy.subject !== undefined),
      { purpose, region: privacy.region },
    );
  }
  // Frozen, so that record(req.body) can trust it is still the minimized body
  // (re-minimizing would hash hashed fields twice) and nothing is added to it.
  const body = deepFreeze(deps.minimizers.get(purpose)!(req.body ?? {}));
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
