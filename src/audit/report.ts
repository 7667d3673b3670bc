/**
 * A region's compliance summary over a period, for GET /admin/report/:region,
 * the daily `report.daily` entry and `consentgate report`. Counts of what
 * happened come from the log (the tables forget: an erasure deletes the
 * subject's older requests, a purge deletes rows); what is open now (requests
 * past their deadline) comes from the requests table.
 */
import type { ComplianceLogStore } from "../store/compliance-log.ts";
import { REQUEST_STATUS, type Requests } from "../store/requests.ts";

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

export interface ReportPeriod {
  from?: Date;
  to?: Date;
  /** The moment "open and overdue" is judged at. */
  now: Date;
}

/** Where a report's counts come from: the log's tables, and the requests table for what is open now. */
export interface ReportSources {
  logStore: Pick<ComplianceLogStore, "reportCounts">;
  requests: Pick<Requests, "countOpenOverdue">;
}

export async function regionReport(
  { logStore, requests }: ReportSources,
  region: string,
  period: ReportPeriod,
): Promise<RegionReport> {
  const counts = await logStore.reportCounts(region, period.from, period.to);
  const openOverdue = await requests.countOpenOverdue(region, period.now);
  // Entries written before request.completed named a status were all completions.
  const completed = counts.requestsCompletedByStatus
    .filter((c) => c.status === null || c.status === REQUEST_STATUS.completed)
    .reduce((sum, c) => sum + c.n, 0);
  return {
    region,
    from: period.from?.toISOString() ?? null,
    to: period.to?.toISOString() ?? null,
    asOf: period.now.toISOString(),
    consents: { given: counts.consentsGiven, withdrawn: counts.consentsWithdrawn },
    requests: { received: counts.requestsReceived, completed, overdue: counts.requestsOverdue, openOverdue },
    rowsPurged: totals(counts.purgedByPurpose),
    writesBlocked: totals(counts.blockedByPurpose),
  };
}

function totals(rows: { purpose: string; n: number }[]): { total: number; byPurpose: Record<string, number> } {
  const byPurpose = Object.fromEntries(
    rows.map((r) => [r.purpose, Number(r.n)]).sort(([a], [b]) => String(a).localeCompare(String(b))),
  );
  return { total: rows.reduce((sum, r) => sum + Number(r.n), 0), byPurpose };
}
