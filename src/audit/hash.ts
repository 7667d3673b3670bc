/**
 * How a compliance log entry is hashed: sha256 of the previous entry's hash
 * followed by the canonical JSON of the entry (every field but its own hash).
 * The same text is built in two places: here, to verify, and inside the
 * append statement, where the previous hash and the seq are only known once
 * the region's head row is locked. `hashTemplate` cuts the canonical JSON
 * around those two values so that SQL can splice them in.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../signatures/canonical-json.ts";
import type { AuditEntry } from "./events.ts";

/** The prevHash of a region's first entry. */
export const GENESIS = "0".repeat(64);

export type HashedFields = Omit<AuditEntry, "hash">;

export function entryHash(entry: HashedFields): string {
  const { region, seq, at, event, subject, details, prevHash } = entry;
  return sha256(prevHash + canonicalJson({ region, seq, at, event, subject, details, prevHash }));
}

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
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
