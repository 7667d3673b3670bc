/**
 * A consent change or a privacy request commits in one transaction with the
 * compliance log entry that records it. When the entry cannot be written,
 * the caller gets 503 and nothing is stored; the retry is stored and logged
 * once. The fault: the database refuses the event for a while (a CHECK
 * constraint added from a second connection).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type pg from "pg";
import request from "supertest";
import { INTERRUPTED_AFTER_MS } from "../../src/rights/erasure.ts";
import { type TestApp, testApp } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import { onPostgres, sqlClient, testDatabase } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { DPO, eu, eventsOf, grant, logOf, withdraw } from "../support/subjects.ts";

describe("log entries commit with the change they record, on PostgreSQL", {
  skip: !onPostgres && "needs a second connection to the gate's database",
}, () => {
  const suite = suiteScope();
  let t: TestApp;
  let admin: pg.Client;
  // Moved forward only by the last test, to let an interrupted erasure age.
  const clock = testClock();
  before(async () => {
    const db = await testDatabase(suite);
    t = await testApp(suite, { database: db.option, now: clock.now });
    admin = await sqlClient(suite, db);
  });

  /** Runs `run` while the database refuses log entries of `event`. */
  async function whileLogRefuses<T>(event: string, run: () => Promise<T>): Promise<T> {
    await admin.query(`ALTER TABLE compliance_log ADD CONSTRAINT refuse_event CHECK (event <> '${event}') NOT VALID`);
    try {
      return await run();
    } finally {
      await admin.query(`ALTER TABLE compliance_log DROP CONSTRAINT refuse_event`);
    }
  }
  const count = async (sql: string, params: unknown[]) =>
    Number((await admin.query<{ n: string }>(sql, params)).rows[0]!.n);
  const verified = async (region: string) =>
    (await request(t.app).get(`/privacy/admin/compliance/${region}/verify`).set(DPO).expect(200)).body;

  test("a consent change whose entry fails: 503, no choice stored; the retry is stored and logged once", async () => {
    const alice = eu("logged-alice");
    const failed = await whileLogRefuses("consent.changed", () => grant(t.app, alice, "personalization"));
    assert.equal(failed.status, 503);
    assert.equal(failed.body.error.code, "consent_unavailable");
    assert.equal(await count(`SELECT count(*) AS n FROM consent_events WHERE "subjectId" = $1`, ["logged-alice"]), 0);
    const consents = (await request(t.app).get("/privacy/consents").set(alice).expect(200)).body;
    assert.equal(
      consents.purposes.find((p: { purpose: string }) => p.purpose === "personalization").source,
      "region-default",
      "the choice did not take effect",
    );
    await request(t.app).post("/api/plays").set(alice).send({ itemId: "a" }).expect(403);

    const receipt = (await grant(t.app, alice, "personalization").expect(200)).body;
    assert.equal(await count(`SELECT count(*) AS n FROM consent_events WHERE "subjectId" = $1`, ["logged-alice"]), 1);
    const logged = eventsOf(await logOf(t.app, "EU"), "consent.changed").filter(
      (e) => e.details["receiptId"] !== undefined,
    );
    assert.deepEqual(
      logged.map((e) => e.details["receiptId"]),
      [receipt.id],
    );
    assert.deepEqual(await verified("EU"), { ok: true, entries: (await logOf(t.app, "EU")).length });
  });

  test("a withdrawal whose entry fails erases nothing; the retry erases and logs how much", async () => {
    const bob = eu("logged-bob");
    await grant(t.app, bob, "personalization").expect(200);
    for (let i = 0; i < 2; i++)
      await request(t.app)
        .post("/api/plays")
        .set(bob)
        .send({ itemId: `t${i}` })
        .expect(201);
    const failed = await whileLogRefuses("consent.changed", () => withdraw(t.app, bob, "personalization"));
    assert.equal(failed.status, 503);
    assert.equal(
      await count(`SELECT count(*) AS n FROM interactions WHERE "subjectId" = $1`, ["logged-bob"]),
      2,
      "still granted: nothing erased",
    );
    await withdraw(t.app, bob, "personalization").expect(200);
    assert.equal(await count(`SELECT count(*) AS n FROM interactions WHERE "subjectId" = $1`, ["logged-bob"]), 0);
    const changes = eventsOf(await logOf(t.app, "EU"), "consent.changed").slice(-2);
    assert.deepEqual(
      changes.map((e) => [e.details["granted"], e.details["erasedInteractions"]]),
      [
        [true, 0],
        [false, 2],
      ],
    );
  });

  test("a request whose entry fails: 503, no request stored; the retry is one request, logged once", async () => {
    const carol = eu("logged-carol");
    const failed = await whileLogRefuses("request.received", () => request(t.app).get("/privacy/export").set(carol));
    assert.equal(failed.status, 503);
    assert.equal(failed.body.error.code, "consent_unavailable");
    assert.deepEqual((await request(t.app).get("/privacy/requests").set(carol).expect(200)).body.requests, []);

    const doc = (await request(t.app).get("/privacy/export").set(carol).expect(200)).body;
    const requests = (await request(t.app).get("/privacy/requests").set(carol).expect(200)).body.requests;
    assert.deepEqual(
      requests.map((r: { id: string; status: string }) => [r.id, r.status]),
      [[doc.request.id, "completed"]],
    );
    const log = await logOf(t.app, "EU");
    const about = (event: string) =>
      eventsOf(log, event).filter((e) => e.details["requestId"] === doc.request.id).length;
    assert.deepEqual([about("request.received"), about("request.completed")], [1, 1]);
    assert.equal(eventsOf(log, "request.received").length, 1, "the failed attempt left no entry");
  });

  test("an erasure whose completion entry fails stays open (not completed) and answers 503", async () => {
    const dave = eu("logged-dave");
    await grant(t.app, dave, "personalization").expect(200);
    const failed = await whileLogRefuses("request.completed", () => request(t.app).delete("/privacy/data").set(dave));
    assert.equal(failed.status, 503);
    const [open] = (await request(t.app).get("/privacy/requests").set(dave).expect(200)).body.requests;
    assert.equal(open.status, "received", "a completion that was not logged is not recorded either");
    const certificate = (await request(t.app).delete("/privacy/data").set(dave).expect(200)).body;
    assert.equal(certificate.status, "completed");
  });
  test("the erasure-retry job finishes an erasure whose completion failed, keeping what the first pass erased", async () => {
    const erin = eu("interrupted-erin");
    await grant(t.app, erin, "personalization").expect(200);
    for (const itemId of ["a", "b", "c"])
      await request(t.app).post("/api/plays").set(erin).send({ itemId, action: "play" }).expect(201);
    const failed = await whileLogRefuses("request.completed", () => request(t.app).delete("/privacy/data").set(erin));
    assert.equal(failed.status, 503);
    const [open] = (await request(t.app).get("/privacy/requests").set(erin).expect(200)).body.requests;
    assert.equal(open.status, "received");
    assert.deepEqual(
      await t.gate.store.interactions.countByPurpose("interrupted-erin"),
      {},
      "the tables were erased before the failure",
    );

    // A live erasure is left alone.
    assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 0, completed: 0 });
    clock.advance(INTERRUPTED_AFTER_MS + 60_000);
    try {
      // (dave's interrupted erasure above is gone: his own retry erased his older requests.)
      assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 1, completed: 1 });
      const done = (await request(t.app).get(`/privacy/requests/${open.id}`).set(erin).expect(200)).body;
      assert.equal(done.status, "completed");
      assert.equal(done.details.erased.tables.interactions, 3, "the certificate counts what the first pass erased");
      assert.equal(done.details.erased.tables.consentEvents, 1);
      const completions = eventsOf(await logOf(t.app, "EU"), "request.completed").filter(
        (e) => (e.details as { requestId?: string }).requestId === open.id,
      );
      assert.equal(completions.length, 1, "logged once");
      assert.equal((await verified("EU")).ok, true);
      // Nothing is left to finish.
      assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 0, completed: 0 });
    } finally {
      clock.advance(-(INTERRUPTED_AFTER_MS + 60_000));
    }
  });
});
