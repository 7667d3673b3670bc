/**
 * What the privacy officer's console shows, read for one region and period:
 * the report's counts, the log's daily series, the chain's check, the
 * requests (overdue first), and the privacy budget spent. Every query is
 * bound by the region and the period; the period is checked here (its
 * parsing is pure, and tested on its own).
 */
import type { VerifyResult } from "../audit/events.ts";
import { type RegionReport, type ReportSources, regionReport } from "../audit/report.ts";
import { ConsentgateError } from "../errors.ts";
import type { Policy } from "../policy/types.ts";
import type { ComplianceLogStore, DailyLogCounts, LoggedRelease, StoredLogEntry } from "../store/compliance-log.ts";
import type { LearningStatus } from "../store/learning.ts";
import { isOverdue, type PrivacyRequestView, type Requests } from "../store/requests.ts";

export interface ConsoleViewDeps extends ReportSources {
  readonly policy: Policy;
  readonly logStore: Pick<
    ComplianceLogStore,
    "reportCounts" | "dailyCounts" | "releases" | "latestReleases" | "requestEntries"
  >;
  readonly requests: Pick<Requests, "countOpenOverdue" | "forRegion" | "findAny">;
  readonly audit: { verify(region: string): Promise<VerifyResult> };
  readonly learning: { status(model: string): Promise<LearningStatus> };
  readonly now: () => Date;
}

/** The region and the days the console shows: [from, to) in UTC, with the days as the form shows them. */
export interface Period {
  region: string;
  from: Date;
  /** Exclusive: the day after `lastDay`. */
  to: Date;
  firstDay: string;
  lastDay: string;
}

/** Days shown when the form names none: the last 30, today included. */
export const DEFAULT_DAYS = 30;
/** The longest period the console reads at once: a leap year. */
export const MAX_DAYS = 366;
/** How many rows the console's long lists show; each says so when it has more. */
export interface ConsoleLimits {
  /** Requests listed of each kind (overdue, received in the period). */
  requests: number;
  /** insights.released entries in the releases table (the newest). */
  releases: number;
}

export const CONSOLE_LIMITS: ConsoleLimits = { requests: 200, releases: 1000 };

const DAY_MS = 86_400_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The period from `?region=&from=&to=` (days, YYYY-MM-DD, both included):
 * by default the last 30 days in `fallbackRegion`. Throws `invalid_body`
 * for a date that is not one, a `from` after `to`, more than 366 days, or a
 * region the policy does not have.
 */
export function parsePeriod(
  query: Record<string, unknown>,
  policy: Pick<Policy, "regions">,
  fallbackRegion: string,
  now: Date,
): Period {
  const region = query.region === undefined || query.region === "" ? fallbackRegion : query.region;
  if (typeof region !== "string" || !Object.hasOwn(policy.regions, region))
    throw new ConsentgateError(
      "invalid_body",
      `pick one of the policy's regions (${Object.keys(policy.regions).join(", ")})`,
      { region: String(region) },
    );
  const today = startOfDay(now);
  const last = dayParam(query.to, "to") ?? today;
  const first = dayParam(query.from, "from") ?? new Date(last.getTime() - (DEFAULT_DAYS - 1) * DAY_MS);
  if (first > last) throw new ConsentgateError("invalid_body", "the first day must not be after the last day");
  const days = (last.getTime() - first.getTime()) / DAY_MS + 1;
  if (days > MAX_DAYS)
    throw new ConsentgateError(
      "invalid_body",
      `the console shows at most ${MAX_DAYS} days at once; this period has ${days}`,
    );
  return {
    region,
    from: first,
    to: new Date(last.getTime() + DAY_MS),
    firstDay: dayOf(first),
    lastDay: dayOf(last),
  };
}

function dayParam(value: unknown, name: string): Date | undefined {
  if (value === undefined || value === "") return undefined;
  const date = typeof value === "string" && DAY.test(value) ? new Date(`${value}T00:00:00.000Z`) : undefined;
  // new Date accepts 2026-02-31 as 3 March: only a day that reads back the same is one.
  if (date === undefined || Number.isNaN(date.getTime()) || dayOf(date) !== value)
    throw new ConsentgateError("invalid_body", `the ${name} date must be a day written YYYY-MM-DD, e.g. 2026-11-01`);
  return date;
}

const startOfDay = (date: Date) => new Date(Math.floor(date.getTime() / DAY_MS) * DAY_MS);
export const dayOf = (date: Date) => date.toISOString().slice(0, 10);

