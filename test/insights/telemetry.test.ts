/**
 * Local-DP telemetry through the public surface: a gate whose policy has a
 * `telemetry` block, reports made on "devices" with the real client function
 * (consentgate/client's telemetryReport) and POSTed to
 * /privacy/telemetry/:metric, the estimates through gate.insights.frequencies
 * and GET /privacy/admin/telemetry/:metric, the purpose's gate, the
 * per-subject limit (also raced, by two gates on one PostgreSQL database), and
 * erasure and export of the limit's records.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { before, describe, test } from "node:test";
import request from "supertest";
import { telemetryReport } from "../../src/client/index.ts";
import type { Consentgate } from "../../src/index.ts";
import { hostApp, serve, testGate } from "../support/app.ts";
import { DAY, testClock } from "../support/clock.ts";
import { onPostgres, persistentDatabase, testDatabase } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { DPO, ca, eu, subject } from "../support/subjects.ts";

const SKIPS = {
  purpose: "diagnostics",
  epsilon: 4,
  sketch: { hashes: 64, width: 1024 },
  limit: { reports: 5, per: "1d" },
};
const LIMITED = { ...SKIPS, limit: { reports: 3, per: "1d" } };
const PARAMS = { epsilon: SKIPS.epsilon, hashes: SKIPS.sketch.hashes, width: SKIPS.sketch.width };

/** The true distribution: how many of the reports carry each genre (2000 in all, 5 per person). */
const TRUTH: Record<string, number> = { jazz: 1000, rock: 600, metal: 300, folk: 100, polka: 0 };
const PEOPLE = 400;

const policies = testPolicy({
  purposes: {
    diagnostics: {
      description: "Learn which genres listeners skip, from randomized reports",
      legalBasis: "consent",
      fields: { genre: "keep" },
    },
  },
  telemetry: { "genre-skips": SKIPS, limited: LIMITED },
});

