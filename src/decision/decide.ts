/**
 * The decision rules (docs/decision-rules.md): may this purpose's data be collected
 * from this subject, in this region, with these signals, given their latest
 * choice? Pure, so every combination can be tested without a database.
 */
import type { LegalBasis, Policy } from "../policy/types.ts";

/**
 * Which decision rule decided (docs/decision-rules.md): the subject's own
 * choice (`explicit`), Global Privacy Control (`gpc`), a legal basis other
 * than consent (`legal-basis`), or the region's opt-in/opt-out model
 * (`region-default`).
 *
 * @example
 * ```ts
 * import type { DecisionSource } from "consentgate";
 *
 * const why: Record<DecisionSource, string> = {
 *   explicit: "you chose so",
 *   gpc: "your browser asks not to sell or share",
 *   "legal-basis": "needed to provide the service",
 *   "region-default": "the default where you are",
 * };
 * ```
 */
export type DecisionSource = "explicit" | "gpc" | "legal-basis" | "region-default";

/**
 * The latest choice of a subject for a purpose, as the decision rules read
 * it: what `gate.store.consents.current()` returns per purpose.
 *
 * @example
 * ```ts
 * import type { Choice } from "consentgate";
 *
 * const choices: Record<string, Choice> = await gate.store.consents.current("alice");
 * const optedOut = Object.entries(choices).filter(([, choice]) => !choice.granted).map(([purpose]) => purpose);
 * ```
 */
export interface Choice {
  /** true: granted; false: withdrawn or refused. */
  granted: boolean;
  /** A grant given while GPC was on, after the subject was told of the conflict: it wins over GPC. */
  overrideGpc: boolean;
  /** The id of the receipt handed out for the choice. */
  receiptId: string;
  /** When the choice was made. */
  at: Date;
}

export interface DecisionInput {
  policy: Policy;
  purpose: string;
  /** A region name; one the policy does not define is decided under `policy.defaults.region`. */
  region: string;
  gpc: boolean;
  choice: Choice | undefined;
}

/**
 * The decision rules' answer for one purpose, subject, region and set of
 * signals (docs/decision-rules.md), as `req.privacy.decide()` returns it.
 * `region` is the region whose rules decided: the default region when the
 * one asked for is unknown. Allowed: `source` says which rule allowed it and
 * `receiptId` names the consent receipt when a choice did. Denied: `reason`
 * is `consent_required` or, for a purpose the policy lacks,
 * `unknown_purpose` (with `source: "unknown"`).
 *
 * @example
 * ```ts
 * import type { Decision } from "consentgate";
 *
 * const explain = (d: Decision) => (d.allowed ? `allowed (${d.source})` : `refused: ${d.reason} in ${d.region}`);
 * app.get("/api/why/:purpose", async (req, res) => {
 *   res.json({ answer: explain(await req.privacy.decide(req.params.purpose)) });
 * });
 * ```
 */
export type Decision =
  | {
      allowed: true;
      purpose: string;
      region: string;
      source: DecisionSource;
      legalBasis: LegalBasis;
      receiptId: string | undefined;
    }
  | {
      allowed: false;
      purpose: string;
      region: string;
      source: DecisionSource | "unknown";
      legalBasis: LegalBasis | undefined;
      reason: "unknown_purpose" | "consent_required";
    };

export function decide({ policy, purpose: purposeName, region: regionName, gpc, choice }: DecisionInput): Decision {
  const regionKey = Object.hasOwn(policy.regions, regionName) ? regionName : policy.defaults.region;
  const region = own(policy.regions, regionKey);
  const purpose = own(policy.purposes, purposeName);
  if (!purpose)
    return {
      allowed: false,
      purpose: purposeName,
      region: regionKey,
      source: "unknown",
      legalBasis: undefined,
      reason: "unknown_purpose",
    };

  // Runs on every gated write: the answers are built by two plain functions, not closures made per call.
  const { legalBasis } = purpose;
  if (gpc && purpose.saleOrShare && region?.gpc === "opt-out-of-sale-or-share") {
    return choice?.granted && choice.overrideGpc
      ? allow(purposeName, regionKey, "explicit", legalBasis, choice.receiptId)
      : deny(purposeName, regionKey, "gpc", legalBasis);
  }
  if (choice)
    return choice.granted
      ? allow(purposeName, regionKey, "explicit", legalBasis, choice.receiptId)
      : deny(purposeName, regionKey, "explicit", legalBasis);
  if (legalBasis !== "consent") return allow(purposeName, regionKey, "legal-basis", legalBasis, undefined);
  if (purpose.sensitive) return deny(purposeName, regionKey, "region-default", legalBasis);
  // A policy whose default region is missing should not load; if one does, fail closed as opt-in.
  return region?.model === "opt-out"
    ? allow(purposeName, regionKey, "region-default", legalBasis, undefined)
    : deny(purposeName, regionKey, "region-default", legalBasis);
}

function allow(
  purpose: string,
  region: string,
  source: DecisionSource,
  legalBasis: LegalBasis,
  receiptId: string | undefined,
): Decision {
  return { allowed: true, purpose, region, source, legalBasis, receiptId };
}

function deny(purpose: string, region: string, source: DecisionSource, legalBasis: LegalBasis): Decision {
  return { allowed: false, purpose, region, source, legalBasis, reason: "consent_required" };
}

/** Own properties only: "constructor" or "toString" must not name a purpose or a region. */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
