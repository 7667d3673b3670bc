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
import type { Connection } from "../store/connection.ts";
import { regionRules } from "../policy/region.ts";

export interface DeadlinesDeps {
  connection: Connection;
  policy: Policy;
  audit: ComplianceLog;
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

interface Open {
  id: string;
  subjectId: string;
  type: string;
  status: string;
  region: string;
  receivedAt: Date;
  dueAt: Date;
}

export async function markOverdue({ connection, policy, audit }: DeadlinesDeps, now: Date): Promise<DeadlinesResult> {
  const marked = await connection.query(
    `UPDATE privacy_requests SET status = 'overdue' WHERE status = 'received' AND "completedAt" IS NULL AND "dueAt" <= $1 RETURNING id`,
    [now.toISOString()],
  );
  const open = await connection.query<Open>(
    `SELECT id, "subjectId", type, status, region, "receivedAt", "dueAt" FROM privacy_requests
     WHERE status IN ('overdue', 'partial') AND "completedAt" IS NULL AND "dueAt" <= $1 ORDER BY "dueAt", id`,
    [now.toISOString()],
  );
  const byRegion = new Map<string, Open[]>();
  for (const r of open) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), r]);
  let logged = 0;
  for (const [region, requests] of byRegion) {
    const rules = regionRules(policy, region);
    const cutoff = subtractDuration(now, rules.logRetention);
    const candidates = requests.filter((r) => new Date(r.dueAt) >= cutoff);
    if (candidates.length === 0) continue;
    const known = await connection.query<{ id: string }>(
      `SELECT details->>'requestId' AS id FROM compliance_log WHERE region = $1 AND event = 'request.overdue' AND details->>'requestId' = ANY($2::text[])`,
      [region, candidates.map((r) => r.id)],
    );
    const done = new Set(known.map((k) => k.id));
    for (const r of candidates.filter((c) => !done.has(c.id))) {
      await audit.append({
        region,
        event: "request.overdue",
        subjectId: r.subjectId,
        details: { requestId: r.id, type: r.type, status: r.status, receivedAt: new Date(r.receivedAt).toISOString(), dueAt: new Date(r.dueAt).toISOString() },
      });
      logged++;
    }
  }
  return { marked: marked.length, logged };
}
