/**
 * The compliance-report job: each region's summary of the previous UTC day
 * goes into its log as `report.daily`, once per day (a rerun for a day
 * already reported writes nothing). This instance's counts of refused writes
 * are flushed first, so the day's `write.blocked` entries are in the report.
 */
import { flushBlockedWrites, type BlockedWrites } from "../audit/blocked-writes.ts";
import type { ComplianceLog } from "../audit/events.ts";
import { type ReportSources, regionReport } from "../audit/report.ts";
import type { Policy } from "../policy/types.ts";
import { type ComplianceLogStore, LOG_EVENT } from "../store/compliance-log.ts";

export interface ComplianceReportDeps extends ReportSources {
  logStore: Pick<ComplianceLogStore, "reportCounts" | "dailyReportWritten">;
  policy: Policy;
  audit: Pick<ComplianceLog, "append">;
  blockedWrites: BlockedWrites;
}

/**
 * What the compliance-report job did: the day it reported on, and the
 * regions whose `report.daily` entry it wrote.
 *
 * @example
 * ```ts
 * const { day, written } = await gate.runJob("compliance-report");
 * console.log(`reports for ${day}: ${written.join(", ") || "already written"}`);
 * ```
 */
export interface ComplianceReportResult {
  /** The day reported on (YYYY-MM-DD, UTC). */
  day: string;
  /** Regions whose report this run wrote. */
  written: string[];
  /** write.blocked entries flushed from this instance. */
  blockedWrites: number;
}

const DAY_MS = 86_400_000;

export async function writeDailyReports(deps: ComplianceReportDeps, now: Date): Promise<ComplianceReportResult> {
  const blockedWrites = await flushBlockedWrites(deps.blockedWrites, deps.audit);
  const to = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
  const from = new Date(to.getTime() - DAY_MS);
  const day = from.toISOString().slice(0, 10);
  const written: string[] = [];
  for (const region of Object.keys(deps.policy.regions)) {
    if (await deps.logStore.dailyReportWritten(region, day)) continue;
    const { region: _region, asOf: _asOf, ...summary } = await regionReport(deps, region, { from, to, now });
    await deps.audit.append({ region, event: LOG_EVENT.reportDaily, details: { day, ...summary } });
    written.push(region);
  }
  return { day, written, blockedWrites };
}