/** Every day of the period, YYYY-MM-DD. */
export function daysOf(period: Pick<Period, "from" | "to">): string[] {
  const days: string[] = [];
  for (let t = period.from.getTime(); t < period.to.getTime(); t += DAY_MS) days.push(dayOf(new Date(t)));
  return days;
}

/** A budget's use: an insights release's in its rolling period, or a model's over its life. */
export interface BudgetUse {
  kind: "release" | "model";
  name: string;
  spent: number;
  budget: number;
  /** When it was last spent from (a release), or undefined when the log shows no release in the period. */
  at?: Date;
  /** A model not defined in this process yet (gate.learning.define), so nothing to show. */
  undefinedModel?: boolean;
}

export interface ConsoleView {
  period: Period;
  regions: string[];
  asOf: Date;
  report: RegionReport;
  daily: DailyLogCounts;
  chain: VerifyResult;
  /** The oldest deadlines first, at most the limit; overdueTotal: how many there are. */
  overdue: PrivacyRequestView[];
  overdueTotal: number;
  /** The newest first, at most the limit; receivedTotal: how many there are. */
  received: PrivacyRequestView[];
  receivedTotal: number;
  /** The newest releases of the period, oldest first; releasesTotal: how many there are. */
  releases: LoggedRelease[];
  releasesTotal: number;
  budgets: BudgetUse[];
  /** Purpose name → description, for labels. */
  purposes: Record<string, string>;
}

export async function loadConsole(
  deps: ConsoleViewDeps,
  period: Period,
  limits: ConsoleLimits = CONSOLE_LIMITS,
): Promise<ConsoleView> {
  const now = deps.now();
  const { region, from, to } = period;
  const report = await regionReport(deps, region, { from, to, now });
  const daily = await deps.logStore.dailyCounts(region, from, to);
  const chain = await deps.audit.verify(region);
  const requests = await deps.requests.forRegion(region, from, to, now, limits.requests);
  const { releases, total: releasesTotal } = await deps.logStore.releases(region, from, to, limits.releases);
  // Each release's last spend in the period, read on its own: the table's rows may not reach back to it.
  const latest = await deps.logStore.latestReleases(region, from, to);
  return {
    period,
    regions: Object.keys(deps.policy.regions),
    asOf: now,
    report,
    daily,
    chain,
    ...requests,
    releases,
    releasesTotal,
    budgets: [...releaseBudgets(deps.policy, latest), ...(await modelBudgets(deps))],
    purposes: Object.fromEntries(Object.values(deps.policy.purposes).map((p) => [p.name, p.description])),
  };
}

/** Each release of the policy at its last spend in the period (the log's `spent` is its rolling period's). */
function releaseBudgets(policy: Policy, latest: readonly LoggedRelease[]): BudgetUse[] {
  return Object.values(policy.insights).map((release) => {
    const last = latest.find((r) => r.name === release.name);
    return last === undefined
      ? { kind: "release", name: release.name, spent: 0, budget: release.budget.epsilon }
      : { kind: "release", name: release.name, spent: last.spent, budget: last.budget, at: last.at };
  });
}

/** Each model's epsilon spent over its life, now (a model has no period: its budget is for all its rounds). */
async function modelBudgets(deps: ConsoleViewDeps): Promise<BudgetUse[]> {
  const uses: BudgetUse[] = [];
  for (const model of Object.values(deps.policy.learning)) {
    try {
      const status = await deps.learning.status(model.model);
      uses.push({ kind: "model", name: model.model, spent: status.spent.epsilon, budget: status.budget.epsilon });
    } catch (error) {
      if (!(error instanceof ConsentgateError && error.code === "not_found")) throw error;
      uses.push({ kind: "model", name: model.model, spent: 0, budget: model.budget.epsilon, undefinedModel: true });
    }
  }
  return uses;
}

/** One request with its log entries, for its details page. */
export interface RequestDetails {
  request: PrivacyRequestView;
  entries: StoredLogEntry[];
  overdue: boolean;
}

export async function loadRequest(deps: ConsoleViewDeps, id: string): Promise<RequestDetails | undefined> {
  const request = await deps.requests.findAny(id);
  if (request === undefined) return undefined;
  const entries = await deps.logStore.requestEntries(request.region, request.id);
  return { request, entries, overdue: isOverdue(request, deps.now()) };
}
