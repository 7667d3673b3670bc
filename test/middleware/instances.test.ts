/**
 * Two instances on one PostgreSQL database, and a database that goes away.
 * PGlite is one process's database, so these run on PostgreSQL only.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import request from "supertest";
import { type TestApp, testApp } from "../support/app.ts";
import { until } from "../support/clock.ts";
import { type TestDatabase, onPostgres, serverQuery, testDatabase } from "../support/database.ts";
import { onCleanup, suiteScope } from "../support/scope.ts";
import { ca, eu, grant, withdraw } from "../support/subjects.ts";

const play = { itemId: "trk_1", action: "play" };

describe("several instances on one PostgreSQL database", { skip: !onPostgres && "needs TEST_DATABASE_URL" }, () => {
  const suite = suiteScope();
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    const db = await testDatabase(suite);
    a = await testApp(suite, { database: db.option });
    b = await testApp(suite, { database: db.option });
  });

  test("a withdrawal on instance A reaches instance B's gate: B refuses before its handler runs", async () => {
    const cross = eu("cross-1");
    await grant(a.app, cross, "personalization").expect(200);
    // B's cache was cold, so it reads the grant; now it is warm.
    await request(b.app).post("/api/plays").set(cross).send(play).expect(201);
    await request(b.app).post("/api/plays").set(cross).send(play).expect(201);
    assert.equal(b.seen.length, 2);

    await withdraw(a.app, cross, "personalization").expect(200);
    // The event to wait for: B's answer from its own (warm) cache changes. Only
    // the announcement from A can change it; the store's re-check inside a
    // write would refuse too, but after B's handler ran, which is not enough.
    await until(
      async () => (await request(b.app).get("/api/can/personalization").set(cross).expect(200)).body.can === false,
      "B never heard of A's withdrawal",
    );
    const refused = await request(b.app).post("/api/plays").set(cross).send(play);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "consent_required");
    assert.equal(b.seen.length, 2, "B refused at its gate: the handler did not run");
    assert.equal(
      (await a.gate.store.interactions.countByPurpose("cross-1")).personalization ?? 0,
      0,
      "the withdrawal erased what was held, and nothing came back",
    );
  });
});

describe("a database that goes away", { skip: !onPostgres && "needs TEST_DATABASE_URL" }, () => {
  const suite = suiteScope();
  let db: TestDatabase;
  let t: TestApp;
  const name = () => new URL(db.option).pathname.slice(1);
  const admin = serverQuery;
  before(async () => {
    db = await testDatabase(suite);
    t = await testApp(suite, { database: db.option });
    // Before the gate closes and the database is dropped.
    onCleanup(suite, () => admin(`ALTER DATABASE ${name()} ALLOW_CONNECTIONS true`).catch(() => {}));
  });

  test("writes fail closed with 503 and store nothing; reads go on; then it recovers", async () => {
    await request(t.app).post("/api/plays").set(ca("warm")).send(play).expect(201);

    await admin(`ALTER DATABASE ${name()} ALLOW_CONNECTIONS false`);
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name()}'`);

    const cold = await request(t.app).post("/api/plays").set(ca("cold")).send(play);
    assert.equal(cold.status, 503);
    assert.equal(cold.body.error.code, "consent_unavailable");
    // A warm cache may not outlive the one-second bound on what it cannot confirm.
    await new Promise((r) => setTimeout(r, 1100));
    const warm = await request(t.app).post("/api/plays").set(ca("warm")).send(play);
    assert.equal(warm.status, 503);
    await request(t.app).get("/health").expect(200);
    assert.equal(t.seen.filter((s) => s.path === "/api/plays").length, 1, "no handler ran while the database was away");

    await admin(`ALTER DATABASE ${name()} ALLOW_CONNECTIONS true`);
    let status = 0;
    for (let i = 0; i < 50 && status !== 201; i++) {
      status = (await request(t.app).post("/api/plays").set(ca("cold")).send(play)).status;
      if (status !== 201) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 201);
    const counts = await t.gate.store.interactions.countByPurpose();
    assert.equal(counts.personalization, 2, "one write before the outage, one after; none during");
  });
});