describe(`local-DP telemetry on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  const clock = testClock("2026-06-01T12:00:00Z");
  let gate: Consentgate;
  let origin: string;
  const reports = async (metric = "genre-skips") => (await gate.insights.frequencies(metric, ["jazz"])).reports;
  const post = (who: Record<string, string>, body: unknown, metric = "genre-skips") =>
    request(origin)
      .post(`/privacy/telemetry/${metric}`)
      .set(who)
      .send(body as object);

  before(async () => {
    const db = await testDatabase(suite);
    gate = await testGate(suite, { database: db.option, policies, now: clock.now });
    origin = await serve(suite, hostApp(gate));
    // Every person's device reports five skips; values dealt out so that the totals are exactly TRUTH.
    const values = Object.entries(TRUTH).flatMap(([value, count]) => Array.from({ length: count }, () => value));
    for (let i = values.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [values[i], values[j]] = [values[j]!, values[i]!];
    }
    assert.equal(values.length, PEOPLE * 5);
    const sends = values.map((value, i) => () => post(ca(`listener-${i % PEOPLE}`), telemetryReport(value, PARAMS)));
    for (let at = 0; at < sends.length; at += 100) {
      const answers = await Promise.all(sends.slice(at, at + 100).map((send) => send()));
      for (const answer of answers) assert.equal(answer.status, 202, JSON.stringify(answer.body));
    }
  });

  test("the estimates are within four standard errors of the true frequencies", async () => {
    const result = await gate.insights.frequencies("genre-skips", Object.keys(TRUTH));
    assert.equal(result.metric, "genre-skips");
    assert.equal(result.reports, PEOPLE * 5);
    assert.deepEqual(
      result.estimates.map((e) => e.value),
      Object.keys(TRUTH),
    );
    for (const { value, frequency, standardError } of result.estimates) {
      // About √n·c_ε = √2000 · 1.037 ≈ 46 (docs/telemetry.md); far below the gaps between the true counts.
      assert.ok(standardError > 30 && standardError < 65, `${value}: standard error ${standardError}`);
      assert.ok(
        Math.abs(frequency - TRUTH[value]!) <= 4 * standardError,
        `${value}: ${frequency} vs ${TRUTH[value]} (± ${standardError})`,
      );
    }
  });

  test("the DPO reads the same estimates over HTTP; others get 401 and 403", async () => {
    const path = "/privacy/admin/telemetry/genre-skips?candidates=jazz,rock,polka";
    assert.equal((await request(origin).get(path)).body.error.code, "unauthenticated");
    assert.equal((await request(origin).get(path)).status, 401);
    const subjectAnswer = await request(origin).get(path).set(subject("nosy"));
    assert.equal(subjectAnswer.status, 403);
    assert.equal(subjectAnswer.body.error.code, "forbidden");
    const answer = await request(origin).get(path).set(DPO).expect(200);
    assert.deepEqual(answer.body, await gate.insights.frequencies("genre-skips", ["jazz", "rock", "polka"]));
    const repeated = await request(origin)
      .get("/privacy/admin/telemetry/genre-skips?candidates=jazz&candidates=rock,polka")
      .set(DPO)
      .expect(200);
    assert.deepEqual(repeated.body, answer.body);

    const tooMany = Array.from({ length: 1001 }, (_, i) => `g${i}`).join(",");
    for (const query of ["", "?candidates=", "?candidates=jazz,,rock", `?candidates=${tooMany}`]) {
      const bad = await request(origin).get(`/privacy/admin/telemetry/genre-skips${query}`).set(DPO);
      assert.equal(bad.status, 400, query.slice(0, 40));
      assert.equal(bad.body.error.code, "invalid_body");
    }
    const unknown = await request(origin).get("/privacy/admin/telemetry/nothing?candidates=a").set(DPO);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "not_found");
    await assert.rejects(gate.insights.frequencies("nothing", ["a"]), { code: "not_found" });
    await assert.rejects(gate.insights.frequencies("genre-skips", []), { code: "invalid_body" });
    await assert.rejects(gate.insights.frequencies("genre-skips", ["\uD800"]), { code: "invalid_body" });
  });

  test("a subject the purpose is denied for gets 403 and nothing is stored; with consent the report counts", async () => {
    const before = await reports();
    const refused = await post(eu("eu-listener"), telemetryReport("jazz", PARAMS));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "consent_required");
    assert.equal(refused.body.error.purpose, "diagnostics");
    assert.equal(await reports(), before);
    await request(origin)
      .put("/privacy/consents/diagnostics")
      .set(eu("eu-listener"))
      .send({ granted: true })
      .expect(200);
    await post(eu("eu-listener"), telemetryReport("jazz", PARAMS)).expect(202);
    assert.equal(await reports(), before + 1);
  });

  test("anonymous callers get 401 and unknown metrics 404, and nothing is stored", async () => {
    const before = await reports();
    const anonymous = await request(origin)
      .post("/privacy/telemetry/genre-skips")
      .send(telemetryReport("jazz", PARAMS));
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, "unauthenticated");
    const unknown = await post(ca("someone"), telemetryReport("jazz", PARAMS), "no-such-metric");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "not_found");
    assert.equal(await reports(), before);
  });

  test("bodies that are not one record of the metric's sketch are refused with 400 and nothing is stored", async () => {
    const before = await reports();
    const good = { hash: 3, index: 17, bit: 1 };
    const bad: [string, unknown][] = [
      ["missing bit", { hash: 3, index: 17 }],
      ["missing hash", { index: 17, bit: 1 }],
      ["extra field", { ...good, value: "jazz" }],
      ["hash out of range", { ...good, hash: SKIPS.sketch.hashes }],
      ["index out of range", { ...good, index: SKIPS.sketch.width }],
      ["negative index", { ...good, index: -1 }],
      ["non-integer hash", { ...good, hash: 1.5 }],
      ["bit 0", { ...good, bit: 0 }],
      ["bit as a string", { ...good, bit: "1" }],
      ["an array", [3, 17, 1]],
    ];
    for (const [what, body] of bad) {
      const answer = await post(ca("careless"), body);
      assert.equal(answer.status, 400, what);
      assert.equal(answer.body.error.code, "invalid_body", what);
    }
    const malformed = await request(origin)
      .post("/privacy/telemetry/genre-skips")
      .set(ca("careless"))
      .set("content-type", "application/json")
      .send('{"hash": 3,');
    assert.equal(malformed.status, 400);
    assert.equal(await reports(), before);
    // None of them used up the limit.
    for (let i = 0; i < SKIPS.limit.reports; i++) await post(ca("careless"), good).expect(202);
  });

  test("the limit: N reports in the period are accepted, the next gets 429 report_limit, and the period rolls", async () => {
    const before = await reports("limited");
    for (let i = 0; i < LIMITED.limit.reports; i++)
      await post(ca("eager"), telemetryReport("rock", PARAMS), "limited").expect(202);
    const over = await post(ca("eager"), telemetryReport("rock", PARAMS), "limited");
    assert.equal(over.status, 429);
    assert.equal(over.body.error.code, "report_limit");
    assert.equal(over.headers["retry-after"], String(DAY / 1000));
    assert.equal(await reports("limited"), before + LIMITED.limit.reports);
    // Another metric's limit is its own.
    await post(ca("eager"), telemetryReport("rock", PARAMS)).expect(202);
    const first = clock.now().toISOString();
    clock.advance(DAY);
    await post(ca("eager"), telemetryReport("rock", PARAMS), "limited").expect(202);
    assert.equal(await reports("limited"), before + LIMITED.limit.reports + 1);
    // That report swept the metric's records that left the period; the other metric's wait for its own reports.
    const exported = JSON.parse((await request(origin).get("/privacy/export").set(ca("eager")).expect(200)).text);
    assert.deepEqual(exported.telemetry, [
      { metric: "genre-skips", at: first },
      { metric: "limited", at: clock.now().toISOString() },
    ]);
  });

  test("20 concurrent reports of one subject with a limit of 3: exactly 3 are accepted", async () => {
    const before = await reports("limited");
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => post(ca("racer"), telemetryReport("metal", PARAMS), "limited")),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [...Array(3).fill(202), ...Array(17).fill(429)]);
    assert.equal(await reports("limited"), before + 3);
  });

  test("the export lists when the subject reported, never what; erasure deletes those records and counts them", async () => {
    const who = ca("leaver");
    await post(who, telemetryReport("folk", PARAMS)).expect(202);
    await post(who, telemetryReport("folk", PARAMS), "limited").expect(202);
    const exported = await request(origin).get("/privacy/export").set(who).expect(200);
    const document = JSON.parse(exported.text) as { telemetry: unknown };
    const at = clock.now().toISOString();
    assert.deepEqual(document.telemetry, [
      { metric: "genre-skips", at },
      { metric: "limited", at },
    ]);
    const before = await reports();
    const certificate = (await request(origin).delete("/privacy/data").set(who).expect(200)).body;
    assert.equal(certificate.erased.tables.telemetryReports, 2);
    // The sums keep the report (it cannot be told apart from anyone's), and the limit starts over.
    assert.equal(await reports(), before);
    const again = JSON.parse((await request(origin).get("/privacy/export").set(who).expect(200)).text);
    assert.deepEqual(again.telemetry, []);
    for (let i = 0; i < LIMITED.limit.reports; i++)
      await post(who, telemetryReport("folk", PARAMS), "limited").expect(202);
  });
});

describe(`the telemetry limit raced by two gates on one ${onPostgres ? "PostgreSQL" : "PGlite"} database`, {
  skip: !onPostgres && "PGlite has one process; the single-gate race above covers it",
}, () => {
  const suite = suiteScope();
  test("20 concurrent reports of one subject, split over two instances, limit 3: exactly 3 are accepted", async () => {
    const db = await testDatabase(suite);
    const gates = [
      await testGate(suite, { database: db.option, policies }),
      await testGate(suite, { database: db.option, policies }),
    ];
    const origins = await Promise.all(gates.map((g) => serve(suite, hostApp(g))));
    for (let round = 0; round < 3; round++) {
      const who = ca(`racer-${round}`);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          request(origins[i % 2]!)
            .post("/privacy/telemetry/limited")
            .set(who)
            .send(telemetryReport("metal", PARAMS)),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status).sort(),
        [...Array(3).fill(202), ...Array(17).fill(429)],
        `round ${round}`,
      );
    }
    assert.equal((await gates[1]!.insights.frequencies("limited", ["metal"])).reports, 9);
  });
});

describe(`a telemetry metric whose parameters change, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  test("starts a sketch of its own: reports made under the old parameters are not read under the new", async () => {
    const db = await persistentDatabase(suite);
    const under = (epsilon: number) =>
      testGate(suite, {
        database: db.option,
        policies: testPolicy({
          purposes: policies.purposes as Record<string, object>,
          telemetry: { "genre-skips": { ...SKIPS, epsilon } },
        }),
      });
    const first = await under(4);
    const app = hostApp(first);
    for (let i = 0; i < 3; i++) {
      await request(app)
        .post("/privacy/telemetry/genre-skips")
        .set(ca(`changing-${i}`))
        .send(telemetryReport("jazz", PARAMS))
        .expect(202);
    }
    assert.equal((await first.insights.frequencies("genre-skips", ["jazz"])).reports, 3);
    await first.close();
    const changed = await under(2);
    assert.equal((await changed.insights.frequencies("genre-skips", ["jazz"])).reports, 0, "a new sketch");
    await changed.close();
    const back = await under(4);
    assert.equal((await back.insights.frequencies("genre-skips", ["jazz"])).reports, 3, "the old one, unchanged");
  });
});

