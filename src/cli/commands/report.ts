/**
 * `consentgate report <region>`: the region's compliance summary (the same
 * as GET /admin/report/:region) from the app's database. Exit 1 when requests
 * are open past their legal deadline.
 */
import { parseArgs } from "node:util";
import { type RegionReport, regionReport } from "../../audit/report.ts";
import { createComplianceLogStore } from "../../store/compliance-log.ts";
import { createRequests } from "../../store/requests.ts";
import { DEFAULT_POOL_SIZE } from "../../options.ts";
import { openStore } from "../../store/store.ts";
import { type Command, type Io, UsageError, answer } from "../command.ts";
import { formatTable } from "../table.ts";
import { CONFIGURED_OPTIONS, CONFIGURED_USAGE, configured, policyOrProblems, regionOf } from "./configured.ts";

export const report: Command = {
  usage: `<region> [--from date] [--to date] ${CONFIGURED_USAGE}`,
  summary: "summarize a region's compliance log (default: all it keeps); exit 1 when requests are past their deadline",
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...CONFIGURED_OPTIONS, from: { type: "string" }, to: { type: "string" } },
      allowPositionals: true,
    });
    const target = configured(values);
    const now = new Date();
    const from = date("from", values.from);
    const to = date("to", values.to);
    const policy = await policyOrProblems(target.policies, io);
    if (!policy) return 1;
    const region = regionOf(policy, positionals);
    const store = await openStore(target.database, { poolSize: DEFAULT_POOL_SIZE });
    let summary: RegionReport;
    try {
      summary = await regionReport(
        { logStore: createComplianceLogStore(store.connection), requests: createRequests(store.connection) },
        region,
        { ...(from ? { from } : {}), ...(to ? { to } : {}), now },
      );
    } finally {
      await store.close();
    }
    answer(io, summary, () => describe(summary, io));
    return summary.requests.openOverdue > 0 ? 1 : 0;
  },
};

function date(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()))
    throw new UsageError(`--${name} must be a date (2026-11-01) or time (2026-11-01T00:00:00Z), got "${value}"`);
  return parsed;
}

function describe(r: RegionReport, io: Io): void {
  io.out(
    `Compliance report for ${r.region}, ${r.from ?? "from the oldest kept entry"} to ${r.to ?? "now"} (as of ${r.asOf})`,
  );
  io.out("");
  formatTable(
    ["", "count"],
    [
      ["consents given", String(r.consents.given)],
      ["consents withdrawn", String(r.consents.withdrawn)],
      ["requests received", String(r.requests.received)],
      ["requests completed", String(r.requests.completed)],
      ["requests that went overdue", String(r.requests.overdue)],
      ["rows purged", String(r.rowsPurged.total)],
      ["writes blocked", String(r.writesBlocked.total)],
    ],
  ).forEach((line) => io.out(line));
  const purposes = [
    ...new Set([...Object.keys(r.rowsPurged.byPurpose), ...Object.keys(r.writesBlocked.byPurpose)]),
  ].sort();
  if (purposes.length > 0) {
    io.out("");
    formatTable(
      ["purpose", "rows purged", "writes blocked"],
      purposes.map((p) => [p, String(r.rowsPurged.byPurpose[p] ?? 0), String(r.writesBlocked.byPurpose[p] ?? 0)]),
    ).forEach((line) => io.out(line));
  }
  io.out("");
  const open = r.requests.openOverdue;
  io.out(
    open === 0
      ? "No request is past its legal deadline."
      : `${open} request${open === 1 ? " is" : "s are"} past the legal deadline and not completed.`,
  );
}
