/**
 * Counts of refused writes per region, purpose and hour, for the compliance
 * log's `write.blocked` events. Counts only: never who, never what.
 */
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
