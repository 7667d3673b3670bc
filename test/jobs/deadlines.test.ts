import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import request from "supertest";
import { addDuration, parseDuration } from "../../src/policy/duration.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { TEST_SECRET, type TestApp, testApp } from "../support/app.ts";
import { HOUR, testClock } from "../support/clock.ts";
import { onPostgres, persistentDatabase, testStore } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { DPO, eu, eventsOf, logOf } from "../support/subjects.ts";

// GDPR's one month: a request received on 31 January is due on the last day of February.
const RECEIVED = new Date("2026-01-31T12:00:00.000Z");
const DUE = addDuration(RECEIVED, parseDuration("1mo")!);

describe(`the deadlines job on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let t: TestApp;
  const clock = testClock(RECEIVED);
  let failing = true;
  const slow = { id: randomUUID(), subjectId: "slow-export-1" };
  const ancient = { id: randomUUID(), subjectId: "ancient-1" };
  before(async () => {
    const db = await persistentDatabase(suite);
    // Requests a host processes on its own time stay `received`; none of the gate's own endpoints leaves one so.
    const store = await testStore(suite, db);
    await store.connection.prisma.privacyRequest.createMany({
      data: [
        { ...slow, type: "export", status: "received", region: "EU", receivedAt: RECEIVED, dueAt: DUE },
        // Due more than EU's 3 years of log retention ago: its entry, if it had one, would be trimmed by now.
        {
          ...ancient,
          type: "export",
          status: "received",
          region: "EU",
          receivedAt: new Date("2022-01-01T00:00:00Z"),
          dueAt: new Date("2022-02-01T00:00:00Z"),
        },
      ],
    });
    await store.close();
    t = await testApp(suite, { database: db.option, now: clock.now });
    t.gate.registerDataSource({
      name: "favourites",
      export: () => [],
      erase: () => {
        if (failing) throw new Error("favourites database is down");
        return 1;
      },
    });
  });

  test("requests past their legal deadline are marked overdue and logged once, partial erasures included", async () => {
    const partial = (await request(t.app).delete("/privacy/data").set(eu("erased-1")).expect(200)).body;
    assert.equal(partial.status, "partial");

    clock.set(DUE.getTime() - 1);
    assert.deepEqual(
      await t.gate.runJob("deadlines"),
      { marked: 1, logged: 0 },
      "only the ancient request is due; it is too old to log again",
    );

    // At its deadline itself a request is still on time: past it means after it, for the job and the report alike.
    clock.set(DUE.getTime());
    assert.deepEqual(await t.gate.runJob("deadlines"), { marked: 0, logged: 0 });
    const atDue = await request(t.app).get("/privacy/admin/report/EU").set(DPO).expect(200);
    assert.equal(atDue.body.requests.openOverdue, 1, "only the ancient request, not the two due now");

    clock.set(DUE.getTime() + HOUR);
    assert.deepEqual(await t.gate.runJob("deadlines"), { marked: 1, logged: 2 });
    assert.deepEqual(await t.gate.runJob("deadlines"), { marked: 0, logged: 0 }, "once per request");

    const [slowStatus, partialStatus] = await Promise.all([
      request(t.app).get(`/privacy/requests/${slow.id}`).set(eu(slow.subjectId)).expect(200),
      request(t.app).get(`/privacy/requests/${partial.requestId}`).set(eu("erased-1")).expect(200),
    ]);
    assert.equal(slowStatus.body.status, "overdue");
    assert.equal(partialStatus.body.status, "partial", "a partial erasure stays partial, so the retry job keeps at it");

    const keyring = createKeyring(TEST_SECRET);
    const overdue = eventsOf(await logOf(t.app, "EU"), "request.overdue").sort((x, y) =>
      String(x.details["type"]).localeCompare(String(y.details["type"])),
    );
    assert.deepEqual(
      overdue.map((e) => [e.subject, e.details]),
      [
        [
          keyring.pseudonym("erased-1"),
          {
            requestId: partial.requestId,
            type: "erasure",
            status: "partial",
            receivedAt: RECEIVED.toISOString(),
            dueAt: DUE.toISOString(),
          },
        ],
        [
          keyring.pseudonym(slow.subjectId),
          {
            requestId: slow.id,
            type: "export",
            status: "overdue",
            receivedAt: RECEIVED.toISOString(),
            dueAt: DUE.toISOString(),
          },
        ],
      ],
    );

    const report = async () =>
      (await request(t.app).get("/privacy/admin/report/EU").set(DPO).expect(200)).body.requests;
    assert.deepEqual(await report(), { received: 1, completed: 0, overdue: 2, openOverdue: 3 });
    failing = false;
    assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 1, completed: 1 });
    assert.deepEqual(await report(), { received: 1, completed: 1, overdue: 2, openOverdue: 2 });
  });
});
