/**
 * The compliance log: append-only, one hash chain per region (docs/compliance-log.md).
 *
 * Entries are hashed as they are appended, in the database, under the region's
 * head row lock (src/store/compliance-log.ts): this module cuts the hash's
 * text into a template around the two values only the append knows (hash.ts),
 * names the subject by its keyed pseudonym, and reads chains back to verify
 * them. `prepare` gives an entry to a store transaction, so that a change and
 * the entry recording it commit together or not at all.
 */
import { ConsentgateError } from "../errors.ts";
import type { ComplianceLogStore, PendingLogEntry, StoredLogEntry } from "../store/compliance-log.ts";
import { UNSTORABLE_TEXT, unstorableJson } from "../store/storable.ts";
import type { AuditEntry, AuditEntryInput, ComplianceLog, VerifyResult } from "./events.ts";
import { GENESIS, hashTemplate, hmacPads } from "./hash.ts";
import { type ChainHead, verifyChain } from "./verify.ts";

export interface ComplianceLogOptions {
  /** The keyed pseudonym that stands for a subject (keyring.pseudonym). */
  pseudonym(subjectId: string): string;
  /** The key entries are hashed with (keyring.key("log-chain")). */
  chainKey: Buffer;
  now(): Date;
  /** Entries per query when reading a chain. Default 500. */
  pageSize?: number;
}

const toEntry = (row: StoredLogEntry): AuditEntry => ({
  region: row.region,
  seq: row.seq,
  at: row.at.toISOString(),
  event: row.event,
  subject: row.subject,
  details: row.details,
  prevHash: row.prevHash,
  hash: row.hash,
});

export function createComplianceLog(store: ComplianceLogStore, options: ComplianceLogOptions): ComplianceLog {
  const pageSize = options.pageSize ?? 500;
  const pads = hmacPads(options.chainKey);

  /** The entry as it will be stored but for seq, prevHash and hash, and as the store appends it. */
  const prepare = (input: AuditEntryInput) => {
    const details = plain(input.details ?? {});
    const at = options.now().toISOString();
    const subject = input.subjectId === undefined ? null : options.pseudonym(input.subjectId);
    const cut = hashTemplate({ region: input.region, at, event: input.event, subject, details });
    const pending: PendingLogEntry = {
      region: input.region,
      at,
      event: input.event,
      subject,
      details: JSON.stringify(details),
      hash: { genesis: GENESIS, ...cut, innerPad: pads.inner, outerPad: pads.outer },
    };
    return { entry: { region: input.region, at, event: input.event, subject, details }, pending };
  };

  async function* read(region: string, throughSeq: number): AsyncGenerator<AuditEntry> {
    for (let after = 0; ; ) {
      const rows = await store.page(region, after, throughSeq, pageSize);
      for (const row of rows) yield toEntry(row);
      if (rows.length < pageSize) return;
      after = rows.at(-1)!.seq;
    }
  }

  return {
    async append(input) {
      const { entry, pending } = prepare(input);
      return { ...entry, ...(await store.append(pending)) };
    },

    prepare: (input) => prepare(input).pending,

    entries: (region) => read(region, Number.MAX_SAFE_INTEGER),

    async verify(region) {
      let previous: VerifyResult | undefined;
      for (let attempt = 0; attempt < 3; attempt++) {
        const head: ChainHead | undefined = await store.head(region);
        const result = await verifyChain(read(region, head?.seq ?? Number.MAX_SAFE_INTEGER), head, options.chainKey);
        if (result.ok) return result;
        // The retention job may have trimmed the start while we read, which looks like a gap: read again.
        const first = (await store.seqRange(region))?.first;
        const repeated =
          previous !== undefined &&
          !previous.ok &&
          previous.brokenAt === result.brokenAt &&
          previous.reason === result.reason;
        if (first === undefined || first <= result.brokenAt || repeated) return result;
        previous = result;
      }
      return previous!;
    },
  };
}

/**
 * Details exactly as the database will give them back (a JSON round trip), so
 * the hash computed now is the hash verify recomputes later.
 */
function plain(details: Record<string, unknown>): Record<string, unknown> {
  const json = JSON.stringify(details);
  if (unstorableJson(json)) throw new ConsentgateError("invalid_body", `compliance log details: ${UNSTORABLE_TEXT}`);
  return JSON.parse(json) as Record<string, unknown>;
}