describe(`an erasure racing a subject's telemetry reports on ${onPostgres ? "PostgreSQL, two gates" : "PGlite"}`, () => {
  const suite = suiteScope();
  test("every accepted report is either erased (counted in the certificate) or recorded after it: none lost, none left behind unaccounted", async () => {
    const db = await testDatabase(suite);
    const gates = [await testGate(suite, { database: db.option, policies })];
    if (onPostgres) gates.push(await testGate(suite, { database: db.option, policies }));
    const origins = await Promise.all(gates.map((g) => serve(suite, hostApp(g))));
    const at = (i: number) => origins[i % origins.length]!;
    const sums = async () => (await gates[0]!.insights.frequencies("genre-skips", ["jazz"])).reports;
    for (let trial = 0; trial < 5; trial++) {
      const who = ca(`eraser-${trial}`);
      const before = await sums();
      const [answers, erasure] = await Promise.all([
        Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            request(at(i)).post("/privacy/telemetry/genre-skips").set(who).send(telemetryReport("jazz", PARAMS)),
          ),
        ),
        new Promise((resolve) => setTimeout(resolve, trial * 3)).then(() =>
          request(at(trial + 1))
            .delete("/privacy/data")
            .set(who)
            .expect(200),
        ),
      ]);
      const accepted = answers.filter((a) => a.status === 202).length;
      // The limit is 5 a day; an erasure starts it over, so up to 10 can be accepted around it.
      assert.ok(
        answers.every((a) => a.status === 202 || a.status === 429),
        JSON.stringify(answers.map((a) => a.status)),
      );
      const erased = erasure.body.erased.tables.telemetryReports as number;
      const left = JSON.parse((await request(at(0)).get("/privacy/export").set(who).expect(200)).text).telemetry.length;
      assert.equal(erased + left, accepted, `trial ${trial}: ${erased} erased + ${left} left, ${accepted} accepted`);
      // Every accepted report is in the sums exactly once (they keep what an erasure cannot single out).
      assert.equal((await sums()) - before, accepted);
    }
  });
});
