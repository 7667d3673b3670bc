import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, describe, test } from "node:test";
import request from "supertest";
import { canonicalJson } from "../../src/signatures/canonical-json.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { TEST_SECRET, type TestApp, testApp } from "../support/app.ts";
import { DAY, testClock } from "../support/clock.ts";
import {
  type TestDatabase,
  onPostgres,
  persistentDatabase,
  sqlClient,
  testDatabase,
  testStore,
} from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { DPO, agent, asText, eu, eventsOf, grant, logOf, subject, withdraw } from "../support/subjects.ts";

const T0 = new Date("2026-04-10T09:30:00.000Z");
const keyring = createKeyring(TEST_SECRET);

describe(`the DPO's compliance endpoints on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: TestDatabase;
  let t: TestApp;
  const clock = testClock(T0);
  before(async () => {
    db = await testDatabase(suite);
    t = await testApp(suite, { database: db.option, now: clock.now });
    t.gate.registerDataSource({ name: "favourites", export: () => [], erase: () => 2 });
  });

  test("need role dpo through the ability: 401 anonymous, 403 other roles, 404 unknown regions", async () => {
    for (const path of ["/compliance/EU", "/compliance/EU/verify", "/report/EU"]) {
      const anonymous = await request(t.app).get(`/privacy/admin${path}`);
      assert.equal(anonymous.status, 401, path);
      assert.equal(anonymous.body.error.code, "unauthenticated");
      for (const roles of ["", "agent", "admin,agent"]) {
        const other = await request(t.app)
          .get(`/privacy/admin${path}`)
          .set(subject("someone", { "x-roles": roles }));
        assert.equal(other.status, 403, `${path} as ${roles || "a plain subject"}`);
        assert.equal(other.body.error.code, "forbidden");
      }
      const unknown = await request(t.app)
        .get(`/privacy/admin${path.replace("EU", "MARS")}`)
        .set(DPO);
      assert.equal(unknown.status, 404);
      assert.deepEqual(unknown.body.error.code, "not_found");
      assert.match(unknown.body.error.message, /no region "MARS" in the policy \(regions: EU, US-CA, OTHER\)/);
    }
    await request(t.app).get("/privacy/admin/nothing-here").set(DPO).expect(404);
  });

  test("GET /admin/compliance/:region streams the region's chain as JSONL", async () => {
    await grant(t.app, eu("jsonl-1"), "personalization").expect(200);
    const res = await asText(request(t.app).get("/privacy/admin/compliance/EU").set(DPO));
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"] ?? "", /^application\/x-ndjson/);
    const lines = (res.body as string).split("\n");
    assert.equal(lines.at(-1), "", "every entry ends its line");
    const entries = lines.slice(0, -1).map((line) => JSON.parse(line));
    assert.deepEqual(
      entries.map((e) => e.seq),
      entries.map((_, i) => i + 1),
    );
    assert.equal(entries[0].event, "policy.loaded");
    assert.deepEqual(entries[0].details.version, "test-1");
    assert.equal(entries[0].details.logRetention, "3y");
    const consent = entries.at(-1);
    assert.deepEqual(Object.keys(consent).sort(), [
      "at",
      "details",
      "event",
      "hash",
      "prevHash",
      "region",
      "seq",
      "subject",
    ]);
    assert.equal(consent.event, "consent.changed");
    assert.equal(consent.subject, keyring.pseudonym("jsonl-1"));
    assert.equal(consent.at, T0.toISOString());
    assert.equal(consent.prevHash, entries.at(-2).hash);
    assert.deepEqual(
      (await logOf(t.app, "US-CA")).map((e) => e.event),
      ["policy.loaded"],
      "each region is a chain of its own",
    );
  });

  test("GET /admin/compliance/:region/verify checks the chain", async () => {
    const res = await request(t.app).get("/privacy/admin/compliance/EU/verify").set(DPO).expect(200);
    assert.deepEqual(res.body, { ok: true, entries: (await logOf(t.app, "EU")).length });
  });

  test("a tampered log fails verification at the entry that was changed", {
    skip: !onPostgres && "needs a second connection to the gate's database",
  }, async (ctx) => {
    const client = await sqlClient(ctx, db);
    await client.query(
      `UPDATE compliance_log SET details = details || '{"granted": false}' WHERE region = 'US-CA' AND seq = 1`,
    );
    const res = await request(t.app).get("/privacy/admin/compliance/US-CA/verify").set(DPO).expect(200);
    assert.deepEqual(res.body, {
      ok: false,
      brokenAt: 1,
      reason: "entry 1 was changed (its content no longer matches its hash)",
    });
  });

  test("the daily report and GET /admin/report/:region summarize consents, requests, blocked writes and purges", async () => {
    clock.set("2026-04-11T08:00:00.000Z");
    await grant(t.app, eu("report-1"), "personalization").expect(200);
    await grant(t.app, eu("report-1"), "advertising").expect(200);
    await withdraw(t.app, eu("report-1"), "personalization").expect(200);
    await request(t.app).post("/api/plays").set(eu("report-2")).send({ itemId: "a" }).expect(403);
    await request(t.app).post("/api/plays").set(eu("report-2")).send({ itemId: "a" }).expect(403);
    await request(t.app).post("/api/ads/click").set(eu("report-2")).send({ itemId: "a" }).expect(403);
    await request(t.app).get("/privacy/export").set(eu("report-1")).expect(200);
    await request(t.app).delete("/privacy/data").set(eu("report-1")).expect(200);
    await request(t.app).post("/api/service").set(eu("report-3")).send({ itemId: "a" }).expect(201);

    clock.set("2026-04-12T02:00:00.000Z");
    assert.deepEqual(await t.gate.runJob("compliance-report"), {
      day: "2026-04-11",
      written: ["EU", "US-CA", "OTHER"],
      blockedWrites: 2,
    });
    assert.deepEqual(
      await t.gate.runJob("compliance-report"),
      { day: "2026-04-11", written: [], blockedWrites: 0 },
      "once per day",
    );
    const log = await logOf(t.app, "EU");
    assert.deepEqual(
      eventsOf(log, "write.blocked").map((e) => e.details),
      [
        { purpose: "personalization", hour: "2026-04-11T08:00:00.000Z", count: 2 },
        { purpose: "advertising", hour: "2026-04-11T08:00:00.000Z", count: 1 },
      ],
    );
    const daily = eventsOf(log, "report.daily");
    assert.deepEqual(
      daily.map((e) => e.details),
      [
        {
          day: "2026-04-11",
          from: "2026-04-11T00:00:00.000Z",
          to: "2026-04-12T00:00:00.000Z",
          consents: { given: 2, withdrawn: 1 },
          requests: { received: 2, completed: 2, overdue: 0, openOverdue: 0 },
          rowsPurged: { total: 0, byPurpose: {} },
          writesBlocked: { total: 3, byPurpose: { advertising: 1, personalization: 2 } },
        },
      ],
    );

    clock.advance(8 * DAY);
    await t.gate.runJob("purge");
    const all = (await request(t.app).get("/privacy/admin/report/EU").set(DPO).expect(200)).body;
    assert.deepEqual(all, {
      region: "EU",
      from: null,
      to: null,
      asOf: clock.now().toISOString(),
      consents: { given: 3, withdrawn: 1 },
      requests: { received: 2, completed: 2, overdue: 0, openOverdue: 0 },
      rowsPurged: { total: 1, byPurpose: { service: 1 } },
      writesBlocked: { total: 3, byPurpose: { advertising: 1, personalization: 2 } },
    });
    const day = await request(t.app).get("/privacy/admin/report/EU?from=2026-04-11&to=2026-04-12").set(DPO).expect(200);
    assert.deepEqual(day.body.consents, { given: 2, withdrawn: 1 });
    assert.deepEqual(day.body.rowsPurged, { total: 0, byPurpose: {} });
    const bad = await request(t.app).get("/privacy/admin/report/EU?from=yesterday").set(DPO);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_body");
  });

  test("log-retention trims each region to its retention and the chain still verifies", async () => {
    // OTHER keeps its log for 1 year, EU for 3: one year on, only OTHER loses entries.
    const before = await logOf(t.app, "OTHER");
    clock.advance(366 * DAY);
    await t.gate.runJob("compliance-report");
    const result = await t.gate.runJob("log-retention");
    assert.deepEqual(result["EU"], { deleted: 0 });
    assert.deepEqual(result["OTHER"], { deleted: before.length, from: before.length + 1 });
    const after = await logOf(t.app, "OTHER");
    assert.equal(after[0]!.seq, before.length + 1);
    assert.deepEqual(
      eventsOf(after, "log.checkpoint").map((e) => e.details["from"]),
      [before.length + 1],
    );
    assert.deepEqual(
      eventsOf(after, "log.trimmed").map((e) => e.details["deleted"]),
      [before.length],
    );
    for (const region of ["EU", "OTHER"]) {
      const res = await request(t.app).get(`/privacy/admin/compliance/${region}/verify`).set(DPO).expect(200);
      assert.deepEqual(res.body, { ok: true, entries: (await logOf(t.app, region)).length }, region);
    }
  });
});

describe(`the compliance log against someone who can write to its database, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("an entry rewritten with the chain after it recomputed fails verification at that entry", {
    skip: !onPostgres && "needs a second connection to the gate's database",
  }, async (ctx) => {
    const db = await testDatabase(ctx);
    const t = await testApp(ctx, { database: db.option });
    await withdraw(t.app, eu("forged-1"), "advertising").expect(200);
    await withdraw(t.app, eu("forged-2"), "advertising").expect(200);
    const entries = await logOf(t.app, "EU");
    const target = entries.at(-2)!.seq;
    assert.equal(entries[target - 1]!.details["granted"], false);
    const client = await sqlClient(ctx, db);
    // Turn the withdrawal into a grant, then relink every later entry and the head with plain SHA-256.
    let prevHash = entries[target - 2]!.hash;
    for (const { hash: _old, ...entry } of entries.slice(target - 1)) {
      const changed = {
        ...entry,
        prevHash,
        details: entry.seq === target ? { ...entry.details, granted: true } : entry.details,
      };
      prevHash = createHash("sha256")
        .update(changed.prevHash + canonicalJson(changed))
        .digest("hex");
      await client.query(
        `UPDATE compliance_log SET details = $3::jsonb, "prevHash" = $4, hash = $5 WHERE region = $1 AND seq = $2`,
        ["EU", entry.seq, JSON.stringify(changed.details), changed.prevHash, prevHash],
      );
      await client.query(`UPDATE compliance_log_heads SET hash = $3, "prevHash" = $4 WHERE region = $1 AND seq = $2`, [
        "EU",
        entry.seq,
        prevHash,
        changed.prevHash,
      ]);
    }
    const res = await request(t.app).get("/privacy/admin/compliance/EU/verify").set(DPO).expect(200);
    assert.deepEqual(res.body, {
      ok: false,
      brokenAt: target,
      reason: `entry ${target} was rewritten (an unkeyed hash after keyed entries)`,
    });
  });
});

