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
import type { Connection } from "../store/connection.ts";
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

export async function trimLog(connection: Connection, log: ComplianceLog, region: string, cutoff: Date): Promise<TrimResult> {
  const [bounds] = await connection.query<{ first: string | null; last: string | null }>(
    `SELECT min(seq)::text AS first, max(seq)::text AS last FROM compliance_log WHERE region = $1`,
    [region],
  );
  if (bounds?.first == null || bounds.last == null) return { deleted: 0 };
  const [young] = await connection.query<{ seq: string }>(
    `SELECT seq::text AS seq FROM compliance_log WHERE region = $1 AND at >= $2 ORDER BY compliance_log.seq LIMIT 1`,
    [region, cutoff.toISOString()],
  );
  const from = Math.min(Number(young?.seq ?? bounds.last), Number(bounds.last));
  if (from <= Number(bounds.first)) return { deleted: 0 };

  const [kept] = await connection.query<{ prevHash: string }>(`SELECT "prevHash" FROM compliance_log WHERE region = $1 AND seq = $2`, [region, from]);
  const checkpoint: Checkpoint = { from, prevHash: kept!.prevHash };
  await log.append({ region, event: "log.checkpoint", details: { ...checkpoint, cutoff: cutoff.toISOString() } });
  const [gone] = await connection.query<{ n: number }>(
    `WITH gone AS (DELETE FROM compliance_log WHERE region = $1 AND seq < $2 RETURNING 1) SELECT count(*)::int AS n FROM gone`,
    [region, from],
  );
  const deleted = gone?.n ?? 0;
  await log.append({ region, event: "log.trimmed", details: { deleted, firstDeleted: Number(bounds.first), lastDeleted: from - 1, cutoff: cutoff.toISOString() } });
  return { deleted, from };
}
