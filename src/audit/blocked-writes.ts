/**
 * Counts of refused writes per region, purpose and hour, for the compliance
 * log's `write.blocked` events. Counts only: never who, never what.
 */
import type { ComplianceLog } from "./events.ts";

export interface BlockedWriteCount {
  region: string;
  purpose: string;
  /** Start of the hour, ISO 8601 (UTC). */
  hour: string;
  count: number;
}

export interface BlockedWrites {
  add(region: string, purpose: string, at: Date): void;
  /** Returns the counts gathered so far and starts afresh. */
  drain(): BlockedWriteCount[];
}

export function createBlockedWrites(): BlockedWrites {
  let counts = new Map<string, BlockedWriteCount>();
  return {
    add(region, purpose, at) {
      const hour = new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000).toISOString();
      const key = `${region}\u0000${purpose}\u0000${hour}`;
      const entry = counts.get(key);
      if (entry) entry.count++;
      else counts.set(key, { region, purpose, hour, count: 1 });
    },
    drain() {
      const drained = [...counts.values()];
      counts = new Map();
      return drained;
    },
  };
}

/**
 * Moves the counts gathered so far into the log as `write.blocked` entries,
 * one per region, purpose and hour. Each instance counts its own refusals, so
 * each flushes its own (hourly and on close), never through an elected job.
 */
export async function flushBlockedWrites(blocked: BlockedWrites, log: ComplianceLog): Promise<number> {
  const counts = blocked.drain();
  for (const { region, purpose, hour, count } of counts) {
    await log.append({ region, event: "write.blocked", details: { purpose, hour, count } });
  }
  return counts.length;
}
