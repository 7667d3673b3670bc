/**
 * The compliance log's tables: `compliance_log` (one hash chain of entries
 * per region) and `compliance_log_heads` (the newest entry of each chain).
 * Every query on them is here; what an entry means, how its hash is made
 * and checked, and what a report says are src/audit/'s business, which
 * calls this module.
 *
 * An append is ONE statement. It upserts the region's head row, computing
 * the new seq and hash from the head it finds (the hash is built in SQL from
 * a template the caller cut, see src/audit/hash.ts), and inserts the entry
 * from what that upsert returns. Concurrent appends for a region, from any
 * instance, queue on the head row's lock and each continues from the one
 * before: no fork, no gap, no retry, no advisory lock, and no interactive
 * transaction (which would stall every other query on PGlite's single
 * connection). Being one statement, it can also join a store transaction
 * (`appendLogEntry`), so that a change and the entry recording it commit
 * together or not at all. Prisma cannot express it (an upsert whose values
 * come from the row it conflicts with, feeding an insert), so it is SQL.
 *
 * The hash is an HMAC computed by PostgreSQL's sha256() from the two padded
 * keys. Those travel as statement parameters: a server set to log statements
 * with their parameters writes them into its log, which must then be guarded
 * like the secret.
 */
import type { Connection, SqlSession } from "./connection.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";

/**
 * The events the log records (docs/compliance-log.md). Queries
 * take them as parameters; `LogEvent` is their type.
 */
export const LOG_EVENT = {
  consentChanged: "consent.changed",
  writeBlocked: "write.blocked",
  requestReceived: "request.received",
  requestCompleted: "request.completed",
  requestOverdue: "request.overdue",
  purgeRan: "purge.ran",
  policyLoaded: "policy.loaded",
  reportDaily: "report.daily",
  logTrimmed: "log.trimmed",
  // Written before old entries are trimmed: where the kept part of the chain starts, and the hash it continues from.
  logCheckpoint: "log.checkpoint",
  // A differentially private release, or one refused because it would overspend its budget (logged in every region).
  insightsReleased: "insights.released",
  insightsRefused: "insights.refused",
  // A federated round aggregated and published, or training stopped by its budget (logged in every region).
  learningRound: "learning.round",
  learningStopped: "learning.stopped",
} as const;

export type LogEvent = (typeof LOG_EVENT)[keyof typeof LOG_EVENT];

/**
 * An entry ready to append: everything but its seq, prevHash and hash, which
 * the append takes from the region's head when it runs. src/audit/log.ts
 * makes these (ComplianceLog.prepare).
 */
export interface PendingLogEntry {
  region: string;
  /** ISO 8601 (UTC, milliseconds). */
  at: string;
  event: LogEvent;
  /** The subject's keyed pseudonym, or null. */
  subject: string | null;
  /** The details as JSON text, exactly as hashed. */
  details: string;
  /**
   * How the statement hashes the entry once it knows prevHash and seq:
   * canonical JSON = before + prevHash + between + seq + after, and the HMAC
   * pads in hex (src/audit/hash.ts). `genesis` is the prevHash of a region's first entry.
   */
  hash: { genesis: string; before: string; between: string; after: string; innerPad: string; outerPad: string };
}

