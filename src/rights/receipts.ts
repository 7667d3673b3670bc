/**
 * Consent receipts, shaped after ISO/IEC TS 27560 consent records: who chose
 * what for which purpose, under which policy version and region, when, and
 * whether the browser was sending Global Privacy Control at the time, and
 * who made the choice when it was not the subject (an agent acting for them).
 * The signature is Ed25519 over the RFC 8785 canonical JSON of every other
 * field (src/signatures/ed25519.ts), so anyone with the gate's published keys
 * can prove a receipt genuine and any edit breaks it. Receipts of version 1
 * were signed with an HMAC under the secret and keep verifying on the server.
 */
import type { DocumentSigner } from "../signatures/ed25519.ts";

export const RECEIPT_VERSION = "consentgate-receipt/2";
/** Receipts signed with an HMAC of the secret, before Ed25519: no `kid`, a hex signature. */
export const HMAC_RECEIPT_VERSION = "consentgate-receipt/1";

/**
 * A consent receipt, as `PUT /consents/:purpose` answers and exports list
 * them. Signed with Ed25519 over every other field, under the key its `kid`
 * names among those `GET /keys` publishes, so anyone can prove it genuine
 * (verifySignature) and any edit breaks it.
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
  /**
   * The receipt format: "consentgate-receipt/2" (Ed25519); "consentgate-receipt/1"
   * for receipts issued before, signed with an HMAC of the secret, without `kid`.
   */
  version: typeof RECEIPT_VERSION | typeof HMAC_RECEIPT_VERSION;
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
  /** The signing key, as `GET /keys` names it (its RFC 7638 thumbprint); signed too. Absent on version 1. */
  kid?: string;
  /**
   * Ed25519, base64url, over the RFC 8785 canonical JSON of every other
   * field (version 1: HMAC-SHA256 under a key derived from the secret, hex).
   */
  signature: string;
}

export type UnsignedReceipt = Omit<Receipt, "signature" | "version" | "kid">;

export function signReceipt(signer: Pick<DocumentSigner, "sign">, fields: UnsignedReceipt): Receipt {
  return signer.sign({ version: RECEIPT_VERSION, ...fields });
}

/** A receipt of either version, checked as it was issued (Ed25519 by its kid, or the secret's HMAC). */
export function verifyReceipt(signer: Pick<DocumentSigner, "check">, receipt: Receipt): boolean {
  return signer.check(receipt).valid;
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
  /** The key an Ed25519 receipt was signed with; null for an HMAC receipt (version 1). */
  kid: string | null;
}

/** A receipt rebuilt from its stored consent event; it verifies as the one handed out. */
export function receiptOf(signer: Pick<DocumentSigner, "check">, event: StoredConsentEvent): Receipt {
  const actor = actorOnReceipt(event.subjectId, event.actorId);
  if (event.kid !== null) {
    // Ed25519 receipts always carried their actor, and their kid before the signature.
    const { signature, ...body } = rebuilt(event, RECEIPT_VERSION);
    return { ...body, ...(actor === undefined ? {} : { actor }), kid: event.kid, signature };
  }
  const { signature, ...body } = rebuilt(event, HMAC_RECEIPT_VERSION);
  const receipt: Receipt = { ...body, ...(actor === undefined ? {} : { actor }), signature };
  // An agent's receipt from before actors were signed was issued, and verifies, without one.
  const issuedWithoutActor =
    actor !== undefined && !verifyReceipt(signer, receipt) && verifyReceipt(signer, { ...body, signature });
  return issuedWithoutActor ? { ...body, signature } : receipt;
}

function rebuilt(event: StoredConsentEvent, version: Receipt["version"]): Receipt {
  return {
    version,
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