describe(`the compliance log and subject ids, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("after a realistic run the log holds pseudonyms, never a raw subject id", async (ctx) => {
    const db = await persistentDatabase(ctx);
    const subjects = ["alice@example.com", "bob-4711", "carol.ca", "agent-7"];
    const clock = testClock(T0);
    const t = await testApp(ctx, { database: db.option, now: clock.now });
    t.gate.registerDataSource({ name: "favourites", export: () => [{ owner: "alice@example.com" }], erase: () => 1 });
    const [alice, bob, carol] = subjects.map((id) => eu(id));
    await grant(t.app, alice!, "personalization").expect(200);
    await request(t.app)
      .post("/api/plays")
      .set(alice!)
      .send({ itemId: "trk", action: "play", userAgent: "alice@example.com" })
      .expect(201);
    await request(t.app).post("/api/plays").set(bob!).send({ itemId: "trk" }).expect(403);
    await withdraw(t.app, { ...carol!, "x-region": "US-CA" }, "advertising").expect(200);
    await request(t.app)
      .post("/api/service")
      .set({ ...carol!, "x-region": "US-CA" })
      .send({ itemId: "trk" })
      .expect(201);
    await request(t.app).get("/privacy/export?subject=bob-4711").set(agent("agent-7")).expect(200);
    await request(t.app).delete("/privacy/data").set(alice!).expect(200);
    clock.set(T0.getTime() + 40 * DAY);
    for (const job of ["purge", "deadlines", "compliance-report", "erasure-retry", "log-retention"] as const)
      await t.gate.runJob(job);
    await t.gate.close();

    const store = await testStore(ctx, db);
    const rows = await store.connection.query<{ row: string }>(
      `SELECT row_to_json(l)::text AS row FROM compliance_log l UNION ALL SELECT row_to_json(h)::text FROM compliance_log_heads h`,
    );
    const text = rows.map((r) => r.row).join("\n");
    assert.ok(rows.length > 15, `${rows.length} rows`);
    for (const id of subjects) assert.equal(text.includes(id), false, `raw subject id ${id} in the log`);
    for (const id of ["alice@example.com", "bob-4711", "carol.ca"])
      assert.ok(text.includes(keyring.pseudonym(id)), `${id} appears by pseudonym`);
    for (const event of [
      "consent.changed",
      "write.blocked",
      "request.received",
      "request.completed",
      "purge.ran",
      "policy.loaded",
      "report.daily",
    ]) {
      assert.ok(text.includes(`"event":"${event}"`), event);
    }
  });

  test("each instance flushes its counts of refused writes when it closes", async (ctx) => {
    const db = await persistentDatabase(ctx);
    const first = await testApp(ctx, { database: db.option, now: () => T0 });
    await request(first.app).post("/api/plays").set(eu("closing-1")).send({ itemId: "a" }).expect(403);
    await first.gate.close();
    const second = await testApp(ctx, { database: db.option });
    assert.deepEqual(
      eventsOf(await logOf(second.app, "EU"), "write.blocked").map((e) => e.details),
      [{ purpose: "personalization", hour: "2026-04-10T09:00:00.000Z", count: 1 }],
    );
  });

  test("policy.loaded is logged when the policy in force changes, not on every start", async (ctx) => {
    const db = await persistentDatabase(ctx);
    const start = async (version: string) => {
      const t = await testApp(ctx, { database: db.option, policies: testPolicy({ version }) });
      const versions = eventsOf(await logOf(t.app, "EU"), "policy.loaded").map((e) => e.details["version"]);
      await t.gate.close();
      return versions;
    };
    assert.deepEqual(await start("v1"), ["v1"]);
    assert.deepEqual(await start("v1"), ["v1"]);
    assert.deepEqual(await start("v2"), ["v1", "v2"]);
  });
});
