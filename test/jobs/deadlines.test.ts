import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { addDuration, parseDuration } from "../../src/policy/duration.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { openStore } from "../../src/store/store.ts";
import { DPO, eventsOf, logOf } from "../audit/read-log.ts";
import { TEST_SECRET, createTestApp, type TestApp } from "../support/app.ts";
import { STORE_OPTIONS, onPostgres } from "../support/database.ts";
import { type PersistentDatabase, persistentDatabase } from "./persistent-database.ts";

// GDPR's one month: a request received on 31 January is due on the last day of February.
const RECEIVED = new Date("2026-01-31T12:00:00.000Z");
const DUE = addDuration(RECEIVED, parseDuration("1mo")!);

describe(`the deadlines job on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  let db: PersistentDatabase;
  let t: TestApp;
  let clock = RECEIVED;
  let failing = true;
  const slow = { id: randomUUID(), subjectId: "slow-export-1" };
  const ancient = { id: randomUUID(), subjectId: "ancient-1" };
  before(async () => {
    db = await persistentDatabase();
    // Requests a host processes on its own time stay `received`; none of the gate's own endpoints leaves one so.
    const store = await openStore(db.database, STORE_OPTIONS);
    await store.connection.prisma.privacyRequest.createMany({
      data: [
        { ...slow, type: "export", status: "received", region: "EU", receivedAt: RECEIVED, dueAt: DUE },
        // Due more than EU's 3 years of log retention ago: its entry, if it had one, would be trimmed by now.
        { ...ancient, type: "export", status: "received", region: "EU", receivedAt: new Date("2022-01-01T00:00:00Z"), dueAt: new Date("2022-02-01T00:00:00Z") },
      ],
    });
    await store.close();
    t = await createTestApp(db.option, { now: () => clock });
    t.gate.registerDataSource({
      name: "favourites",
      export: () => [],
      erase: () => {
        if (failing) throw new Error("favourites database is down");
        return 1;
      },
    });
  });
  after(async () => {
    await t.gate.close();
    await db.cleanup();
  });
  const as = (who: string) => ({ "x-user": who, "x-region": "DE" });

  test("requests past their legal deadline are marked overdue and logged once, partial erasures included", async () => {
    const partial = (await request(t.app).delete("/privacy/data").set(as("erased-1")).expect(200)).body;
    assert.equal(partial.status, "partial");

    clock = new Date(DUE.getTime() - 1);
    assert.deepEqual(await t.gate.runJob("deadlines"), { marked: 1, logged: 0 }, "only the ancient request is due; it is too old to log again");

    clock = new Date(DUE.getTime() + 3_600_000);
    assert.deepEqual(await t.gate.runJob("deadlines"), { marked: 1, logged: 2 });
    assert.deepEqual(await t.gate.runJob("deadlines"), { marked: 0, logged: 0 }, "once per request");

    const [slowStatus, partialStatus] = await Promise.all([
      request(t.app).get(`/privacy/requests/${slow.id}`).set(as(slow.subjectId)).expect(200),
      request(t.app).get(`/privacy/requests/${partial.requestId}`).set(as("erased-1")).expect(200),
    ]);
    assert.equal(slowStatus.body.status, "overdue");
    assert.equal(partialStatus.body.status, "partial", "a partial erasure stays partial, so the retry job keeps at it");

    const keyring = createKeyring(TEST_SECRET);
    const overdue = eventsOf(await logOf(t.app, "EU"), "request.overdue").sort((x, y) => String(x.details["type"]).localeCompare(String(y.details["type"])));
    assert.deepEqual(
      overdue.map((e) => [e.subject, e.details]),
      [
        [keyring.pseudonym("erased-1"), { requestId: partial.requestId, type: "erasure", status: "partial", receivedAt: RECEIVED.toISOString(), dueAt: DUE.toISOString() }],
        [keyring.pseudonym(slow.subjectId), { requestId: slow.id, type: "export", status: "overdue", receivedAt: RECEIVED.toISOString(), dueAt: DUE.toISOString() }],
      ],
    );

    const report = async () => (await request(t.app).get("/privacy/admin/report/EU").set(DPO).expect(200)).body.requests;
    assert.deepEqual(await report(), { received: 1, completed: 0, overdue: 2, openOverdue: 3 });
    failing = false;
    assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 1, completed: 1 });
    assert.deepEqual(await report(), { received: 1, completed: 1, overdue: 2, openOverdue: 2 });
  });
});
