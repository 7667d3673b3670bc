/**
 * verifyChain on chains built in memory: each way a chain can be broken is
 * caught at the entry where it breaks, with a reason that says what is wrong.
 * (test/audit/log.test.ts checks the same through a real database.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuditEntry, VerifyResult } from "../../src/audit/events.ts";
import { GENESIS, entryHash, legacyEntryHash } from "../../src/audit/hash.ts";
import { type ChainHead, verifyChain } from "../../src/audit/verify.ts";

const KEY = Buffer.from("chain-key-for-tests-chain-key-for-tests");
const OTHER_KEY = Buffer.from("another-key-another-key-another-key");

type Draft = Partial<Omit<AuditEntry, "hash" | "prevHash" | "seq">> & { legacy?: boolean };

/** A chain of entries from `from`, continuing from `prevHash`; an entry marked legacy is hashed as before the chain was keyed. */
function chain(drafts: Draft[], from = 1, prevHash = GENESIS, key = KEY): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (const [i, { legacy, ...draft }] of drafts.entries()) {
    const unhashed = {
      region: "EU",
      seq: from + i,
      at: new Date(Date.UTC(2026, 4, 1, 0, i)).toISOString(),
      event: "consent.changed",
      subject: null,
      details: { n: i },
      ...draft,
      prevHash: entries.at(-1)?.hash ?? prevHash,
    };
    entries.push({ ...unhashed, hash: legacy ? legacyEntryHash(unhashed) : entryHash(unhashed, key) });
  }
  return entries;
}

const plain = (n: number): Draft[] => Array.from({ length: n }, () => ({}));
const headOf = (entries: AuditEntry[]): ChainHead => ({ seq: entries.at(-1)!.seq, hash: entries.at(-1)!.hash });

async function* stream(entries: AuditEntry[]): AsyncIterable<AuditEntry> {
  yield* entries;
}

/** Verifies against the head the entries end at, unless another head (or none: null) is given. */
const verify = (entries: AuditEntry[], head: ChainHead | null | "last" = "last", key = KEY) =>
  verifyChain(
    stream(entries),
    head === "last" ? (entries.length > 0 ? headOf(entries) : undefined) : (head ?? undefined),
    key,
  );

const broken = (brokenAt: number, reason: string): VerifyResult => ({ ok: false, brokenAt, reason });

/** The same entry with fields changed and its hash recomputed under the key (a forger who holds it). */
function rehashed(entry: AuditEntry, change: Partial<AuditEntry>, key = KEY): AuditEntry {
  const { hash: _, ...rest } = { ...entry, ...change };
  return { ...rest, hash: entryHash(rest, key) };
}

