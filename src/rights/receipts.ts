/**
 * Consent receipts, shaped after ISO/IEC TS 27560 consent records: who chose
 * what for which purpose, under which policy version and region, when, and
 * whether the browser was sending Global Privacy Control at the time, and
 * who made the choice when it was not the subject (an agent acting for them).
 * The signature is an HMAC of the canonical JSON of every other field, so the
 * holder of the secret can prove a receipt genuine and any edit breaks it.
 */
import type { Keyring } from "../signatures/hmac.ts";

export const RECEIPT_VERSION = "consentgate-receipt/1";

/**
 * A consent receipt, as `PUT /consents/:purpose` answers and exports list
 * them. Signed with the gate's secret over every other field, so the
 * holder of the secret can prove it genuine and any edit breaks it.
 *
 * @example
 * ```ts
 * import type { Receipt } from "consentgate";
 *
 * // In a browser, after the user flips a switch.
 * async function choose(purpose: string, granted: boolean): Promise<Receipt> {
 *   const res = await fetch(`/privacy/consents/${purpose}`, {
 *     method: "PUT",
 *     headers: { "content-type": "application/json" },
 *     body: JSON.stringify({ granted }),
 *   });
 *   if (!res.ok) throw new Error(`consent not recorded: ${res.status}`);
 *   return (await res.json()) as Receipt;
 * }
 * ```
 */
export interface Receipt {
  /** The receipt format: "consentgate-receipt/1". */
  version: typeof RECEIPT_VERSION;
  /** The receipt's id; interactions it let in name it as their `receiptId`. */
  id: string;
  /** Whose choice it is. */
  subject: string;
  /** The purpose chosen for. */
  purpose: string;
  /** true: granted; false: withdrawn or refused. */
  granted: boolean;
  /** The version of the policy in force. */
  policyVersion: string;
  /** The policy region the choice was made in. */
  region: string;
  /** ISO 8601. */
  at: string;
  /** The browser sent Sec-GPC: 1 when the choice was made. */
  gpc: boolean;
  /** A grant given under GPC after the conflict was shown (wins over GPC, docs/decision-rules.md, rule 2). */
  overrideGpc: boolean;
  /**
   * The agent who made the choice for the subject; absent when the subject
   * made it. Signed like every other field (receipts signed before actors
   * were signed have none, and verify as they were issued).
   */
  actor?: string;
  /** HMAC-SHA256, under a key derived from the gate's secret, of the canonical JSON of every other field (hex). */
  signature: string;
}

export type UnsignedReceipt = Omit<Receipt, "signature" | "version">;

export function signReceipt(keyring: Pick<Keyring, "sign">, fields: UnsignedReceipt): Receipt {
  const body = { version: RECEIPT_VERSION, ...fields } as const;
  return { ...body, signature: keyring.sign(body) };
}

export function verifyReceipt(keyring: Pick<Keyring, "verify">, receipt: Receipt): boolean {
  const { signature, ...body } = receipt;
  return typeof signature === "string" && keyring.verify(body, signature);
}

/** The actor a receipt names: someone other than the subject, else none. */
export const actorOnReceipt = (subjectId: string, actorId: string | null | undefined): string | undefined =>
  actorId != null && actorId !== subjectId ? actorId : undefined;

export interface StoredConsentEvent {
  id: string;
  subjectId: string;
  purpose: string;
  granted: boolean;
  policyVersion: string;
  region: string;
  at: Date;
  gpc: boolean;
  overrideGpc: boolean;
  actorId: string | null;
  signature: string;
}

/** A receipt rebuilt from its stored consent event; it verifies as the one handed out. */
export function receiptOf(keyring: Pick<Keyring, "verify">, event: StoredConsentEvent): Receipt {
  const actor = actorOnReceipt(event.subjectId, event.actorId);
  const { signature, ...body } = rebuilt(event);
  const receipt: Receipt = { ...body, ...(actor === undefined ? {} : { actor }), signature };
  // An agent's receipt from before actors were signed was issued, and verifies, without one.
  const issuedWithoutActor = actor !== undefined && !verifyReceipt(keyring, receipt) && keyring.verify(body, signature);
  return issuedWithoutActor ? { ...body, signature } : receipt;
}

function rebuilt(event: StoredConsentEvent): Receipt {
  return {
    version: RECEIPT_VERSION,
    id: event.id,
    subject: event.subjectId,
    purpose: event.purpose,
    granted: event.granted,
    policyVersion: event.policyVersion,
    region: event.region,
    at: event.at.toISOString(),
    gpc: event.gpc,
    overrideGpc: event.overrideGpc,
    signature: event.signature,
  };
}
