import { createHmac, createSecretKey } from "node:crypto";
import { ConsentgateError } from "../errors.ts";

/**
 * Marks a stored value as a pseudonym, so whoever reads an export or a row
 * knows it is not the original and which function made it.
 */
export const PSEUDONYM_PREFIX = "hmac-sha256:";

export type Pseudonymize = (text: string) => string;

export function pseudonymizer(hashKey: string | Buffer): Pseudonymize {
  if (hashKey.length === 0) throw new ConsentgateError("invalid_option", "hashKey must not be empty");
  // A KeyObject is imported once instead of on every HMAC.
  const key = createSecretKey(typeof hashKey === "string" ? Buffer.from(hashKey, "utf8") : hashKey);
  return (text) => PSEUDONYM_PREFIX + createHmac("sha256", key).update(text, "utf8").digest("hex");
}