/** An entry as stored. */
export interface StoredLogEntry {
  region: string;
  seq: number;
  at: Date;
  event: string;
  subject: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** What the store answers for a region's report period (src/audit/report.ts makes the report of it). */
export interface LogCounts {
  consentsGiven: number;
  consentsWithdrawn: number;
  requestsReceived: number;
  /** request.completed entries by the status in their details (null: entries written before the status was). */
  requestsCompletedByStatus: { status: string | null; n: number }[];
  requestsOverdue: number;
  /** purge.ran counts (expired and out of window, the app's gated models' too) summed per purpose. */
  purgedByPurpose: { purpose: string; n: number }[];
  /** write.blocked counts summed per purpose, by the hour they count (not when they were flushed). */
  blockedByPurpose: { purpose: string; n: number }[];
}

/** A region's log counted per UTC day (YYYY-MM-DD), for the privacy officer's console. */
export interface DailyLogCounts {
  /** consent.changed entries per day, purpose and direction. */
  consents: { day: string; purpose: string; granted: boolean; n: number }[];
  /** purge.ran counts (as in LogCounts.purgedByPurpose) per day the purge ran, and purpose. */
  purged: { day: string; purpose: string; n: number }[];
  /** request.received and completed (status completed, or none recorded) entries per day. */
  requests: { day: string; received: number; completed: number }[];
}

/** An insights.released entry: what one differentially private release spent of its budget. */
export interface LoggedRelease {
  at: Date;
  name: string;
  /** The epsilon this release spent. */
  epsilon: number;
  /** The epsilon spent in the budget's period, this release included. */
  spent: number;
  /** The epsilon the budget allows per period. */
  budget: number;
}

export interface ComplianceLogStore {
  /** Appends one entry to its region's chain (one statement); answers where it landed. */
  append(entry: PendingLogEntry): Promise<{ seq: number; prevHash: string; hash: string }>;
  /** At most `limit` entries of the region with afterSeq < seq <= throughSeq, in seq order. */
  page(region: string, afterSeq: number, throughSeq: number, limit: number): Promise<StoredLogEntry[]>;
  /** The region's head row: where its chain ends. */
  head(region: string): Promise<{ seq: number; hash: string } | undefined>;
  /** The first and last seq the region's log still holds. */
  seqRange(region: string): Promise<{ first: number; last: number } | undefined>;
  /** The seq of the region's first entry written at or after `at`. */
  firstSeqSince(region: string, at: Date): Promise<number | undefined>;
  /** The prevHash of the region's entry `seq`. */
  prevHashOf(region: string, seq: number): Promise<string | undefined>;
  /** Deletes the region's entries before `seq` in one statement; answers how many went. */
  deleteBefore(region: string, seq: number): Promise<number>;
  /** The policy version the region's newest `policy.loaded` entry states. */
  lastPolicyVersion(region: string): Promise<string | undefined>;
  /** True when the region's log holds the `report.daily` entry of `day` (YYYY-MM-DD). */
  dailyReportWritten(region: string, day: string): Promise<boolean>;
  /** Which of these request ids already have a `request.overdue` entry in the region. */
  overdueLogged(region: string, requestIds: readonly string[]): Promise<Set<string>>;
  /** Counts of the region's entries in [from, to), for its report. */
  reportCounts(region: string, from: Date | undefined, to: Date | undefined): Promise<LogCounts>;
  /** The region's entries in [from, to) counted per UTC day, for the console's charts. */
  dailyCounts(region: string, from: Date, to: Date): Promise<DailyLogCounts>;
  /** The region's newest `limit` insights.released entries in [from, to), oldest first, and how many there are in all. */
  releases(region: string, from: Date, to: Date, limit: number): Promise<{ releases: LoggedRelease[]; total: number }>;
  /** Each release name's newest insights.released entry of the region in [from, to), however many came before it. */
  latestReleases(region: string, from: Date, to: Date): Promise<LoggedRelease[]>;
  /** The region's request.received, completed and overdue entries of one request, in seq order. */
  requestEntries(region: string, requestId: string): Promise<StoredLogEntry[]>;
}

/** HMAC-SHA256 of `text` (a SQL expression) under the pads in $10 (inner) and $11 (outer), hex. */
const hmac = (text: string) =>
  `encode(sha256(decode($11::text, 'hex') || sha256(decode($10::text, 'hex') || convert_to(${text}, 'UTF8'))), 'hex')`;

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

const appendParams = (e: PendingLogEntry) => [
  e.region,
  e.at,
  e.event,
  e.subject,
  e.details,
  e.hash.genesis,
  e.hash.before,
  e.hash.between,
  e.hash.after,
  e.hash.innerPad,
  e.hash.outerPad,
];

/**
 * The append as one statement of a store transaction (a `$transaction([...])`
 * batch, or `tx` of an interactive one), for the modules whose changes are
 * logged as they commit (consents.ts, requests.ts). Place it last: it holds
 * the region's head row until the transaction ends.
 */
export function appendLogEntry(client: Pick<PrismaClient, "$queryRawUnsafe">, entry: PendingLogEntry) {
  return client.$queryRawUnsafe(APPEND_SQL, ...appendParams(entry));
}

/** appendLogEntry in a raw SQL transaction (Connection.transaction's session) rather than a Prisma one. */
export function appendLogEntryInSession(session: Pick<SqlSession, "query">, entry: PendingLogEntry) {
  return session.query(APPEND_SQL, appendParams(entry));
}

// The report's counts are aggregates over the entries' JSON details, done in
// the database (Prisma has no FILTER, jsonb_each or casts of JSON fields):
// reading the period's entries into Node instead would move the whole log.

const EVENTS_SQL = `
SELECT
  count(*) FILTER (WHERE event = $4 AND details->>'granted' = 'true')::int AS "consentsGiven",
  count(*) FILTER (WHERE event = $4 AND details->>'granted' = 'false')::int AS "consentsWithdrawn",
  count(*) FILTER (WHERE event = $5)::int AS "requestsReceived",
  count(*) FILTER (WHERE event = $6)::int AS "requestsOverdue"
FROM compliance_log
WHERE region = $1 AND event IN ($4, $5, $6) AND at >= $2 AND at < $3`;

const COMPLETED_SQL = `
SELECT details->>'status' AS status, count(*)::int AS n
FROM compliance_log
WHERE region = $1 AND event = $4 AND at >= $2 AND at < $3
GROUP BY 1`;

// A purge entry's rows per purpose (key, value): its expired and out-of-window counts, and each table's two summed
// (the report's total and the console's daily series add them up alike).
const PURGED_COUNTS = `compliance_log l,
     LATERAL (SELECT * FROM jsonb_each_text(l.details->'expired')
              UNION ALL SELECT * FROM jsonb_each_text(l.details->'outOfWindow')
              UNION ALL SELECT t.value->>'purpose', ((t.value->>'expired')::bigint + (t.value->>'outOfWindow')::bigint)::text
                        FROM jsonb_each(l.details->'tables') t) counts`;

const PURGED_SQL = `
SELECT counts.key AS purpose, sum(counts.value::bigint)::float8 AS n
FROM ${PURGED_COUNTS}
WHERE l.region = $1 AND l.event = $4 AND l.at >= $2 AND l.at < $3
GROUP BY counts.key`;

// Counts of refused writes are flushed some time after the hour they count: the hour decides the period.
const BLOCKED_SQL = `
SELECT details->>'purpose' AS purpose, sum((details->>'count')::bigint)::float8 AS n
FROM compliance_log
WHERE region = $1 AND event = $4 AND (details->>'hour')::timestamptz >= $2 AND (details->>'hour')::timestamptz < $3
GROUP BY 1`;

// The console's daily series: the same entries as the report's, grouped by the UTC day they were written.
const DAY = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`;

const CONSENTS_BY_DAY_SQL = `
SELECT ${DAY} AS day, details->>'purpose' AS purpose, (details->>'granted')::boolean AS granted, count(*)::int AS n
FROM compliance_log
WHERE region = $1 AND event = $4 AND at >= $2 AND at < $3
GROUP BY 1, 2, 3`;

const PURGED_BY_DAY_SQL = `
SELECT to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, counts.key AS purpose, sum(counts.value::bigint)::float8 AS n
FROM ${PURGED_COUNTS}
WHERE l.region = $1 AND l.event = $4 AND l.at >= $2 AND l.at < $3
GROUP BY 1, 2`;

// Entries written before request.completed named a status were all completions (as in the report).
const REQUESTS_BY_DAY_SQL = `
SELECT ${DAY} AS day,
  count(*) FILTER (WHERE event = $4)::int AS received,
  count(*) FILTER (WHERE event = $5 AND coalesce(details->>'status', $6) = $6)::int AS completed
FROM compliance_log
WHERE region = $1 AND event IN ($4, $5) AND at >= $2 AND at < $3
GROUP BY 1`;

// Which requests are logged overdue: one indexed statement for any number of
// ids (Prisma's JSON filters have no "in", only one OR branch per id).
const OVERDUE_LOGGED_SQL = `
SELECT details->>'requestId' AS id FROM compliance_log
WHERE region = $1 AND event = $2 AND details->>'requestId' = ANY($3::text[])`;

// Each release name's last entry in the period: what its budget stood at by the period's end.
const LATEST_RELEASES_SQL = `
SELECT DISTINCT ON (details->>'name') at, details
FROM compliance_log
WHERE region = $1 AND event = $4 AND at >= $2 AND at < $3
ORDER BY details->>'name', seq DESC`;

const releaseOf = ({ at, details }: { at: Date; details: unknown }): LoggedRelease => {
  const d = details as { name?: unknown; epsilon?: unknown; spent?: unknown; budget?: unknown };
  return { at, name: String(d.name), epsilon: Number(d.epsilon), spent: Number(d.spent), budget: Number(d.budget) };
};

export function createComplianceLogStore(connection: Connection): ComplianceLogStore {
  const { prisma } = connection;
  return {
    async append(entry) {
      const [row] = await connection.query<{ seq: string; prevHash: string; hash: string }>(
        APPEND_SQL,
        appendParams(entry),
      );
      return { seq: Number(row!.seq), prevHash: row!.prevHash, hash: row!.hash };
    },

    async page(region, afterSeq, throughSeq, limit) {
      const rows = await prisma.complianceLogEntry.findMany({
        where: { region, seq: { gt: afterSeq, lte: throughSeq } },
        orderBy: { seq: "asc" },
        take: limit,
      });
      return rows.map((r) => ({ ...r, seq: Number(r.seq), details: r.details as Record<string, unknown> }));
    },

    async head(region) {
      const row = await prisma.complianceLogHead.findUnique({ where: { region }, select: { seq: true, hash: true } });
      return row ? { seq: Number(row.seq), hash: row.hash } : undefined;
    },

    async seqRange(region) {
      const { _min, _max } = await prisma.complianceLogEntry.aggregate({
        where: { region },
        _min: { seq: true },
        _max: { seq: true },
      });
      return _min.seq == null || _max.seq == null ? undefined : { first: Number(_min.seq), last: Number(_max.seq) };
    },

    async firstSeqSince(region, at) {
      const row = await prisma.complianceLogEntry.findFirst({
        where: { region, at: { gte: at } },
        orderBy: { seq: "asc" },
        select: { seq: true },
      });
      return row ? Number(row.seq) : undefined;
    },

    async prevHashOf(region, seq) {
      const row = await prisma.complianceLogEntry.findUnique({
        where: { region_seq: { region, seq } },
        select: { prevHash: true },
      });
      return row?.prevHash;
    },

    async deleteBefore(region, seq) {
      return (await prisma.complianceLogEntry.deleteMany({ where: { region, seq: { lt: seq } } })).count;
    },

    async lastPolicyVersion(region) {
      const row = await prisma.complianceLogEntry.findFirst({
        where: { region, event: LOG_EVENT.policyLoaded },
        orderBy: { seq: "desc" },
        select: { details: true },
      });
      const version = (row?.details as { version?: unknown } | undefined)?.version;
      return typeof version === "string" ? version : undefined;
    },

    async dailyReportWritten(region, day) {
      const row = await prisma.complianceLogEntry.findFirst({
        where: { region, event: LOG_EVENT.reportDaily, details: { path: ["day"], equals: day } },
        select: { seq: true },
      });
      return row !== null;
    },

    async overdueLogged(region, requestIds) {
      const rows = await connection.query<{ id: string }>(OVERDUE_LOGGED_SQL, [
        region,
        LOG_EVENT.requestOverdue,
        requestIds,
      ]);
      return new Set(rows.map((r) => r.id));
    },

    async reportCounts(region, from, to) {
      const range = [region, from?.toISOString() ?? "-infinity", to?.toISOString() ?? "infinity"];
      const [events] = await connection.query<
        Omit<LogCounts, "requestsCompletedByStatus" | "purgedByPurpose" | "blockedByPurpose">
      >(EVENTS_SQL, [...range, LOG_EVENT.consentChanged, LOG_EVENT.requestReceived, LOG_EVENT.requestOverdue]);
      const completed = await connection.query<{ status: string | null; n: number }>(COMPLETED_SQL, [
        ...range,
        LOG_EVENT.requestCompleted,
      ]);
      const purged = await connection.query<{ purpose: string; n: number }>(PURGED_SQL, [...range, LOG_EVENT.purgeRan]);
      const blocked = await connection.query<{ purpose: string; n: number }>(BLOCKED_SQL, [
        ...range,
        LOG_EVENT.writeBlocked,
      ]);
      return { ...events!, requestsCompletedByStatus: completed, purgedByPurpose: purged, blockedByPurpose: blocked };
    },

    async dailyCounts(region, from, to) {
      const range = [region, from.toISOString(), to.toISOString()];
      const consents = await connection.query<DailyLogCounts["consents"][number]>(CONSENTS_BY_DAY_SQL, [
        ...range,
        LOG_EVENT.consentChanged,
      ]);
      const purged = await connection.query<DailyLogCounts["purged"][number]>(PURGED_BY_DAY_SQL, [
        ...range,
        LOG_EVENT.purgeRan,
      ]);
      const requests = await connection.query<DailyLogCounts["requests"][number]>(REQUESTS_BY_DAY_SQL, [
        ...range,
        LOG_EVENT.requestReceived,
        LOG_EVENT.requestCompleted,
        "completed",
      ]);
      return { consents, purged: purged.map((r) => ({ ...r, n: Number(r.n) })), requests };
    },

    async releases(region, from, to, limit) {
      const where = { region, event: LOG_EVENT.insightsReleased, at: { gte: from, lt: to } };
      // The newest, read backwards: a period with more than `limit` releases shows its latest ones.
      const rows = await prisma.complianceLogEntry.findMany({
        where,
        orderBy: { seq: "desc" },
        take: limit,
        select: { at: true, details: true },
      });
      const total = rows.length < limit ? rows.length : await prisma.complianceLogEntry.count({ where });
      return { releases: rows.reverse().map(releaseOf), total };
    },

    async latestReleases(region, from, to) {
      const rows = await connection.query<{ at: Date; details: unknown }>(LATEST_RELEASES_SQL, [
        region,
        from.toISOString(),
        to.toISOString(),
        LOG_EVENT.insightsReleased,
      ]);
      return rows.map(releaseOf);
    },

    async requestEntries(region, requestId) {
      // The (region, event, at) index narrows it to the region's request entries; the id is in the details.
      const rows = await prisma.complianceLogEntry.findMany({
        where: {
          region,
          event: { in: [LOG_EVENT.requestReceived, LOG_EVENT.requestCompleted, LOG_EVENT.requestOverdue] },
          details: { path: ["requestId"], equals: requestId },
        },
        orderBy: { seq: "asc" },
      });
      return rows.map((r) => ({ ...r, seq: Number(r.seq), details: r.details as Record<string, unknown> }));
    },
  };
}
