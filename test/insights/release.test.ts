/**
 * Differentially private releases through the public surface: a gate whose
 * policy has an `insights` block, data written over HTTP by hundreds of
 * people, `gate.insights.release()`, `GET /privacy/insights/:name`, the
 * insights job on the gate's clock, the budget refusing, and what is logged.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import request from "supertest";
import { type TestApp, testApp } from "../support/app.ts";
import { DAY, testClock } from "../support/clock.ts";
import { onPostgres } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { ca, eu, grant, logOf } from "../support/subjects.ts";

const popular = { key: "itemId", epsilon: 1, delta: 1e-9, maxKeys: 3, every: "1d", budget: { epsilon: 2, per: "30d" } };
const POPULAR_ITEMS = ["hit-1", "hit-2", "hit-3"];
const PEOPLE = 260;

describe(`insight releases on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  const clock = testClock("2026-06-01T12:00:00Z");
  let t: TestApp;
  before(async () => {
    t = await testApp(suite, {
      policies: testPolicy({ purposes: { personalization: { insights: { popular } } } }),
      now: clock.now,
    });
    // Hundreds of listeners in an opt-out region play the same three hits; one plays a song nobody else does.
    const plays: [Record<string, string>, string][] = [];
    for (let i = 0; i < PEOPLE; i++) for (const item of POPULAR_ITEMS) plays.push([ca(`fan-${i}`), item]);
    plays.push([ca("fan-0"), "only-mine"]);
    // Opt-in region without a grant: refused at the gate, so never stored. With a grant: counted.
    plays.push([eu("eu-silent"), "eu-secret"]);
    for (let i = 0; i < 20; i += 1) {
      const batch = plays.splice(0, Math.ceil(plays.length / (20 - i)));
      await Promise.all(
        batch.map(([who, itemId]) => request(t.app).post("/api/plays").set(who).send({ itemId, action: "play" })),
      );
    }
    await grant(t.app, eu("eu-fan"), "personalization").expect(200);
    await request(t.app).post("/api/plays").set(eu("eu-fan")).send({ itemId: "hit-1", action: "play" }).expect(201);
  });

  test("nothing is served before the first release", async () => {
    assert.equal(await t.gate.insights.latest("popular"), undefined);
    const answer = await request(t.app).get("/privacy/insights/popular");
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.code, "not_found");
  });

  test("a release serves the keys many people hold, with noisy counts, and never a key only one person holds", async () => {
    const result = await t.gate.insights.release("popular");
    assert.ok(result.released, "released");
    assert.equal(result.keys, 3);
    assert.equal(result.spent, 1);
    assert.equal(result.budget, 2);

    const answer = await request(t.app).get("/privacy/insights/popular?k=2").expect(200);
    assert.equal(answer.body.name, "popular");
    assert.equal(answer.body.purpose, "personalization");
    assert.equal(answer.body.epsilon, 1);
    assert.equal(answer.body.delta, 1e-9);
    // The exact discrete partition-selection threshold for l0 = 3, l∞ = 1, epsilon 1, delta 1e-9 (docs/insights.md).
    assert.equal(answer.body.threshold, 65);
    assert.equal(answer.body.keys.length, 2, "k = 2");
    const full = await t.gate.insights.latest("popular", { k: 100 });
    assert.deepEqual(full?.keys.map((k) => k.key).sort(), POPULAR_ITEMS);
    for (const { count } of full!.keys) {
      // 260 or 261 people, plus discrete Laplace noise of scale 3: off by more than 60 with probability e^-20.
      assert.ok(Math.abs(count - PEOPLE) <= 60, `noisy count ${count}`);
      assert.ok(count >= full!.threshold);
    }
    const counts = full!.keys.map((k) => k.count);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => b - a),
      "highest first",
    );
    // Cacheable until the next release is due (every: 1d).
    assert.equal(answer.headers["cache-control"], `public, max-age=${DAY / 1000}`);
    assert.ok(answer.headers.etag);
    await request(t.app).get("/privacy/insights/popular?k=2").set("if-none-match", answer.headers.etag).expect(304);
  });

  test("the release is logged in every region with its parameters and how many keys, never a count", async () => {
    for (const region of ["EU", "US-CA", "OTHER"]) {
      const entry = (await logOf(t.app, region)).find((e) => e.event === "insights.released");
      assert.ok(entry, `${region} logged it`);
      assert.deepEqual(Object.keys(entry.details).sort(), [
        "budget",
        "delta",
        "epsilon",
        "keys",
        "name",
        "purpose",
        "spent",
        "threshold",
      ]);
      assert.equal(entry.details.keys, 3);
      // The release's parameters are on the record from start-up, with the policy in force.
      const loaded = (await logOf(t.app, region)).find((e) => e.event === "policy.loaded");
      const purposes = loaded?.details.purposes as Record<string, { insights?: unknown }>;
      assert.deepEqual(purposes.personalization?.insights, {
        popular: {
          key: "itemId",
          epsilon: 1,
          delta: 1e-9,
          maxKeys: 3,
          every: "1d",
          budget: { epsilon: 2, per: "30d" },
        },
      });
    }
  });

  test("the job releases only when `every` has passed; the budget then refuses and the previous release stays served", async () => {
    assert.deepEqual(await t.gate.runJob("insights"), { released: [], refused: [], notDue: ["popular"] });
    clock.advance(DAY);
    assert.deepEqual(await t.gate.runJob("insights"), { released: ["popular"], refused: [], notDue: [] });
    const second = await t.gate.insights.latest("popular");
    clock.advance(DAY);
    assert.deepEqual(await t.gate.runJob("insights"), { released: [], refused: ["popular"], notDue: [] });
    const refused = await t.gate.insights.release("popular");
    assert.deepEqual(refused, { released: false, name: "popular", code: "budget_exhausted", spent: 2, budget: 2 });
    assert.deepEqual(await t.gate.insights.latest("popular"), second, "the previous release is still served");
    const entry = (await logOf(t.app, "EU")).find((e) => e.event === "insights.refused");
    assert.equal(entry?.details.code, "budget_exhausted");
    // Once the first spend leaves the 30-day period, releasing works again.
    clock.advance(29 * DAY);
    assert.ok((await t.gate.insights.release("popular")).released);
  });

  test("bad names and bad k are refused with stable codes", async () => {
    const unknown = await request(t.app).get("/privacy/insights/nothing-like-it");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "not_found");
    for (const k of ["abc", "0", "1001", "-1", "2.5"]) {
      const bad = await request(t.app).get(`/privacy/insights/popular?k=${k}`);
      assert.equal(bad.status, 400, `k=${k}`);
      assert.equal(bad.body.error.code, "invalid_body");
    }
    await assert.rejects(t.gate.insights.release("nothing-like-it"), { code: "not_found" });
  });
});
