/**
 * Keyed hashing with the gate's secret: signatures on receipts and
 * certificates, the pseudonyms that stand for subjects in logs, and the
 * compliance log's hash chain.
 * Each use gets its own derived key, so a pseudonym can never be replayed
 * as a signature or the other way round.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { canonicalJson } from "./canonical-json.ts";

export type KeyUse = "signature" | "pseudonym" | "field-hash" | "log-chain";

export interface Keyring {
  /** HMAC-SHA256 of the canonical JSON of `record`, hex. */
  sign(record: object): string;
  /**
   * Constant-time check of a signature made by `sign`: exactly the text `sign`
   * gives (64 lower-case hex digits), nothing else that decodes to the same
   * bytes. (Decoding first would accept upper case, and Node's hex decoder
   * ignores a trailing odd digit and stops at the first non-hex character.)
   */
  verify(record: object, signature: string): boolean;
  /** A stable pseudonym for a subject id: same id, same pseudonym; not reversible without the secret. */
  pseudonym(subjectId: string): string;
  /** The key for a use, for code that computes its own HMACs (the minimizer's `hash` rule). */
  key(use: KeyUse): Buffer;
  /**
   * Names the secret without holding it: the HMAC-SHA256 of the fixed label
   * "consentgate:secret-fingerprint" under the secret, in hex. The store
   * records it so that a start with another secret is refused. Its own label
   * keeps it apart from every key above and from any plain hash of the secret
   * made elsewhere.
   */
  readonly fingerprint: string;
}

export function createKeyring(secret: string): Keyring {
  const derive = (use: KeyUse) => createHmac("sha256", secret).update(`consentgate:${use}`).digest();
  const keys: Record<KeyUse, Buffer> = {
    signature: derive("signature"),
    pseudonym: derive("pseudonym"),
    "field-hash": derive("field-hash"),
    "log-chain": derive("log-chain"),
  };
  const sign = (record: object) => createHmac("sha256", keys.signature).update(canonicalJson(record)).digest("hex");
  return {
    sign,
    verify(record, signature) {
      if (typeof signature !== "string") return false;
      const expected = Buffer.from(sign(record), "utf8");
      const given = Buffer.from(signature, "utf8");
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    pseudonym: (subjectId) => createHmac("sha256", keys.pseudonym).update(subjectId).digest("hex").slice(0, 32),
    key: (use) => keys[use],
    fingerprint: createHmac("sha256", secret).update("consentgate:secret-fingerprint").digest("hex"),
  };
}
