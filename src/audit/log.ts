/**
 * The compliance log: append-only, one hash chain per region (docs/compliance-log.md).
 *
 * An append is ONE statement. It upserts the region's head row, computing
 * the new seq and hash from the head it finds (the hash is built in SQL from
 * a template cut in JS, see hash.ts), and inserts the entry from what that
 * upsert returns. Concurrent appends for a region, from any instance, queue on
 * the head row's lock and each continues from the one before: no fork, no
 * gap, no retry, no advisory lock, and no interactive transaction (which
 * would stall every other query on PGlite's single connection). Being one
 * statement, it can also join a caller's transaction (`appendStatement`), so
 * that a change and the entry recording it commit together or not at all.
 *
 * The hash is an HMAC computed by PostgreSQL's sha256() from the two padded
 * keys (hash.ts). Those travel as statement parameters: a server set to log
 * statements with their parameters writes them into its log, which must then
 * be guarded like the secret.
 */
import { ConsentgateError } from "../errors.ts";
import type { Connection } from "../store/connection.ts";
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

/** HMAC-SHA256 of `text` (a SQL expression) under the pads in $10 (inner) and $11 (outer), hex. */
const hmac = (text: string) => `encode(sha256(decode($11::text, 'hex') || sha256(decode($10::text, 'hex') || convert_to(${text}, 'UTF8'))), 'hex')`;

const APPEND_SQL = `
WITH head AS (
  INSERT INTO compliance_log_heads AS h (region, seq, hash, "prevHash")
  VALUES ($1, 1, ${hmac(`$6::text || $7::text || $6::text || $8::text || '1' || $9::text`)}, $6::text)
  ON CONFLICT (region) DO UPDATE SET
    seq = h.seq + 1,
    "prevHash" = h.hash,
    hash = ${hmac(`h.hash || $7::text || h.hash || $8::text || (h.seq + 1)::text || $9::text`)}
  RETURNING seq, hash, "prevHash"
)
INSERT INTO compliance_log (region, seq, at, event, subject, details, "prevHash", hash)
SELECT $1, seq, $2::timestamptz, $3, $4, $5::jsonb, "prevHash", hash FROM head
RETURNING seq::text AS seq, "prevHash", hash`;

const PAGE_SQL = `
SELECT region, seq::text AS seq, at, event, subject, details, "prevHash", hash FROM compliance_log
WHERE region = $1 AND seq > $2 AND seq <= $3 ORDER BY compliance_log.seq LIMIT $4`;

interface Row {
  region: string;
  seq: string;
  at: Date | string;
  event: string;
  subject: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

const toEntry = (row: Row): AuditEntry => ({
  region: row.region,
  seq: Number(row.seq),
  at: new Date(row.at).toISOString(),
  event: row.event,
  subject: row.subject,
  details: row.details,
  prevHash: row.prevHash,
  hash: row.hash,
});

export function createComplianceLog(connection: Connection, options: ComplianceLogOptions): ComplianceLog {
  const pageSize = options.pageSize ?? 500;
  const pads = hmacPads(options.chainKey);

  /** The entry as it will be stored but for seq, prevHash and hash, and the append statement's parameters. */
  const prepare = (input: AuditEntryInput) => {
    const details = plain(input.details ?? {});
    const at = options.now().toISOString();
    const subject = input.subjectId === undefined ? null : options.pseudonym(input.subjectId);
    const cut = hashTemplate({ region: input.region, at, event: input.event, subject, details });
    const params = [input.region, at, input.event, subject, JSON.stringify(details), GENESIS, cut.before, cut.between, cut.after, pads.inner, pads.outer];
    return { entry: { region: input.region, at, event: input.event, subject, details }, params };
  };

  async function* read(region: string, throughSeq: number): AsyncGenerator<AuditEntry> {
    for (let after = 0; ; ) {
      const rows = await connection.query<Row>(PAGE_SQL, [region, after, throughSeq, pageSize]);
      for (const row of rows) yield toEntry(row);
      if (rows.length < pageSize) return;
      after = Number(rows.at(-1)!.seq);
    }
  }

  const readHead = async (region: string): Promise<ChainHead | undefined> => {
    const [row] = await connection.query<{ seq: string; hash: string }>(`SELECT seq::text AS seq, hash FROM compliance_log_heads WHERE region = $1`, [region]);
    return row && { seq: Number(row.seq), hash: row.hash };
  };
  const firstSeq = async (region: string): Promise<number | undefined> => {
    const [row] = await connection.query<{ seq: string | null }>(`SELECT min(seq)::text AS seq FROM compliance_log WHERE region = $1`, [region]);
    return row?.seq == null ? undefined : Number(row.seq);
  };

  return {
    async append(input) {
      const { entry, params } = prepare(input);
      const [row] = await connection.query<{ seq: string; prevHash: string; hash: string }>(APPEND_SQL, params);
      return { ...entry, seq: Number(row!.seq), prevHash: row!.prevHash, hash: row!.hash };
    },

    appendStatement: (input, client = connection.prisma) => client.$queryRawUnsafe(APPEND_SQL, ...prepare(input).params),

    entries: (region) => read(region, Number.MAX_SAFE_INTEGER),

    async verify(region) {
      let previous: VerifyResult | undefined;
      for (let attempt = 0; attempt < 3; attempt++) {
        const head = await readHead(region);
        const result = await verifyChain(read(region, head?.seq ?? Number.MAX_SAFE_INTEGER), head, options.chainKey);
        if (result.ok) return result;
        // The retention job may have trimmed the start while we read, which looks like a gap: read again.
        const first = await firstSeq(region);
        const repeated = previous !== undefined && !previous.ok && previous.brokenAt === result.brokenAt && previous.reason === result.reason;
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
