/**
 * Consent receipts, shaped after ISO/IEC TS 27560 consent records: who chose
 * what for which purpose, under which policy version and region, when, and
 * whether the browser was sending Global Privacy Control at the time. The
 * signature is an HMAC of the canonical JSON of every other field, so the
 * holder of the secret can prove a receipt genuine and any edit breaks it.
 */
import type { Keyring } from "../signatures/hmac.ts";

export const RECEIPT_VERSION = "consentgate-receipt/1";

export interface Receipt {
  version: typeof RECEIPT_VERSION;
  id: string;
  subject: string;
  purpose: string;
  granted: boolean;
  policyVersion: string;
  region: string;
  /** ISO 8601. */
  at: string;
  /** The browser sent Sec-GPC: 1 when the choice was made. */
  gpc: boolean;
  /** A grant given under GPC after the conflict was shown (wins over GPC, DESIGN.md §4). */
  overrideGpc: boolean;
  signature: string;
}

export type UnsignedReceipt = Omit<Receipt, "signature" | "version">;

export function signReceipt(keyring: Keyring, fields: UnsignedReceipt): Receipt {
  const body = { version: RECEIPT_VERSION, ...fields } as const;
  return { ...body, signature: keyring.sign(body) };
}

export function verifyReceipt(keyring: Keyring, receipt: Receipt): boolean {
  const { signature, ...body } = receipt;
  return typeof signature === "string" && keyring.verify(body, signature);
}

/** A receipt rebuilt from its stored consent event; it verifies as the one handed out. */
export function receiptOf(event: { id: string; subjectId: string; purpose: string; granted: boolean; policyVersion: string; region: string; at: Date; gpc: boolean; overrideGpc: boolean; signature: string }): Receipt {
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
