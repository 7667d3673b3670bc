import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import { testApp } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { eu, grant, withdraw } from "../support/subjects.ts";

/** A 429 in the gate's error body, with a Retry-After the client can wait for. */
function assertLimited(res: request.Response, what: string) {
  assert.equal(res.status, 429, what);
  assert.equal(res.body.error.code, "too_many_requests", what);
  assert.equal(typeof res.body.error.message, "string");
  const retryAfter = Number(res.headers["retry-after"]);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 15 * 60,
    `Retry-After: ${res.headers["retry-after"]}`,
  );
}

describe(`rate limits on the rights endpoints on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("exports and erasures over the subject's limit are refused before a request is opened", async (ctx) => {
    const t = await testApp(ctx, { limits: { requests: 2 } });
    await request(t.app).get("/privacy/export").set(eu("greedy")).expect(200);
    await request(t.app).get("/privacy/export").set(eu("greedy")).expect(200);
    assertLimited(await request(t.app).get("/privacy/export").set(eu("greedy")), "third export");
    assertLimited(await request(t.app).delete("/privacy/data").set(eu("greedy")), "an erasure shares the count");
    assert.deepEqual(
      (await t.gate.store.requests.forSubject("greedy")).map((r) => [r.type, r.status]),
      [
        ["export", "completed"],
        ["export", "completed"],
      ],
      "no request row and no erasure for the refused calls",
    );
    // Another subject has a count of its own.
    await request(t.app).get("/privacy/export").set(eu("patient")).expect(200);
  });

  test("consent changes over the limit are refused and leave the history as it was", async (ctx) => {
    const t = await testApp(ctx, { limits: { consentChanges: 3 } });
    for (const granted of [true, false, true]) {
      await request(t.app).put("/privacy/consents/personalization").set(eu("flipper")).send({ granted }).expect(200);
    }
    assertLimited(await withdraw(t.app, eu("flipper"), "personalization"), "fourth change");
    assert.equal((await t.gate.store.consents.history("flipper")).length, 3);
    assert.equal(
      (await t.gate.store.consents.current("flipper")).personalization?.granted,
      true,
      "the refused withdrawal changed nothing",
    );
  });

  test("reads have their own, larger count", async (ctx) => {
    const t = await testApp(ctx, { limits: { reads: 2, consentChanges: 1 } });
    await grant(t.app, eu("reader"), "personalization").expect(200);
    await request(t.app).get("/privacy/consents").set(eu("reader")).expect(200);
    await request(t.app).get("/privacy/requests").set(eu("reader")).expect(200);
    assertLimited(await request(t.app).get("/privacy/consents").set(eu("reader")), "third read");
  });

  test("anonymous callers are counted by address", async (ctx) => {
    const t = await testApp(ctx, { limits: { reads: 2 } });
    await request(t.app).get("/privacy/consents").expect(401);
    await request(t.app).get("/privacy/requests").expect(401);
    assertLimited(await request(t.app).get("/privacy/consents"), "third anonymous read");
  });

  test("without options a script is stopped after 10 exports in 15 minutes", async (ctx) => {
    const t = await testApp(ctx, {});
    for (let i = 0; i < 10; i++) await request(t.app).get("/privacy/export").set(eu("script")).expect(200);
    const res = await request(t.app).get("/privacy/export").set(eu("script"));
    assertLimited(res, "eleventh export");
    assert.match(res.headers["ratelimit-policy"] ?? "", /^10;w=900$/);
    assert.equal((await t.gate.store.requests.forSubject("script")).length, 10);
  });

  test("every mount of the router shares one count", async (ctx) => {
    const t = await testApp(ctx, { limits: { requests: 1 } });
    t.app.use("/privacy-again", t.gate.router());
    await request(t.app).get("/privacy/export").set(eu("twice")).expect(200);
    assertLimited(await request(t.app).get("/privacy-again/export").set(eu("twice")), "the second mount");
  });

  test("a store that cannot count refuses with 503, and says why to the logger", async (ctx) => {
    const logged: unknown[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (obj: object) => logged.push(obj) };
    const broken = () => ({
      increment: async (): Promise<never> => {
        throw new Error("redis is down");
      },
      decrement: async () => {},
      resetKey: async () => {},
    });
    const t = await testApp(ctx, { logger, limits: { store: broken } });
    const res = await request(t.app).get("/privacy/export").set(eu("someone"));
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, "consent_unavailable");
    assert.doesNotMatch(res.text, /redis/);
    assert.deepEqual(await t.gate.store.requests.forSubject("someone"), []);
    assert.ok(logged.some((entry) => String((entry as { err?: Error }).err?.message).includes("redis is down")));
  });
});
