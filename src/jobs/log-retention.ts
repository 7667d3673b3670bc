/**
 * The log-retention job: each region's log keeps its entries for the
 * region's `logRetention`; older ones are trimmed behind a checkpoint so the
 * chain still verifies (src/audit/trim.ts).
 */
import type { ComplianceLog } from "../audit/events.ts";
import { type TrimResult, type TrimStore, trimLog } from "../audit/trim.ts";
import { subtractDuration } from "../policy/duration.ts";
import type { Policy } from "../policy/types.ts";

export interface LogRetentionDeps {
  logStore: TrimStore;
  policy: Policy;
  audit: Pick<ComplianceLog, "append">;
}

/** region → what was trimmed. */
/**
 * What the log-retention job did, per region: entries older than the
 * region's logRetention deleted, behind a checkpoint that keeps the chain
 * verifiable.
 *
 * @example
 * ```ts
 * const trimmed = await gate.runJob("log-retention");
 * for (const [region, { deleted }] of Object.entries(trimmed)) console.log(region, deleted);
 * ```
 */
export type LogRetentionResult = Record<string, TrimResult>;

export async function trimLogs({ logStore, policy, audit }: LogRetentionDeps, now: Date): Promise<LogRetentionResult> {
  const result: LogRetentionResult = {};
  for (const region of Object.values(policy.regions)) {
    result[region.name] = await trimLog(logStore, audit, region.name, subtractDuration(now, region.logRetention));
  }
  return result;
}
