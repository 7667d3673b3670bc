/**
 * Checking a region's hash chain. Each entry must hash to its stored hash and
 * continue from the entry before it, with no seq skipped; the chain must end
 * where the region's head row says it ends (so entries cut off the end are
 * caught too); and it must start either at the genesis or at an entry that a
 * `log.checkpoint` later in the chain vouches for (the retention job trims
 * old entries only after writing one), with the very prevHash the checkpoint
 * recorded.
 *
 * Entries are keyed (HMAC under the chain key). A plain SHA-256 entry, as
 * written before the chain was keyed, is accepted only while no keyed entry
 * came before it: rewriting a keyed entry as a plain one, and the chain after
 * it, is caught at that entry.
 */
import type { AuditEntry, VerifyResult } from "./events.ts";
import { GENESIS, entryHash, legacyEntryHash } from "./hash.ts";

export interface ChainHead {
  seq: number;
  hash: string;
}

/** What a `log.checkpoint` entry's details vouch for: the first entry kept, and the hash it continues from. */
export interface Checkpoint {
  from: number;
  prevHash: string;
}

/** `entries` in seq order, read no further than `head` (appends made while verifying are not this check's business). */
export async function verifyChain(
  entries: AsyncIterable<AuditEntry>,
  head: ChainHead | undefined,
  chainKey: Buffer,
): Promise<VerifyResult> {
  let first: AuditEntry | undefined;
  let previous: AuditEntry | undefined;
  let keyed = false;
  let count = 0;
  const anchors: Checkpoint[] = [];
  const broken = (brokenAt: number, reason: string): VerifyResult => ({ ok: false, brokenAt, reason });

  for await (const entry of entries) {
    if (previous === undefined) {
      first = entry;
      if (entry.seq === 1 && entry.prevHash !== GENESIS)
        return broken(1, "entry 1 does not start from the genesis hash");
    } else {
      if (entry.seq !== previous.seq + 1) return broken(previous.seq + 1, missing(previous.seq + 1, entry.seq - 1));
      if (entry.prevHash !== previous.hash)
        return broken(
          entry.seq,
          `entry ${entry.seq} does not continue from entry ${previous.seq} (prevHash differs from its hash)`,
        );
    }
    if (entryHash(entry, chainKey) === entry.hash) keyed = true;
    else if (legacyEntryHash(entry) !== entry.hash)
      return broken(entry.seq, `entry ${entry.seq} was changed (its content no longer matches its hash)`);
    else if (keyed) return broken(entry.seq, `entry ${entry.seq} was rewritten (an unkeyed hash after keyed entries)`);
    if (entry.event === "log.checkpoint") anchors.push(entry.details as unknown as Checkpoint);
    previous = entry;
    count++;
  }

  if (first === undefined || previous === undefined) {
    return head === undefined
      ? { ok: true, entries: 0 }
      : broken(head.seq, `the log is empty but its head says it ends at entry ${head.seq}`);
  }
  if (first.seq !== 1 && !anchors.some((a) => a.from === first.seq && a.prevHash === first.prevHash)) {
    // The chain should start where the newest checkpoint below the first kept entry says, else at the genesis.
    const start = Math.max(1, ...anchors.map((a) => a.from).filter((from) => from < first.seq));
    return broken(
      start,
      `${missing(start, first.seq - 1)} and no checkpoint vouches for entry ${first.seq} as the start`,
    );
  }
  if (head === undefined) return broken(previous.seq, "the region's head record is missing");
  if (head.seq > previous.seq)
    return broken(previous.seq + 1, `${missing(previous.seq + 1, head.seq)} from the end of the chain`);
  if (head.hash !== previous.hash)
    return broken(previous.seq, `entry ${previous.seq} is not the head the log recorded`);
  return { ok: true, entries: count };
}

function missing(from: number, to: number): string {
  return from === to ? `entry ${from} is missing` : `entries ${from} to ${to} are missing`;
}
