/**
 * How a compliance log entry is hashed: HMAC-SHA256, under a key derived
 * from the gate's secret for this use only, of the previous entry's hash
 * followed by the canonical JSON of the entry (every field but its own hash).
 * Keyed, so that someone who can write to the database but does not hold
 * the secret cannot rewrite an entry and recompute the chain after it.
 *
 * Chains written before the hash was keyed used plain SHA-256 of the same
 * text. Such entries still verify, but only as a chain's leading run: once an
 * entry is keyed, every later one must be (see verify.ts).
 *
 * The same text is built in two places: here, to verify, and inside the
 * append statement (src/store/compliance-log.ts), where the previous hash and
 * the seq are only known once the region's head row is locked. `hashTemplate` cuts the canonical JSON
 * around those two values so that SQL can splice them in, and `hmacPads`
 * gives SQL the two padded keys HMAC is made of, so that PostgreSQL's own
 * sha256() computes it (no extension needed, on PGlite either).
 */
import { createHash, createHmac } from "node:crypto";
import { canonicalJson } from "../signatures/canonical-json.ts";
import type { AuditEntry } from "./events.ts";

/** The prevHash of a region's first entry. */
export const GENESIS = "0".repeat(64);

export type HashedFields = Omit<AuditEntry, "hash">;

/** What an entry's hash covers: its prevHash, then the canonical JSON of every field but the hash. */
export function chainText(entry: HashedFields): string {
  const { region, seq, at, event, subject, details, prevHash } = entry;
  return prevHash + canonicalJson({ region, seq, at, event, subject, details, prevHash });
}

/** The hash appends write: HMAC-SHA256 of chainText under the chain key, hex. */
export function entryHash(entry: HashedFields, chainKey: Buffer): string {
  return createHmac("sha256", chainKey).update(chainText(entry), "utf8").digest("hex");
}

/** The hash of chains written before it was keyed: SHA-256 of chainText, hex. */
export function legacyEntryHash(entry: HashedFields): string {
  return createHash("sha256").update(chainText(entry), "utf8").digest("hex");
}

/** HMAC-SHA256(key, m) = sha256(outer || sha256(inner || m)) (RFC 2104); both pads hex. */
export interface HmacPads {
  inner: string;
  outer: string;
}

const BLOCK = 64;

export function hmacPads(key: Buffer): HmacPads {
  const block = Buffer.alloc(BLOCK);
  (key.length > BLOCK ? createHash("sha256").update(key).digest() : key).copy(block);
  const pad = (byte: number) => Buffer.from(block.map((b) => b ^ byte)).toString("hex");
  return { inner: pad(0x36), outer: pad(0x5c) };
}

/** canonicalJson(entry) === before + prevHash + between + seq + after. */
export interface HashTemplate {
  before: string;
  between: string;
  after: string;
}

// NUL cannot occur in stored entries (PostgreSQL's jsonb and text refuse it), so these never collide with real values.
const PREV = "\u0000prevHash";
const SEQ = "\u0000seq";

export function hashTemplate(entry: Omit<HashedFields, "seq" | "prevHash">): HashTemplate {
  const { region, at, event, subject, details } = entry;
  const text = canonicalJson({ region, at, event, subject, details, prevHash: PREV, seq: SEQ });
  const [head = "", rest = ""] = text.split(JSON.stringify(PREV));
  const [middle = "", tail = ""] = rest.split(JSON.stringify(SEQ));
  return { before: `${head}"`, between: `"${middle}`, after: tail };
}
