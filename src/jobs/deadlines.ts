/**
 * The deadlines job: a request still open past its legal deadline is marked
 * `overdue` and logged as `request.overdue`, once per request.
 *
 * `partial` erasures keep their status (the erasure-retry job works on
 * them) but are logged the same way. "Once" is decided by the log itself, not
 * by the status: a run that dies between marking and logging is completed by
 * the next one. Requests due before the region's log retention cut-off are
 * not looked at again: their entry, if any, may have been trimmed.
 */
import type { ComplianceLog } from "../audit/events.ts";
import { subtractDuration } from "../policy/duration.ts";
import type { Policy } from "../policy/types.ts";
import { type ComplianceLogStore, LOG_EVENT } from "../store/compliance-log.ts";
import type { Requests } from "../store/requests.ts";
import { regionRules } from "../policy/region.ts";

export interface DeadlinesDeps {
  requests: Pick<Requests, "markOverdue" | "pastDeadline">;
  logStore: Pick<ComplianceLogStore, "overdueLogged">;
  policy: Policy;
  audit: Pick<ComplianceLog, "append">;
}

/**
 * What the deadlines job did: requests past their legal deadline marked
 * overdue, and logged.
 *
 * @example
 * ```ts
 * const { marked } = await gate.runJob("deadlines");
 * if (marked > 0) console.warn(`${marked} privacy requests passed their legal deadline`);
 * ```
 */
export interface DeadlinesResult {
  /** Requests whose status this run changed to overdue. */
  marked: number;
  /** request.overdue entries this run wrote. */
  logged: number;
}

export async function markOverdue(
  { requests, logStore, policy, audit }: DeadlinesDeps,
  now: Date,
): Promise<DeadlinesResult> {
  const marked = await requests.markOverdue(now);
  const open = await requests.pastDeadline(now);
  const byRegion = new Map<string, typeof open>();
  for (const r of open) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), r]);
  let logged = 0;
  for (const [region, inRegion] of byRegion) {
    const rules = regionRules(policy, region);
    const cutoff = subtractDuration(now, rules.logRetention);
    const candidates = inRegion.filter((r) => r.dueAt >= cutoff);
    if (candidates.length === 0) continue;
    const done = await logStore.overdueLogged(
      region,
      candidates.map((r) => r.id),
    );
    for (const r of candidates.filter((c) => !done.has(c.id))) {
      await audit.append({
        region,
        event: LOG_EVENT.requestOverdue,
        subjectId: r.subjectId,
        details: {
          requestId: r.id,
          type: r.type,
          status: r.status,
          receivedAt: r.receivedAt.toISOString(),
          dueAt: r.dueAt.toISOString(),
        },
      });
      logged++;
    }
  }
  return { marked, logged };
}
