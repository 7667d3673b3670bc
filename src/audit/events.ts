/**
 * The compliance log's vocabulary (docs/compliance-log.md). Entries name the subject
 * only by a keyed pseudonym and never hold payloads: details are counts,
 * purposes, request ids, statuses and dates.
 */
import { LOG_EVENT, type LogEvent, type PendingLogEntry } from "../store/compliance-log.ts";

/** Every event the log records: the store's LOG_EVENT, whose queries take them as parameters. */
export const AUDIT_EVENTS: readonly AuditEvent[] = Object.values(LOG_EVENT);

export type AuditEvent = LogEvent;

export interface AuditEntryInput {
  region: string;
  event: AuditEvent;
  /** The raw subject id; the log stores only its keyed pseudonym. */
  subjectId?: string;
  /** No personal data, no payloads. */
  details?: Record<string, unknown>;
}

/**
 * One link of a region's hash chain, as stored, as
 * `gate.store.complianceLog.entries()` yields it and as
 * `GET /admin/compliance/:region` streams it (one JSON object per line).
 *
 * @example
 * ```ts
 * import type { AuditEntry } from "consentgate";
 *
 * const withdrawals = (entry: AuditEntry) => entry.event === "consent.changed" && entry.details.granted === false;
 * let count = 0;
 * for await (const entry of gate.store.complianceLog.entries("EU")) if (withdrawals(entry)) count++;
 * ```
 */
export interface AuditEntry {
  /** The region whose chain holds it. */
  region: string;
  /** Its position in the region's chain, from 1. */
  seq: number;
  /** ISO 8601 (UTC, milliseconds). */
  at: string;
  /**
   * What happened: consent.changed, write.blocked, request.received,
   * request.completed, request.overdue, purge.ran, policy.loaded,
   * report.daily, log.trimmed, log.checkpoint.
   */
  event: string;
  /** The subject's keyed pseudonym, or null. */
  subject: string | null;
  /** Counts, purposes, request ids, statuses and dates: never personal data, never payloads. */
  details: Record<string, unknown>;
  /** The hash of the entry before it (a string of zeros for the first). */
  prevHash: string;
  /** HMAC-SHA256 under the chain key of prevHash + canonical JSON of every other field, hex (plain SHA-256 in chains written before it was keyed). */
  hash: string;
}

/**
 * What checking a region's hash chain found: `{ ok: true, entries }` (how
 * many entries were checked), or `{ ok: false, brokenAt, reason }` (the seq
 * of the first entry that does not fit, and why). `GET
 * /admin/compliance/:region/verify` answers with it too.
 *
 * @example
 * ```ts
 * import type { VerifyResult } from "consentgate";
 *
 * const describe = (r: VerifyResult) => (r.ok ? `${r.entries} entries, intact` : `broken at ${r.brokenAt}: ${r.reason}`);
 * console.log(describe(await gate.store.complianceLog.verify("EU")));
 * ```
 */
export type VerifyResult = { ok: true; entries: number } | { ok: false; brokenAt: number; reason: string };

export interface ComplianceLog {
  /**
   * Appends one entry to the region's hash chain; appends for one region are
   * serialized across instances. One statement: safe to call anywhere except
   * inside an open interactive transaction on PGlite (it would wait for it).
   */
  append(entry: AuditEntryInput): Promise<AuditEntry>;
  /**
   * The same entry, ready for a store transaction to append with the change
   * it records (src/store/requests.ts, src/store/consents.ts): the entry
   * commits with the change, or neither does. Its time is taken now.
   */
  prepare(entry: AuditEntryInput): PendingLogEntry;
  /** The region's entries in chain order, read page by page. */
  entries(region: string): AsyncIterable<AuditEntry>;
  /** Recomputes the region's chain from its first kept entry to its head. */
  verify(region: string): Promise<VerifyResult>;
}
