/**
 * gate.console() over HTTP, on data made through the gate's own routes and
 * jobs: consents given and withdrawn, writes blocked, rows purged, an
 * insights release, requests completed and one gone overdue.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import type { Express } from "express";
import request from "supertest";
import { createComplianceLog } from "../../src/audit/log.ts";
import type { Consentgate } from "../../src/index.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { createComplianceLogStore, LOG_EVENT } from "../../src/store/compliance-log.ts";
import { hostApp, TEST_SECRET, testGate } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import {
  onPostgres,
  persistentDatabase,
  sqlClient,
  type TestDatabase,
  testDatabase,
  testStore,
} from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { ca, DPO, eu, grant, roles, subject, withdraw } from "../support/subjects.ts";
import { chartTable, section } from "./html.ts";

// Nothing loads but the console's own stylesheet: not even a same-origin script.
const CSP = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const popular = {
  key: "itemId",
  epsilon: 0.5,
  delta: 1e-9,
  maxKeys: 3,
  every: "1d",
  budget: { epsilon: 2, per: "30d" },
};
const PERIOD = "from=2026-05-01&to=2026-06-05";

describe(`the privacy officer's console on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  const clock = testClock("2026-05-01T10:00:00Z");
  let gate: Consentgate;
  let app: Express;
  let overdueId: string;
  let completedId: string;
  let db: TestDatabase;

  before(async () => {
    db = await testDatabase(suite);
    gate = await testGate(suite, {
      database: db.option,
      policies: testPolicy({ purposes: { personalization: { insights: { popular } } } }),
      now: clock.now,
    });
    app = hostApp(gate, (host) => {
      host.post("/api/ads/click", gate.purpose("advertising"), (_req, res) => {
        res.status(201).end();
      });
      host.post("/api/service", gate.purpose("service"), async (req, res, next) => {
        await req.privacy.record("play", req.body).then(() => res.status(201).end(), next);
      });
      host.use("/privacy-console", gate.console({ title: "Tunes <console>" }));
    });
    let failing = true;
    gate.registerDataSource({
      name: "favourites",
      export: () => [],
      erase: () => {
        if (failing) throw new Error("favourites database is down");
        return 1;
      },
    });

    // 1 May: two EU listeners allow personalization, one allows advertising; a Californian opts out of it.
    await grant(app, eu("ann"), "personalization").expect(200);
    await grant(app, eu("bob"), "personalization").expect(200);
    await grant(app, eu("ann"), "advertising").expect(200);
    await withdraw(app, ca("cal"), "advertising").expect(200);
    for (const item of ["a", "b"])
      await request(app).post("/api/service").set(eu("ann")).send({ itemId: item, action: "play" }).expect(201);
    // Three ad clicks without consent are refused, counted, and logged by the daily report's flush.
    for (let i = 0; i < 3; i++) await request(app).post("/api/ads/click").set(eu("dee")).send({}).expect(403);
    await gate.runJob("compliance-report");
    // An erasure a data source fails stays open: it goes overdue a month later.
    overdueId = (await request(app).delete("/privacy/data").set(eu("eve")).expect(200)).body.requestId;
    failing = false;

    // 2 May: ann turns advertising off again; bob downloads his data (completed).
    clock.set("2026-05-02T09:00:00Z");
    await withdraw(app, eu("ann"), "advertising").expect(200);
    await request(app).get("/privacy/export").set(eu("bob")).expect(200);
    completedId = (await request(app).get("/privacy/requests").set(eu("bob")).expect(200)).body.requests[0].id;
    await gate.insights.release("popular");

    // 10 May: the service plays (kept 7 days) are purged.
    clock.set("2026-05-10T03:00:00Z");
    await gate.runJob("purge");

    // 5 June: eve's erasure (due 1 June) is past its deadline.
    clock.set("2026-06-05T12:00:00Z");
    await gate.runJob("deadlines");
  });

  const page = (path: string, who = DPO) => request(app).get(`/privacy-console${path}`).set(who);

  test("anonymous callers get 401, callers without the role dpo 403, both as pages that say so", async () => {
    const anonymous = await request(app).get("/privacy-console/").expect(401);
    assert.match(anonymous.text, /Sign in as a data protection officer/);
    assert.equal(anonymous.headers["content-security-policy"], CSP);
    const listener = await page("/", eu("ann")).expect(403);
    assert.match(listener.text, /for the role dpo/);
    await page(`/requests/${overdueId}`, subject("agent-1", roles("agent"))).expect(403);
    assert.doesNotMatch(listener.text, /consents-given/);
  });

  test("shows a region's consents, requests, blocked writes, purged rows, chain and budget for the period", async () => {
    const res = await page(`/?region=EU&${PERIOD}`).expect(200);
    assert.equal(res.headers["content-security-policy"], CSP);
    assert.equal(res.headers["cache-control"], "no-store");
    assert.doesNotMatch(res.text, /<script/);
    assert.match(res.text, /<title>Tunes &lt;console&gt;<\/title>/, "the title is escaped");
    assert.match(res.text, /<option value="EU" selected>EU<\/option>/);

    assert.deepEqual(chartTable(res.text, "consents-given"), [
      ["Day", "personalization", "advertising", "Total"],
      ["2026-05-01", "2", "1", "3"],
    ]);
    assert.deepEqual(chartTable(res.text, "consents-withdrawn"), [
      ["Day", "advertising"],
      ["2026-05-02", "1"],
    ]);
    assert.deepEqual(chartTable(res.text, "blocked-writes"), [
      ["Purpose", "blocked writes"],
      ["advertising", "3"],
    ]);
    assert.deepEqual(chartTable(res.text, "rows-purged"), [
      ["Day", "service"],
      ["2026-05-10", "2"],
    ]);
    assert.deepEqual(chartTable(res.text, "requests-daily"), [
      ["Day", "received", "completed", "Total"],
      ["2026-05-01", "1", "0", "1"],
      ["2026-05-02", "1", "1", "2"],
    ]);
    assert.deepEqual(chartTable(res.text, "privacy-budget"), [
      ["Release or model", "spent", "left", "Total"],
      ["release popular", "0.5", "1.5", "2"],
    ]);
    assert.match(section(res.text, "chain"), /Verified:<\/strong> the hash chain of EU is intact/);

    // The overdue erasure comes first, marked, and links to its own page.
    const rows = [
      ...section(res.text, "requests").matchAll(/<tr( class="overdue")?>\s*<th scope="row"><a href="([^"]+)"/g),
    ];
    assert.deepEqual(
      rows.map((r) => [r[1] !== undefined, r[2]]),
      [
        [true, `/privacy-console/requests/${overdueId}?region=EU&amp;${PERIOD.replace("&", "&amp;")}`],
        [false, `/privacy-console/requests/${completedId}?region=EU&amp;${PERIOD.replace("&", "&amp;")}`],
      ],
    );
  });

  test("another region shows only its own data", async () => {
    const res = await page(`/?region=US-CA&${PERIOD}`).expect(200);
    assert.deepEqual(chartTable(res.text, "consents-given"), []);
    assert.deepEqual(chartTable(res.text, "consents-withdrawn"), [
      ["Day", "advertising"],
      ["2026-05-01", "1"],
    ]);
    assert.deepEqual(chartTable(res.text, "blocked-writes"), []);
    assert.doesNotMatch(section(res.text, "requests"), /requests\//, "no EU request is listed");
  });

  test("without a period it shows the last 30 days of the officer's region", async () => {
    const res = await page("/").expect(200);
    assert.match(res.text, /Region <strong>EU<\/strong>, 2026-05-07 to 2026-06-05/);
    assert.deepEqual(chartTable(res.text, "consents-given"), [], "1 May is before the period");
    assert.deepEqual(chartTable(res.text, "rows-purged"), [
      ["Day", "service"],
      ["2026-05-10", "2"],
    ]);
  });

  test("a bad period or an unknown region is a 400 page that says what is wrong", async () => {
    for (const [query, message] of [
      ["region=MARS", /pick one of the policy&#39;s regions \(EU, US-CA, OTHER\)/],
      ["from=2026-02-31", /the from date must be a day written YYYY-MM-DD/],
      ["to=yesterday", /the to date must be a day/],
      ["from=2026-06-02&to=2026-06-01", /the first day must not be after the last day/],
      ["from=2025-01-01&to=2026-06-01", /at most 366 days at once; this period has 517/],
    ] as const) {
      const res = await page(`/?${query}`).expect(400);
      assert.match(res.text, message, query);
      assert.doesNotMatch(res.text, /MARS/, "the page does not echo the bad value");
    }
  });

  test("a request's page shows its fields and its log entries, not whose it is", async () => {
    const res = await page(`/requests/${overdueId}?region=EU&${PERIOD}`).expect(200);
    assert.match(res.text, /<strong>Overdue:<\/strong> its deadline passed/);
    assert.match(res.text, /<dt>Status<\/dt><dd>partial<\/dd>/);
    assert.match(res.text, /<dt>Region<\/dt><dd>EU<\/dd>/);
    const events = [...res.text.matchAll(/<td>(request\.[a-z]+)<\/td>/g)].map((m) => m[1]);
    assert.deepEqual(events, ["request.received", "request.completed", "request.overdue"]);
    assert.doesNotMatch(res.text, /\beve\b/, "the subject is not named");
    assert.match(res.text, new RegExp(`href="/privacy-console/\\?region=EU&amp;${PERIOD.replace("&", "&amp;")}"`));

    await page("/requests/not-a-uuid").expect(404);
    await page("/requests/00000000-0000-4000-8000-000000000000").expect(404);
  });

  test("a broken chain is shown with the entry where it breaks", {
    skip: !onPostgres && "needs a second connection to the gate's database",
  }, async (ctx) => {
    const client = await sqlClient(ctx, db);
    await client.query(
      `UPDATE compliance_log SET details = details || '{"tampered": true}' WHERE region = 'OTHER' AND seq = 1`,
    );
    const res = await page(`/?region=OTHER&${PERIOD}`).expect(200);
    assert.match(
      section(res.text, "chain"),
      /Broken at entry 1:<\/strong> entry 1 was changed \(its content no longer matches its hash\)\./,
    );
  });
});

describe(`the console's long lists on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let app: Express;

  before(async () => {
    // Seeded beside the gate's tables: 201 EU requests received in the period and past their deadline,
    // and 1001 releases of popular, the last of which spent more than any before it.
    const db = await persistentDatabase(suite);
    const store = await testStore(suite, db);
    await store.connection.prisma.privacyRequest.createMany({
      data: Array.from({ length: 201 }, (_, i) => ({
        id: randomUUID(),
        subjectId: `listener-${i}`,
        type: "export",
        status: "received",
        region: "EU",
        receivedAt: new Date(Date.parse("2026-05-01T00:00:00Z") + i * 60_000),
        dueAt: new Date("2026-06-01T00:00:00Z"),
      })),
    });
    const keyring = createKeyring(TEST_SECRET);
    let at = Date.parse("2026-05-02T00:00:00Z");
    const log = createComplianceLog(createComplianceLogStore(store.connection), {
      pseudonym: keyring.pseudonym,
      chainKey: keyring.key("log-chain"),
      now: () => new Date((at += 1000)),
    });
    for (let i = 0; i < 1001; i++)
      await log.append({
        region: "EU",
        event: LOG_EVENT.insightsReleased,
        details: { name: "popular", epsilon: 0.5, spent: i === 1000 ? 1.5 : 0.5, budget: 2 },
      });
    await store.close();
    const gate = await testGate(suite, {
      database: db.option,
      policies: testPolicy({ purposes: { personalization: { insights: { popular } } } }),
      now: testClock("2026-06-05T12:00:00Z").now,
    });
    app = hostApp(gate, (host) => host.use("/privacy-console", gate.console()));
  });

  test("a list cut short says how many it shows of how many, and the budget is the newest release's", async () => {
    const res = await request(app).get(`/privacy-console/?region=EU&${PERIOD}`).set(DPO).expect(200);
    const requests = section(res.text, "requests");
    assert.match(requests, /Showing 200 of 201 overdue requests, the oldest deadlines first\./);
    assert.match(requests, /Showing 200 of 201 requests received in this period, the newest first\./);
    assert.equal([...requests.matchAll(/<tr class="overdue">/g)].length, 200);
    assert.deepEqual(chartTable(res.text, "privacy-budget"), [
      ["Release or model", "spent", "left", "Total"],
      ["release popular", "1.5", "0.5", "2"],
    ]);
    assert.match(section(res.text, "budget"), /Showing 1000 of 1001 insights releases in this period, the newest\./);
  });

  test("a list that is not cut says nothing of it", async () => {
    const res = await request(app).get("/privacy-console/?region=US-CA&from=2026-05-01&to=2026-06-05").set(DPO);
    assert.equal(res.status, 200);
    assert.doesNotMatch(res.text, /Showing \d+ of/);
  });
});
