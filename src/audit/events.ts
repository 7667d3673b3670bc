/**
 * The compliance log's vocabulary (README: Jobs and compliance logs). Entries name the subject
 * only by a keyed pseudonym and never hold payloads: details are counts,
 * purposes, request ids, statuses and dates.
 */
import type { Statement, StatementClient } from "../store/connection.ts";

export const AUDIT_EVENTS = [
  "consent.changed",
  "write.blocked",
  "request.received",
  "request.completed",
  "request.overdue",
  "purge.ran",
  "policy.loaded",
  "report.daily",
  "log.trimmed",
  // Written before old entries are trimmed: where the kept part of the chain starts, and the hash it continues from.
  "log.checkpoint",
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditEntryInput {
  region: string;
  event: AuditEvent;
  /** The raw subject id; the log stores only its keyed pseudonym. */
  subjectId?: string;
  /** No personal data, no payloads. */
  details?: Record<string, unknown>;
}

/** One link of a region's hash chain, as stored and as GET /admin/compliance/:region streams it. */
export interface AuditEntry {
  region: string;
  seq: number;
  /** ISO 8601 (UTC, milliseconds). */
  at: string;
  event: string;
  /** The subject's keyed pseudonym, or null. */
  subject: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  /** HMAC-SHA256 under the chain key of prevHash + canonical JSON of every other field, hex (plain SHA-256 in chains written before it was keyed). */
  hash: string;
}

export type VerifyResult = { ok: true; entries: number } | { ok: false; brokenAt: number; reason: string };

export interface ComplianceLog {
  /**
   * Appends one entry to the region's hash chain; appends for one region are
   * serialized across instances. One statement: safe to call anywhere except
   * inside an open interactive transaction on PGlite (it would wait for it).
   */
  append(entry: AuditEntryInput): Promise<AuditEntry>;
  /**
   * The same append as one statement of a caller's transaction (a
   * `prisma.$transaction([...])` batch, or `tx` of an interactive one): the
   * entry commits with the change it records, or neither does. Place it
   * last: it holds the region's head row until the transaction ends.
   */
  appendStatement(entry: AuditEntryInput, client?: StatementClient): Statement;
  /** The region's entries in chain order, read page by page. */
  entries(region: string): AsyncIterable<AuditEntry>;
  /** Recomputes the region's chain from its first kept entry to its head. */
  verify(region: string): Promise<VerifyResult>;
}
