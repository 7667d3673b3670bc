import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { before, describe, test } from "node:test";
import type { AuditEntry, ComplianceLog } from "../../src/audit/events.ts";
import { GENESIS, type HashedFields, entryHash, legacyEntryHash } from "../../src/audit/hash.ts";
import { createComplianceLog } from "../../src/audit/log.ts";
import { trimLog } from "../../src/audit/trim.ts";
import { canonicalJson } from "../../src/signatures/canonical-json.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { type ComplianceLogStore, createComplianceLogStore } from "../../src/store/compliance-log.ts";
import type { Store } from "../../src/store/store.ts";
import { TEST_SECRET } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import { type TestDatabase, onPostgres, testDatabase, testStore } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";

describe(`the compliance log on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: TestDatabase;
  let store: Store;
  let logStore: ComplianceLogStore;
  let log: ComplianceLog;
  const clock = testClock("2026-03-01T10:00:00.000Z");
  const keyring = createKeyring(TEST_SECRET);
  const chainKey = keyring.key("log-chain");
  let n = 0;
  // Every test writes chains of its own regions, so one database serves the whole file.
  const freshRegion = () => `R${++n}`;
  before(async () => {
    db = await testDatabase(suite);
    store = await testStore(suite, db);
    logStore = createComplianceLogStore(store.connection);
    log = createComplianceLog(logStore, { pseudonym: keyring.pseudonym, chainKey, now: clock.now, pageSize: 3 });
  });

  const read = async (region: string) => {
    const entries: AuditEntry[] = [];
    for await (const entry of log.entries(region)) entries.push(entry);
    return entries;
  };
  /** Seven entries of the kinds the gate writes. */
  const chain = async (region: string) => {
    for (let i = 1; i <= 7; i++) {
      await log.append({
        region,
        event: i % 2 ? "consent.changed" : "request.received",
        subjectId: `subject-${i}`,
        details: { purpose: "personalization", granted: i % 3 === 0, n: i },
      });
    }
  };
  const sql = (text: string, params: unknown[]) => store.connection.query(text, params);
  /**
   * What someone with write access to the database can do: change entry
   * `from`, then recompute every hash from there to the head with `hash`
   * (any function they can compute), so that every link holds.
   */
  const rewriteFrom = async (
    region: string,
    from: number,
    change: (entry: HashedFields) => HashedFields,
    hash: (entry: HashedFields) => string,
  ) => {
    let prevHash = "";
    for (const { hash: _old, ...entry } of await read(region)) {
      if (entry.seq < from) continue;
      const changed = entry.seq === from ? change(entry) : { ...entry, prevHash };
      prevHash = hash(changed);
      await sql(
        `UPDATE compliance_log SET details = $3::jsonb, "prevHash" = $4, hash = $5 WHERE region = $1 AND seq = $2`,
        [region, entry.seq, JSON.stringify(changed.details), changed.prevHash, prevHash],
      );
      await sql(`UPDATE compliance_log_heads SET hash = $3, "prevHash" = $4 WHERE region = $1 AND seq = $2`, [
        region,
        entry.seq,
        prevHash,
        changed.prevHash,
      ]);
    }
  };

  test("each entry stores seq, prevHash and HMAC-SHA256(chain key, prevHash + canonical JSON of the entry), from the genesis on", async () => {
    const region = freshRegion();
    await chain(region);
    const entries = await read(region);
    assert.deepEqual(
      entries.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6, 7],
      "paged reads (3 a page) return the whole chain in order",
    );
    assert.equal(entries[0]!.prevHash, GENESIS);
    for (const [i, entry] of entries.entries()) {
      const { hash, ...rest } = entry;
      assert.equal(
        hash,
        createHmac("sha256", chainKey)
          .update(rest.prevHash + canonicalJson(rest))
          .digest("hex"),
      );
      if (i > 0) assert.equal(entry.prevHash, entries[i - 1]!.hash);
    }
    assert.equal(entries[0]!.subject, keyring.pseudonym("subject-1"));
    assert.equal(entries[0]!.at, clock.now().toISOString());
    assert.deepEqual(await log.verify(region), { ok: true, entries: 7 });
    assert.deepEqual(await log.verify(freshRegion()), { ok: true, entries: 0 }, "an empty region verifies");
  });

  test("regions are separate chains", async () => {
    const [a, b] = [freshRegion(), freshRegion()];
    await Promise.all([
      log.append({ region: a, event: "purge.ran" }),
      log.append({ region: b, event: "purge.ran" }),
      log.append({ region: a, event: "purge.ran" }),
    ]);
    assert.deepEqual(
      (await read(a)).map((e) => [e.seq, e.prevHash === GENESIS]),
      [
        [1, true],
        [2, false],
      ],
    );
    assert.deepEqual(
      (await read(b)).map((e) => [e.seq, e.prevHash === GENESIS]),
      [[1, true]],
    );
  });

  test("concurrent appends to one region neither fork nor leave gaps", async (ctx) => {
    const region = freshRegion();
    // On PostgreSQL a second connection pool stands for a second instance.
    const other = onPostgres ? await testStore(ctx, db) : store;
    const otherLog = createComplianceLog(createComplianceLogStore(other.connection), {
      pseudonym: keyring.pseudonym,
      chainKey,
      now: clock.now,
    });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? log : otherLog).append({ region, event: "write.blocked", details: { i } }),
      ),
    );
    const entries = await read(region);
    assert.deepEqual(
      entries.map((e) => e.seq),
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    assert.deepEqual(new Set(entries.map((e) => (e.details as { i: number }).i)).size, 60);
    assert.deepEqual(await log.verify(region), { ok: true, entries: 60 });
  });

  test("details are stored as plain JSON and must not hold NUL or a lone surrogate", async () => {
    const region = freshRegion();
    const entry = await log.append({
      region,
      event: "report.daily",
      details: { when: new Date("2026-01-01T00:00:00Z"), skip: undefined, list: [1, undefined] },
    });
    assert.deepEqual(entry.details, { when: "2026-01-01T00:00:00.000Z", list: [1, null] });
    await assert.rejects(log.append({ region, event: "report.daily", details: { text: "a\u0000b" } }), /NUL/);
    await assert.rejects(
      log.append({ region, event: "report.daily", details: { text: "a\ud800b" } }),
      /unpaired surrogate/,
    );
    assert.deepEqual(await log.verify(region), { ok: true, entries: 1 });
  });

  describe("tampering is caught at the entry it touched", () => {
    const tampered = async (tamper: (region: string) => Promise<unknown>) => {
      const region = freshRegion();
      await chain(region);
      await tamper(region);
      return log.verify(region);
    };

    test("changed details", async () => {
      const result = await tampered((region) =>
        sql(
          `UPDATE compliance_log SET details = jsonb_set(details, '{granted}', 'true') WHERE region = $1 AND seq = 4`,
          [region],
        ),
      );
      assert.deepEqual(result, {
        ok: false,
        brokenAt: 4,
        reason: "entry 4 was changed (its content no longer matches its hash)",
      });
    });

    test("a changed time or subject", async () => {
      const earlier = await tampered((region) =>
        sql(`UPDATE compliance_log SET at = at - interval '1 day' WHERE region = $1 AND seq = 2`, [region]),
      );
      assert.deepEqual(earlier, {
        ok: false,
        brokenAt: 2,
        reason: "entry 2 was changed (its content no longer matches its hash)",
      });
      const anonymous = await tampered((region) =>
        sql(`UPDATE compliance_log SET subject = NULL WHERE region = $1 AND seq = 6`, [region]),
      );
      assert.deepEqual(anonymous, {
        ok: false,
        brokenAt: 6,
        reason: "entry 6 was changed (its content no longer matches its hash)",
      });
    });

    test("a changed entry whose own hash was recomputed (with the key) breaks the link to the next one", async () => {
      const result = await tampered(async (region) => {
        await sql(`UPDATE compliance_log SET details = '{"granted": false}' WHERE region = $1 AND seq = 3`, [region]);
        const forged = (await read(region))[2]!;
        await sql(`UPDATE compliance_log SET hash = $2 WHERE region = $1 AND seq = 3`, [
          region,
          entryHash(forged, chainKey),
        ]);
      });
      assert.deepEqual(result, {
        ok: false,
        brokenAt: 4,
        reason: "entry 4 does not continue from entry 3 (prevHash differs from its hash)",
      });
    });

    test("a changed entry with the whole chain after it and the head recomputed, as anyone can without the secret, fails at that entry", async () => {
      const result = await tampered((region) =>
        rewriteFrom(
          region,
          3,
          (entry) => ({ ...entry, details: { ...entry.details, granted: true } }),
          legacyEntryHash,
        ),
      );
      assert.deepEqual(result, {
        ok: false,
        brokenAt: 3,
        reason: "entry 3 was rewritten (an unkeyed hash after keyed entries)",
      });
      const fromTheStart = await tampered((region) =>
        rewriteFrom(
          region,
          1,
          (entry) => ({ ...entry, details: {} }),
          (entry) =>
            createHmac("sha256", "guessed-key")
              .update(entry.prevHash + canonicalJson(entry))
              .digest("hex"),
        ),
      );
      assert.deepEqual(fromTheStart, {
        ok: false,
        brokenAt: 1,
        reason: "entry 1 was changed (its content no longer matches its hash)",
      });
    });

    test("a deleted middle entry", async () => {
      const result = await tampered((region) =>
        sql(`DELETE FROM compliance_log WHERE region = $1 AND seq = 5`, [region]),
      );
      assert.deepEqual(result, { ok: false, brokenAt: 5, reason: "entry 5 is missing" });
    });

    test("two entries whose contents were swapped", async () => {
      const result = await tampered((region) =>
        sql(
          `UPDATE compliance_log c SET at = o.at, event = o.event, subject = o.subject, details = o.details, "prevHash" = o."prevHash", hash = o.hash
           FROM compliance_log o WHERE c.region = $1 AND o.region = $1 AND ((c.seq = 3 AND o.seq = 5) OR (c.seq = 5 AND o.seq = 3))`,
          [region],
        ),
      );
      assert.deepEqual(result, {
        ok: false,
        brokenAt: 3,
        reason: "entry 3 does not continue from entry 2 (prevHash differs from its hash)",
      });
    });

    test("entries cut off the end", async () => {
      const result = await tampered((region) =>
        sql(`DELETE FROM compliance_log WHERE region = $1 AND seq >= 6`, [region]),
      );
      assert.deepEqual(result, {
        ok: false,
        brokenAt: 6,
        reason: "entries 6 to 7 are missing from the end of the chain",
      });
    });

    test("the first entries, deleted without a checkpoint", async () => {
      const result = await tampered((region) =>
        sql(`DELETE FROM compliance_log WHERE region = $1 AND seq <= 2`, [region]),
      );
      assert.deepEqual(result, {
        ok: false,
        brokenAt: 1,
        reason: "entries 1 to 2 are missing and no checkpoint vouches for entry 3 as the start",
      });
    });

    test("every entry deleted", async () => {
      const result = await tampered((region) => sql(`DELETE FROM compliance_log WHERE region = $1`, [region]));
      assert.deepEqual(result, {
        ok: false,
        brokenAt: 7,
        reason: "the log is empty but its head says it ends at entry 7",
      });
    });
  });

  describe("chains written before the hash was keyed", () => {
    /** Entries as earlier versions appended them: plain SHA-256 links, head row included. */
    const legacyChain = async (region: string, count: number) => {
      let prevHash = GENESIS;
      for (let seq = 1; seq <= count; seq++) {
        const entry = {
          region,
          seq,
          at: clock.now().toISOString(),
          event: "consent.changed",
          subject: keyring.pseudonym(`old-${seq}`),
          details: { granted: true, n: seq },
          prevHash,
        };
        const hash = legacyEntryHash(entry);
        await sql(
          `INSERT INTO compliance_log (region, seq, at, event, subject, details, "prevHash", hash) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)`,
          [region, seq, entry.at, entry.event, entry.subject, JSON.stringify(entry.details), prevHash, hash],
        );
        await sql(
          `INSERT INTO compliance_log_heads (region, seq, hash, "prevHash") VALUES ($1, $2, $3, $4) ON CONFLICT (region) DO UPDATE SET seq = $2, hash = $3, "prevHash" = $4`,
          [region, seq, hash, prevHash],
        );
        prevHash = hash;
      }
    };

    test("keep verifying, and go on keyed from the last unkeyed entry", async () => {
      const region = freshRegion();
      await legacyChain(region, 4);
      assert.deepEqual(await log.verify(region), { ok: true, entries: 4 });
      await log.append({ region, event: "purge.ran" });
      await log.append({ region, event: "purge.ran" });
      const entries = await read(region);
      assert.equal(entries[4]!.prevHash, entries[3]!.hash, "the first keyed entry continues from the last unkeyed one");
      assert.equal(entries[4]!.hash, entryHash(entries[4]!, chainKey));
      assert.deepEqual(await log.verify(region), { ok: true, entries: 6 });
      // An entry after a keyed one rewritten, and the rest of the chain relinked, without the key: caught there.
      await rewriteFrom(region, 6, (entry) => ({ ...entry, details: { rows: 0 } }), legacyEntryHash);
      assert.deepEqual(await log.verify(region), {
        ok: false,
        brokenAt: 6,
        reason: "entry 6 was rewritten (an unkeyed hash after keyed entries)",
      });
    });

    test("an unkeyed entry is still caught when its content changes", async () => {
      const region = freshRegion();
      await legacyChain(region, 3);
      await sql(`UPDATE compliance_log SET details = '{"granted": false}' WHERE region = $1 AND seq = 2`, [region]);
      assert.deepEqual(await log.verify(region), {
        ok: false,
        brokenAt: 2,
        reason: "entry 2 was changed (its content no longer matches its hash)",
      });
    });
  });

  describe("trimming behind a checkpoint", () => {
    /** A fresh region: seven entries written at `oldAt`, then one purge.ran at `newAt`. */
    const agedChain = async (oldAt: string, newAt: string) => {
      const region = freshRegion();
      clock.set(oldAt);
      await chain(region);
      clock.set(newAt);
      await log.append({ region, event: "purge.ran" });
      return region;
    };

    test("drops the entries before the cut-off and keeps the chain verifiable", async () => {
      const region = freshRegion();
      clock.set("2024-01-01T00:00:00.000Z");
      await chain(region);
      clock.set("2025-06-01T00:00:00.000Z");
      await log.append({ region, event: "consent.changed", subjectId: "late", details: { granted: true } });
      const result = await trimLog(logStore, log, region, new Date("2025-01-01T00:00:00.000Z"));
      assert.deepEqual(result, { deleted: 7, from: 8 });
      const entries = await read(region);
      assert.deepEqual(
        entries.map((e) => [e.seq, e.event]),
        [
          [8, "consent.changed"],
          [9, "log.checkpoint"],
          [10, "log.trimmed"],
        ],
      );
      assert.deepEqual(entries[1]!.details, {
        from: 8,
        prevHash: entries[0]!.prevHash,
        cutoff: "2025-01-01T00:00:00.000Z",
      });
      assert.deepEqual(entries[2]!.details, {
        deleted: 7,
        firstDeleted: 1,
        lastDeleted: 7,
        cutoff: "2025-01-01T00:00:00.000Z",
      });
      assert.deepEqual(await log.verify(region), { ok: true, entries: 3 });

      // Nothing left that is old enough: no new checkpoint.
      assert.deepEqual(await trimLog(logStore, log, region, new Date("2025-01-01T00:00:00.000Z")), { deleted: 0 });
      // A second trim, past the first checkpoint, anchors on a new one.
      clock.set("2027-01-01T00:00:00.000Z");
      await log.append({ region, event: "purge.ran" });
      assert.deepEqual(await trimLog(logStore, log, region, new Date("2026-01-01T00:00:00.000Z")), {
        deleted: 3,
        from: 11,
      });
      assert.deepEqual(await log.verify(region), { ok: true, entries: 3 });
    });

    test("keeps the newest entry when every entry is old, and still catches deletions past the checkpoint", async () => {
      const region = freshRegion();
      clock.set("2020-01-01T00:00:00.000Z");
      await chain(region);
      clock.set("2026-01-01T00:00:00.000Z");
      assert.deepEqual(await trimLog(logStore, log, region, clock.now()), { deleted: 6, from: 7 });
      assert.deepEqual(await log.verify(region), { ok: true, entries: 3 });
      await sql(`DELETE FROM compliance_log WHERE region = $1 AND seq = 7`, [region]);
      assert.deepEqual(await log.verify(region), {
        ok: false,
        brokenAt: 7,
        reason: "entry 7 is missing and no checkpoint vouches for entry 8 as the start",
      });
    });

    test("the first kept entry must continue from the very hash its checkpoint recorded", async () => {
      const region = await agedChain("2024-01-01T00:00:00.000Z", "2025-06-01T00:00:00.000Z");
      assert.deepEqual(await trimLog(logStore, log, region, new Date("2025-01-01T00:00:00.000Z")), {
        deleted: 7,
        from: 8,
      });
      // Every link holds (even recomputed with the key), but entry 8 no longer starts where the checkpoint says.
      await rewriteFrom(
        region,
        8,
        (entry) => ({ ...entry, prevHash: "f".repeat(64) }),
        (entry) => entryHash(entry, chainKey),
      );
      assert.deepEqual(await log.verify(region), {
        ok: false,
        brokenAt: 1,
        reason: "entries 1 to 7 are missing and no checkpoint vouches for entry 8 as the start",
      });
    });

    test("a verify that races a trim reads again instead of reporting a gap", async () => {
      const region = await agedChain("2020-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z");
      // The trim runs between the verifier's first page (3 entries) and its second.
      let pages = 0;
      const racing: ComplianceLogStore = {
        ...logStore,
        page: async (...args) => {
          const rows = await logStore.page(...args);
          if (++pages === 1) await trimLog(logStore, log, region, new Date("2025-01-01T00:00:00.000Z"));
          return rows;
        },
      };
      const racingLog = createComplianceLog(racing, {
        pseudonym: keyring.pseudonym,
        chainKey,
        now: clock.now,
        pageSize: 3,
      });
      assert.deepEqual(await racingLog.verify(region), { ok: true, entries: 3 });
    });
  });
});
