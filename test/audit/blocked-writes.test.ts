/**
 * Counts of refused writes survive a flush whose log append fails: they go
 * back and the next flush logs them, with nothing counted twice.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import { createBlockedWrites, flushBlockedWrites } from "../../src/audit/blocked-writes.ts";
import type { AuditEntry, AuditEntryInput, ComplianceLog } from "../../src/audit/events.ts";
import { testApp } from "../support/app.ts";
import { onPostgres, sqlClient, testDatabase } from "../support/database.ts";
import { DPO, eu, eventsOf, logOf } from "../support/subjects.ts";

const T0 = new Date("2026-04-10T09:30:00.000Z");

/** A log that records what it is given and fails the appends whose number (1-based) is in `failing`. */
function logFailing(...failing: number[]) {
  const logged: AuditEntryInput[] = [];
  let calls = 0;
  const log = {
    async append(entry: AuditEntryInput) {
      if (failing.includes(++calls)) throw new Error("connection lost");
      logged.push(entry);
      return {} as AuditEntry;
    },
  } as unknown as ComplianceLog;
  return { log, logged };
}

describe("flushBlockedWrites", () => {
  test("puts back what an append failed to log, merged with counts gathered meanwhile, and the next flush logs it", async () => {
    const blocked = createBlockedWrites();
    for (let i = 0; i < 3; i++) blocked.add("EU", "personalization", T0);
    blocked.add("EU", "advertising", T0);
    blocked.add("US-CA", "advertising", T0);
    const { log, logged } = logFailing(2);
    await assert.rejects(flushBlockedWrites(blocked, log), /connection lost/);
    assert.deepEqual(
      logged.map((e) => e.details),
      [{ purpose: "personalization", hour: "2026-04-10T09:00:00.000Z", count: 3 }],
    );
    blocked.add("EU", "advertising", T0);
    assert.equal(await flushBlockedWrites(blocked, log), 2);
    assert.deepEqual(
      logged.map((e) => [e.region, e.details]),
      [
        ["EU", { purpose: "personalization", hour: "2026-04-10T09:00:00.000Z", count: 3 }],
        ["EU", { purpose: "advertising", hour: "2026-04-10T09:00:00.000Z", count: 2 }],
        ["US-CA", { purpose: "advertising", hour: "2026-04-10T09:00:00.000Z", count: 1 }],
      ],
    );
    assert.equal(await flushBlockedWrites(blocked, log), 0, "nothing left over");
  });
});

describe(`blocked-write counts and a failing log, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("a compliance-report run whose write.blocked append fails loses no count: the next run logs it", {
    skip: !onPostgres && "needs a second connection to the gate's database",
  }, async (ctx) => {
    const db = await testDatabase(ctx);
    const t = await testApp(ctx, { database: db.option, now: () => T0 });
    const admin = await sqlClient(ctx, db);
    for (let i = 0; i < 2; i++)
      await request(t.app).post("/api/plays").set(eu("blocked-1")).send({ itemId: "a" }).expect(403);
    // The database refuses write.blocked entries for a while.
    await admin.query(
      `ALTER TABLE compliance_log ADD CONSTRAINT refuse_blocked CHECK (event <> 'write.blocked') NOT VALID`,
    );
    await assert.rejects(t.gate.runJob("compliance-report"), /refuse_blocked/);
    await admin.query(`ALTER TABLE compliance_log DROP CONSTRAINT refuse_blocked`);
    await request(t.app).post("/api/plays").set(eu("blocked-2")).send({ itemId: "a" }).expect(403);
    const second = await t.gate.runJob("compliance-report");
    assert.equal(second.blockedWrites, 1);
    assert.deepEqual(
      eventsOf(await logOf(t.app, "EU"), "write.blocked").map((e) => e.details),
      [{ purpose: "personalization", hour: "2026-04-10T09:00:00.000Z", count: 3 }],
    );
    assert.deepEqual(
      (await request(t.app).get("/privacy/admin/compliance/EU/verify").set(DPO).expect(200)).body.ok,
      true,
    );
  });
});
