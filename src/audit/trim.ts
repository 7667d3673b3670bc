/**
 * Dropping a region's entries older than its logRetention without breaking
 * verification. The kept part must stay one unbroken run ending at the head,
 * so only a prefix goes: everything before the first entry written at or
 * after the cut-off (always keeping the newest entry). Before deleting, a
 * `log.checkpoint` entry records where the kept part starts and the hash it
 * continues from; being itself in the chain, the checkpoint cannot be forged
 * without breaking what follows it. The delete is one statement, so a reader
 * never sees half a trim; a crash between checkpoint and delete leaves a
 * harmless checkpoint and the next run trims.
 */
import { type ComplianceLogStore, LOG_EVENT } from "../store/compliance-log.ts";
import type { ComplianceLog } from "./events.ts";
import type { Checkpoint } from "./verify.ts";

/**
 * One region's trim by the log-retention job.
 *
 * @example
 * ```ts
 * import type { TrimResult } from "consentgate";
 *
 * const describe = (r: TrimResult) =>
 *   r.deleted === 0 ? "nothing old enough" : `${r.deleted} deleted; the chain now starts at ${r.from}`;
 * ```
 */
export interface TrimResult {
  /** Entries deleted (0 when nothing was old enough). */
  deleted: number;
  /** The first entry kept, when something was deleted. */
  from?: number;
}

/** What a trim reads and deletes in the log's tables. */
export type TrimStore = Pick<ComplianceLogStore, "seqRange" | "firstSeqSince" | "prevHashOf" | "deleteBefore">;

export async function trimLog(
  store: TrimStore,
  log: Pick<ComplianceLog, "append">,
  region: string,
  cutoff: Date,
): Promise<TrimResult> {
  const bounds = await store.seqRange(region);
  if (bounds === undefined) return { deleted: 0 };
  const young = await store.firstSeqSince(region, cutoff);
  const from = Math.min(young ?? bounds.last, bounds.last);
  if (from <= bounds.first) return { deleted: 0 };

  const checkpoint: Checkpoint = { from, prevHash: (await store.prevHashOf(region, from))! };
  await log.append({
    region,
    event: LOG_EVENT.logCheckpoint,
    details: { ...checkpoint, cutoff: cutoff.toISOString() },
  });
  const deleted = await store.deleteBefore(region, from);
  await log.append({
    region,
    event: LOG_EVENT.logTrimmed,
    details: { deleted, firstDeleted: bounds.first, lastDeleted: from - 1, cutoff: cutoff.toISOString() },
  });
  return { deleted, from };
}
