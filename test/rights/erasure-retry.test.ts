/**
 * An erasure interrupted after its tables were erased (here: its completion
 * could not be logged, so the caller got 503) is finished by the
 * erasure-retry job once it has been open long enough, with the counts of
 * what the first pass erased. The fault needs a second connection to the
 * gate's database, so this runs on PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import request from "supertest";
import { INTERRUPTED_AFTER_MS } from "../../src/rights/erasure.ts";
import { DPO, eventsOf, logOf } from "../audit/read-log.ts";
import { createTestApp, type TestApp } from "../support/app.ts";
import { onPostgres, testDatabase, type TestDatabase } from "../support/database.ts";

describe("interrupted erasures, on PostgreSQL", { skip: !onPostgres && "needs a second connection to the gate's database" }, () => {
  let db: TestDatabase;
  let t: TestApp;
  let admin: pg.Client;
  let offset = 0;
  before(async () => {
    db = await testDatabase();
    t = await createTestApp(db.option, { now: () => new Date(Date.now() + offset) });
    admin = new pg.Client({ connectionString: db.option });
    await admin.connect();
  });
  after(async () => {
    await admin.end();
    await t.gate.close();
    await db.drop();
  });

  test("the erasure-retry job finishes an erasure whose completion failed, keeping what the first pass erased", async () => {
    const erin = { "x-user": "interrupted-erin", "x-region": "DE" };
    await request(t.app).put("/privacy/consents/personalization").set(erin).send({ granted: true }).expect(200);
    for (const itemId of ["a", "b", "c"]) await request(t.app).post("/api/plays").set(erin).send({ itemId, action: "play" }).expect(201);

    await admin.query(`ALTER TABLE compliance_log ADD CONSTRAINT refuse_completion CHECK (event <> 'request.completed') NOT VALID`);
    try {
      await request(t.app).delete("/privacy/data").set(erin).expect(503);
    } finally {
      await admin.query(`ALTER TABLE compliance_log DROP CONSTRAINT refuse_completion`);
    }
    const [open] = (await request(t.app).get("/privacy/requests").set(erin).expect(200)).body.requests;
    assert.equal(open.status, "received");
    assert.deepEqual(await t.gate.store.interactions.countByPurpose("interrupted-erin"), {}, "the tables were erased before the failure");

    // A live erasure is left alone.
    assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 0, completed: 0 });
    offset = INTERRUPTED_AFTER_MS + 60_000;
    assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 1, completed: 1 });

    const done = (await request(t.app).get(`/privacy/requests/${open.id}`).set(erin).expect(200)).body;
    assert.equal(done.status, "completed");
    assert.equal(done.details.erased.tables.interactions, 3, "the certificate counts what the first pass erased");
    assert.equal(done.details.erased.tables.consentEvents, 1);
    const completions = eventsOf(await logOf(t.app, "EU"), "request.completed").filter((e) => (e.details as { requestId?: string }).requestId === open.id);
    assert.equal(completions.length, 1, "logged once");
    assert.equal((await request(t.app).get("/privacy/admin/compliance/EU/verify").set(DPO).expect(200)).body.ok, true);
    // Nothing is left to finish.
    assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 0, completed: 0 });
  });
});
