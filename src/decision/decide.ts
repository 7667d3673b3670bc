/**
 * The decision rules (README: Decision rules): may this purpose's data be collected
 * from this subject, in this region, with these signals, given their latest
 * choice? Pure, so every combination can be tested without a database.
 */
import type { LegalBasis, Policy } from "../policy/types.ts";

export type DecisionSource = "explicit" | "gpc" | "legal-basis" | "region-default";

/** A subject's latest explicit choice for a purpose. */
export interface Choice {
  granted: boolean;
  /** Only ever true for a grant given while GPC was on, after the subject was told of the conflict. */
  overrideGpc: boolean;
  receiptId: string;
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

/** `region` is the region whose rules decided: the default region when the one asked for is unknown. */
export type Decision =
  | { allowed: true; purpose: string; region: string; source: DecisionSource; legalBasis: LegalBasis; receiptId: string | undefined }
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
  if (!purpose) return { allowed: false, purpose: purposeName, region: regionKey, source: "unknown", legalBasis: undefined, reason: "unknown_purpose" };

  // Runs on every gated write: the answers are built by two plain functions, not closures made per call.
  const { legalBasis } = purpose;
  if (gpc && purpose.saleOrShare && region?.gpc === "opt-out-of-sale-or-share") {
    return choice?.granted && choice.overrideGpc ? allow(purposeName, regionKey, "explicit", legalBasis, choice.receiptId) : deny(purposeName, regionKey, "gpc", legalBasis);
  }
  if (choice) return choice.granted ? allow(purposeName, regionKey, "explicit", legalBasis, choice.receiptId) : deny(purposeName, regionKey, "explicit", legalBasis);
  if (legalBasis !== "consent") return allow(purposeName, regionKey, "legal-basis", legalBasis, undefined);
  if (purpose.sensitive) return deny(purposeName, regionKey, "region-default", legalBasis);
  // A policy whose default region is missing should not load; if one does, fail closed as opt-in.
  return region?.model === "opt-out" ? allow(purposeName, regionKey, "region-default", legalBasis, undefined) : deny(purposeName, regionKey, "region-default", legalBasis);
}

function allow(purpose: string, region: string, source: DecisionSource, legalBasis: LegalBasis, receiptId: string | undefined): Decision {
  return { allowed: true, purpose, region, source, legalBasis, receiptId };
}

function deny(purpose: string, region: string, source: DecisionSource, legalBasis: LegalBasis): Decision {
  return { allowed: false, purpose, region, source, legalBasis, reason: "consent_required" };
}

/** Own properties only: "constructor" or "toString" must not name a purpose or a region. */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
