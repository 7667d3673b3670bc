/**
 * Counts of refused writes per region, purpose and hour, for the compliance
 * log's `write.blocked` events. Counts only: never who, never what.
 */
import { LOG_EVENT } from "../store/compliance-log.ts";
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
  /** Adds drained counts back (those a flush could not log), to be logged by a later flush. */
  restore(counts: BlockedWriteCount[]): void;
}

export function createBlockedWrites(): BlockedWrites {
  let counts = new Map<string, BlockedWriteCount>();
  const count = (region: string, purpose: string, hour: string, n: number) => {
    const key = `${region}\u0000${purpose}\u0000${hour}`;
    const entry = counts.get(key);
    if (entry) entry.count += n;
    else counts.set(key, { region, purpose, hour, count: n });
  };
  return {
    add(region, purpose, at) {
      count(region, purpose, new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000).toISOString(), 1);
    },
    drain() {
      const drained = [...counts.values()];
      counts = new Map();
      return drained;
    },
    restore(restored) {
      for (const { region, purpose, hour, count: n } of restored) count(region, purpose, hour, n);
    },
  };
}

/**
 * Moves the counts gathered so far into the log as `write.blocked` entries,
 * one per region, purpose and hour. Each instance counts its own refusals, so
 * each flushes its own (hourly and on close), never through an elected job.
 * When an append fails, the counts not yet logged go back (merged with any
 * gathered meanwhile) for the next flush, and the failure is thrown. (An
 * append that committed but lost its answer is then counted twice: an
 * over-count shows in the log as an extra entry, a lost count shows nowhere.)
 */
export async function flushBlockedWrites(blocked: BlockedWrites, log: Pick<ComplianceLog, "append">): Promise<number> {
  const counts = blocked.drain();
  for (const [i, { region, purpose, hour, count }] of counts.entries()) {
    try {
      await log.append({ region, event: LOG_EVENT.writeBlocked, details: { purpose, hour, count } });
    } catch (error) {
      blocked.restore(counts.slice(i));
      throw error;
    }
  }
  return counts.length;
}
