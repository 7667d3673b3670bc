/**
 * A region's compliance summary over a period, for GET /admin/report/:region,
 * the daily `report.daily` entry and `consentgate report`. Counts of what
 * happened come from the log (the tables forget: an erasure deletes the
 * subject's older requests, a purge deletes rows); what is open now (requests
 * past their deadline) comes from the requests table.
 */
import type { Connection } from "../store/connection.ts";

export interface RegionReport {
  region: string;
  /** Start of the period (inclusive), or null for everything the log keeps. */
  from: string | null;
  /** End of the period (exclusive), or null for up to now. */
  to: string | null;
  /** When the report was made: what is open is judged at this moment. */
  asOf: string;
  consents: { given: number; withdrawn: number };
  requests: {
    received: number;
    completed: number;
    /** Requests that passed their legal deadline during the period. */
    overdue: number;
    /** Requests of the region that are past their deadline and still not completed, now. */
    openOverdue: number;
  };
  rowsPurged: { total: number; byPurpose: Record<string, number> };
  writesBlocked: { total: number; byPurpose: Record<string, number> };
}

const EVENTS_SQL = `
SELECT
  count(*) FILTER (WHERE event = 'consent.changed' AND details->>'granted' = 'true')::int AS given,
  count(*) FILTER (WHERE event = 'consent.changed' AND details->>'granted' = 'false')::int AS withdrawn,
  count(*) FILTER (WHERE event = 'request.received')::int AS received,
  count(*) FILTER (WHERE event = 'request.completed' AND coalesce(details->>'status', 'completed') = 'completed')::int AS completed,
  count(*) FILTER (WHERE event = 'request.overdue')::int AS overdue
FROM compliance_log
WHERE region = $1 AND event IN ('consent.changed', 'request.received', 'request.completed', 'request.overdue') AND at >= $2 AND at < $3`;

const PURGED_SQL = `
SELECT counts.key AS purpose, sum(counts.value::bigint)::float8 AS n
FROM compliance_log l,
     LATERAL (SELECT * FROM jsonb_each_text(l.details->'expired') UNION ALL SELECT * FROM jsonb_each_text(l.details->'outOfWindow')) counts
WHERE l.region = $1 AND l.event = 'purge.ran' AND l.at >= $2 AND l.at < $3
GROUP BY counts.key`;

// Counts of refused writes are flushed some time after the hour they count: the hour decides the period.
const BLOCKED_SQL = `
SELECT details->>'purpose' AS purpose, sum((details->>'count')::bigint)::float8 AS n
FROM compliance_log
WHERE region = $1 AND event = 'write.blocked' AND (details->>'hour')::timestamptz >= $2 AND (details->>'hour')::timestamptz < $3
GROUP BY 1`;

const OPEN_OVERDUE_SQL = `
SELECT count(*)::int AS n FROM privacy_requests WHERE region = $1 AND "completedAt" IS NULL AND status <> 'completed' AND "dueAt" <= $2`;

export interface ReportPeriod {
  from?: Date;
  to?: Date;
  /** The moment "open and overdue" is judged at. */
  now: Date;
}

export async function regionReport(connection: Connection, region: string, period: ReportPeriod): Promise<RegionReport> {
  const range = [region, period.from?.toISOString() ?? "-infinity", period.to?.toISOString() ?? "infinity"];
  const [events] = await connection.query<{ given: number; withdrawn: number; received: number; completed: number; overdue: number }>(EVENTS_SQL, range);
  const purged = await connection.query<{ purpose: string; n: number }>(PURGED_SQL, range);
  const blocked = await connection.query<{ purpose: string; n: number }>(BLOCKED_SQL, range);
  const [open] = await connection.query<{ n: number }>(OPEN_OVERDUE_SQL, [region, period.now.toISOString()]);
  return {
    region,
    from: period.from?.toISOString() ?? null,
    to: period.to?.toISOString() ?? null,
    asOf: period.now.toISOString(),
    consents: { given: events!.given, withdrawn: events!.withdrawn },
    requests: { received: events!.received, completed: events!.completed, overdue: events!.overdue, openOverdue: open!.n },
    rowsPurged: totals(purged),
    writesBlocked: totals(blocked),
  };
}

function totals(rows: { purpose: string; n: number }[]): { total: number; byPurpose: Record<string, number> } {
  const byPurpose = Object.fromEntries(rows.map((r) => [r.purpose, Number(r.n)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  return { total: rows.reduce((sum, r) => sum + Number(r.n), 0), byPurpose };
}
