/**
 * The write gate for one purpose: decide, refuse (403, counted, nothing
 * stored) or admit with the body replaced by its minimized form.
 */
import type { Request } from "express";
import type { Core } from "../core.ts";
import { ConsentgateError } from "../errors.ts";
import { createPrivacy, markAdmitted } from "./privacy.ts";

export async function admit(core: Core, req: Request, purpose: string): Promise<void> {
  req.privacy ??= createPrivacy(core, req);
  const privacy = req.privacy;
  // A route both mapped in the policy and gated in code is checked once.
  if (privacy.admitted?.purpose === purpose) return;
  const minimize = core.minimizers.get(purpose);
  if (!minimize) throw new ConsentgateError("unknown_purpose", `unknown purpose "${purpose}"`, { purpose, region: privacy.region });
  // The decision rules and the ability are the same pure function; the gate
  // asks the rules directly so that one write does not decide every purpose.
  const decision = await privacy.decide(purpose);
  if (!decision.allowed) {
    core.blockedWrites.add(privacy.region, purpose, core.now());
    throw new ConsentgateError(
      "consent_required",
      `collecting data for "${purpose}" needs the user's consent in region ${privacy.region}; they can give it with PUT /consents/${purpose} on the privacy router`,
      { purpose, region: privacy.region },
    );
  }
  req.body = minimize(req.body ?? {});
  markAdmitted(privacy, purpose, decision, req.body);
}