describe("verifyChain", () => {
  test("an intact chain verifies, and counts its entries", async () => {
    assert.deepEqual(await verify(chain(plain(3))), { ok: true, entries: 3 });
    assert.deepEqual(await verify(chain(plain(1))), { ok: true, entries: 1 });
  });

  test("an empty log verifies only when no head says it has entries", async () => {
    assert.deepEqual(await verify([], null), { ok: true, entries: 0 });
    assert.deepEqual(
      await verify([], { seq: 4, hash: "h" }),
      broken(4, "the log is empty but its head says it ends at entry 4"),
    );
  });

  test("entry 1 must start from the genesis hash", async () => {
    const entries = chain(plain(2), 1, "f".repeat(64));
    assert.deepEqual(await verify(entries), broken(1, "entry 1 does not start from the genesis hash"));
  });

  test("an entry whose content changed is caught at that entry", async () => {
    const entries = chain(plain(3));
    entries[1] = { ...entries[1]!, details: { n: 99 } };
    assert.deepEqual(await verify(entries), broken(2, "entry 2 was changed (its content no longer matches its hash)"));
  });

  test("every field is covered by the hash", async () => {
    for (const change of [
      { region: "UK" },
      { at: "2027-01-01T00:00:00.000Z" },
      { event: "erasure.completed" },
      { subject: "p" },
      { details: {} },
      { hash: "0".repeat(64) },
    ]) {
      const entries = chain(plain(2));
      entries[0] = { ...entries[0]!, ...change };
      const result = await verify(entries);
      assert.equal(result.ok, false, JSON.stringify(change));
    }
  });

  test("an entry rehashed but not linked to the one before it is caught where the link breaks", async () => {
    const entries = chain(plain(3));
    entries[1] = rehashed(entries[1]!, { prevHash: "a".repeat(64) });
    assert.deepEqual(
      await verify(entries),
      broken(2, "entry 2 does not continue from entry 1 (prevHash differs from its hash)"),
    );
  });

  test("a missing entry is named, and so is a run of them", async () => {
    const entries = chain(plain(5));
    assert.deepEqual(await verify([entries[0]!, ...entries.slice(2)]), broken(2, "entry 2 is missing"));
    assert.deepEqual(await verify([entries[0]!, ...entries.slice(3)]), broken(2, "entries 2 to 3 are missing"));
  });

  test("entries cut off the end are caught by the head", async () => {
    const entries = chain(plain(5));
    assert.deepEqual(
      await verify(entries.slice(0, 4), headOf(entries)),
      broken(5, "entry 5 is missing from the end of the chain"),
    );
    assert.deepEqual(
      await verify(entries.slice(0, 3), headOf(entries)),
      broken(4, "entries 4 to 5 are missing from the end of the chain"),
    );
  });

  test("the head must exist and name the last entry's hash", async () => {
    const entries = chain(plain(3));
    assert.deepEqual(await verify(entries, null), broken(3, "the region's head record is missing"));
    assert.deepEqual(
      await verify(entries, { seq: 3, hash: entries[1]!.hash }),
      broken(3, "entry 3 is not the head the log recorded"),
    );
  });

  test("the chain's key matters: under another key no entry verifies", async () => {
    assert.deepEqual(
      await verify(chain(plain(2)), "last", OTHER_KEY),
      broken(1, "entry 1 was changed (its content no longer matches its hash)"),
    );
    assert.deepEqual(await verify(chain(plain(2), 1, GENESIS, OTHER_KEY), "last", OTHER_KEY), { ok: true, entries: 2 });
  });

  test("unkeyed entries of an older chain verify as its leading run, and not after a keyed one", async () => {
    assert.deepEqual(await verify(chain([{ legacy: true }, { legacy: true }, {}, {}])), { ok: true, entries: 4 });
    assert.deepEqual(await verify(chain([{ legacy: true }, { legacy: true }])), { ok: true, entries: 2 });
    assert.deepEqual(
      await verify(chain([{}, { legacy: true }, {}])),
      broken(2, "entry 2 was rewritten (an unkeyed hash after keyed entries)"),
    );
    assert.deepEqual(
      await verify(chain([{ legacy: true }, {}, { legacy: true }])),
      broken(3, "entry 3 was rewritten (an unkeyed hash after keyed entries)"),
    );
  });

  describe("a trimmed chain", () => {
    // Entries 1-6, of which 1-3 were trimmed after checkpoints that vouch for the first entry kept.
    const full = chain(plain(6));
    const kept = full.slice(3);
    const checkpoint = (from: number, prevHash: string): Draft => ({
      event: "log.checkpoint",
      details: { from, prevHash },
    });
    const withCheckpoints = (...drafts: Draft[]) => [...kept, ...chain(drafts, 7, full.at(-1)!.hash)];

    test("starts at the entry a checkpoint vouches for, with the hash it recorded", async () => {
      const entries = withCheckpoints(checkpoint(4, full[2]!.hash));
      assert.deepEqual(await verify(entries), { ok: true, entries: 4 });
    });

    test("a checkpoint that names another start, or another hash, vouches for nothing", async () => {
      assert.deepEqual(
        await verify(withCheckpoints(checkpoint(4, "b".repeat(64)))),
        broken(1, "entries 1 to 3 are missing and no checkpoint vouches for entry 4 as the start"),
      );
      assert.deepEqual(
        await verify(withCheckpoints(checkpoint(5, full[2]!.hash))),
        broken(1, "entries 1 to 3 are missing and no checkpoint vouches for entry 4 as the start"),
      );
    });

    test("without a checkpoint the missing entries are named from the newest checkpointed start below them", async () => {
      assert.deepEqual(
        await verify(kept),
        broken(1, "entries 1 to 3 are missing and no checkpoint vouches for entry 4 as the start"),
      );
      const older = withCheckpoints(
        checkpoint(2, full[0]!.hash),
        checkpoint(3, "c".repeat(64)),
        checkpoint(9, "d".repeat(64)),
      );
      assert.deepEqual(
        await verify(older),
        broken(3, "entry 3 is missing and no checkpoint vouches for entry 4 as the start"),
      );
    });

    test("only log.checkpoint entries vouch", async () => {
      const entries = withCheckpoints({ event: "report.daily", details: { from: 4, prevHash: full[2]!.hash } });
      assert.equal((await verify(entries)).ok, false);
    });
  });
});
