import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import request from "supertest";
import { collectableFields } from "../../src/decision/ability.ts";
import { isConsentgateError } from "../../src/index.ts";
import { sharedTestApp, testApp, testGate } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { GPC, ca, eu, grant, region, subject, withdraw } from "../support/subjects.ts";

describe(`the write gate on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const t = sharedTestApp();
  let n = 0;
  // Every test gets subjects of its own, so one database serves the whole file.
  let user: string;
  beforeEach(() => {
    user = `listener-${++n}`;
    t.seen.length = 0;
  });

  const play = {
    itemId: "trk_1",
    action: "play",
    durationMs: 183_456,
    location: { lat: 48.8584, lon: 2.2945 },
    userAgent: "Mozilla/5.0",
  };
  const held = async (purpose: string) => (await t.gate.store.interactions.countByPurpose(user))[purpose] ?? 0;

  test("EU is opt-in: no consent, no write, nothing stored", async () => {
    const res = await request(t.app).post("/api/plays").set(eu(user)).send(play);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body.error.code, "consent_required");
    assert.equal(res.body.error.purpose, "personalization");
    assert.equal(res.body.error.region, "EU");
    assert.match(res.body.error.message, /PUT \/consents\/personalization/);
    assert.equal(t.seen.length, 0, "the handler never ran");
    assert.equal(await held("personalization"), 0);
  });

  test("EU after opt-in: the write passes, minimized, with its provenance", async () => {
    const receipt = (await grant(t.app, eu(user), "personalization").expect(200)).body;
    const res = await request(t.app)
      .post("/api/plays")
      .set(subject(user, region("de")))
      .send({
        ...play,
        device: { os: "android", model: "Pixel 8", id: "IMEI-1" },
        context: { at: "2026-11-28T21:34:56.789Z", ip: "203.0.113.77" },
        extra: "x",
      });
    assert.equal(res.status, 201);
    const expected = {
      itemId: "trk_1",
      action: "play",
      durationMs: 183_000,
      location: "u09tu",
      device: { os: "android", model: "Pixe" },
      context: { at: "2026-11-28T21:00:00.000Z", ip: "203.0.113.0" },
    };
    assert.deepEqual(t.seen[0]!.body, expected, "the handler sees only the minimized body");
    assert.ok(
      Object.isFrozen(t.seen[0]!.body) && Object.isFrozen((t.seen[0]!.body as { device: object }).device),
      "and cannot add to it",
    );
    const [row] = await t.gate.store.interactions.forSubject(user);
    assert.deepEqual(row!.data, expected);
    assert.deepEqual(row!.provenance, {
      source: "explicit",
      receiptId: receipt.id,
      legalBasis: "consent",
      policyVersion: "test-1",
    });
  });

  test("US-CA is opt-out: writes pass without a choice", async () => {
    await request(t.app).post("/api/plays").set(ca(user)).send(play).expect(201);
    const [row] = await t.gate.store.interactions.forSubject(user);
    assert.equal(row!.provenance.source, "region-default");
    assert.equal(row!.provenance.receiptId, null);
  });

  test("an unknown region falls back to the default (strictest) region", async () => {
    const res = await request(t.app)
      .post("/api/plays")
      .set(subject(user, region("ZZ")))
      .send(play);
    assert.equal(res.status, 403);
    assert.equal(res.body.error.region, "EU");
    assert.equal(t.seen.length, 0, "the handler never ran");
  });

  test("GPC opts out of a sale/share purpose in US-CA, even over an earlier opt-in", async () => {
    await request(t.app).post("/api/ads/click").set(ca(user)).send({ itemId: "ad" }).expect(201);
    const blocked = await request(t.app).post("/api/ads/click").set(ca(user, GPC)).send({ itemId: "ad" });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.error.code, "consent_required");
    await grant(t.app, ca(user), "advertising").expect(200);
    await request(t.app).post("/api/ads/click").set(ca(user, GPC)).send({ itemId: "ad" }).expect(403);
    assert.equal(t.seen.length, 1, "only the first click reached the handler");
    // GPC does not touch purposes that are not a sale or share.
    await request(t.app).post("/api/plays").set(ca(user, GPC)).send(play).expect(201);
  });

  test("overrideGpc counts only when given while GPC is on", async () => {
    const offline = await grant(t.app, ca(user), "advertising", { overrideGpc: true }).expect(200);
    assert.equal(offline.body.overrideGpc, false);
    await request(t.app).post("/api/ads/click").set(ca(user, GPC)).send({ itemId: "ad" }).expect(403);
    assert.equal(t.seen.length, 0, "the handler never ran");
    const confirmed = await grant(t.app, ca(user, GPC), "advertising", { overrideGpc: true }).expect(200);
    assert.equal(confirmed.body.overrideGpc, true);
    assert.equal(confirmed.body.gpc, true);
    await request(t.app).post("/api/ads/click").set(ca(user, GPC)).send({ itemId: "ad" }).expect(201);
  });

  test("legitimate interest allows until the user objects", async () => {
    const fr = subject(user, region("FR"));
    await request(t.app).post("/api/stats").set(fr).send({ itemId: "a" }).expect(201);
    await withdraw(t.app, fr, "analytics").expect(200);
    const res = await request(t.app).post("/api/stats").set(fr).send({ itemId: "a" });
    assert.equal(res.status, 403);
    assert.equal(t.seen.length, 1, "the write after the objection never reached the handler");
    assert.equal(await held("analytics"), 0, "the objection erased what the purpose held");
  });

  test("unknown purposes are refused: in code at start-up, over HTTP as 400", async () => {
    assert.throws(
      () => t.gate.purpose("personalisation"),
      (e) => isConsentgateError(e, "unknown_purpose"),
    );
    const res = await grant(t.app, subject(user), "nope");
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "unknown_purpose");
  });

  test("a write that no purpose covers is refused and its handler never runs", async () => {
    const res = await request(t.app).post("/api/unmapped").set(subject(user)).send({ a: 1 });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "unmapped_write");
    assert.equal(t.seen.length, 0);
    // Reads pass; gated routes in nested routers are found; unknown paths stay 404s.
    await request(t.app).get("/health").expect(200);
    await request(t.app).post("/api/v2/nested").set(subject(user)).send({ itemId: "x" }).expect(201);
    await request(t.app).post("/api/nowhere").set(subject(user)).send({}).expect(404);
  });

  test("a mapped route without code is still gated, then 404s", async () => {
    await request(t.app).post("/api/mapped-without-code").set(eu(user)).send(play).expect(403);
    await grant(t.app, subject(user), "personalization").expect(200);
    await request(t.app).post("/api/mapped-without-code").set(eu(user)).send(play).expect(404);
  });

  test("prototype-polluting bodies store nothing of the pollution", async () => {
    await grant(t.app, subject(user), "personalization").expect(200);
    const body =
      '{"itemId":"t","__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"device":{"__proto__":{"polluted":1},"os":"ios"}}';
    await request(t.app)
      .post("/api/plays")
      .set(subject(user, { "content-type": "application/json" }))
      .send(body)
      .expect(201);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const [row] = await t.gate.store.interactions.forSubject(user);
    assert.deepEqual(row!.data, { itemId: "t", device: { os: "ios" } });
  });

  test("bodies the gate cannot minimize get clear 4xx errors and store nothing", async () => {
    await grant(t.app, subject(user), "personalization").expect(200);
    const send = (body: string) =>
      request(t.app)
        .post("/api/plays")
        .set(subject(user, { "content-type": "application/json" }))
        .send(body);
    const notObject = await send("[1,2,3]");
    assert.equal(notObject.status, 400);
    assert.equal(notObject.body.error.code, "invalid_body");
    const wrongType = await send('{"durationMs":"long"}');
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.body.error.message, /durationMs/);
    // A kept subtree is copied, and a copy too deep to be data is refused.
    let deep = '"x"';
    for (let i = 0; i < 40; i++) deep = `{"a":${deep}}`;
    const tooDeep = await send(`{"device":{"os":${deep}}}`);
    assert.equal(tooDeep.status, 400);
    assert.equal(tooDeep.body.error.code, "invalid_body");
    const malformed = await send('{"itemId": ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, "invalid_body");
    const large = await send(JSON.stringify({ itemId: "x".repeat(20_000) }));
    assert.equal(large.status, 413);
    assert.equal(large.body.error.code, "payload_too_large");
    assert.equal(t.seen.length, 0, "no refused body reached the handler");
    assert.equal(await held("personalization"), 0);
  });

  test("req.privacy.can and the CASL ability agree with the gate", async () => {
    const can = async (purpose: string, headers: Record<string, string>) =>
      (await request(t.app).get(`/api/can/${purpose}`).set(subject(user, headers)).expect(200)).body.can;
    assert.equal(await can("personalization", { "x-region": "DE" }), false);
    assert.equal(await can("personalization", { "x-region": "US-CA" }), true);
    assert.equal(await can("advertising", { "x-region": "US-CA", "sec-gpc": "1" }), false);
    assert.equal(await can("service", { "x-region": "DE" }), true);
    await grant(t.app, subject(user), "personalization").expect(200);
    assert.equal(await can("personalization", { "x-region": "DE" }), true);
  });

  test("anonymous writes meet the region default; rights routes need a subject", async () => {
    await request(t.app).post("/api/plays").set(region("DE")).send(play).expect(403);
    assert.equal(t.seen.length, 0, "the handler never ran");
    const res = await request(t.app).get("/privacy/consents");
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, "unauthenticated");
  });
});

describe("unmappedWrites: allow", () => {
  test("lets unmapped writes through", async (ctx) => {
    const t = await testApp(ctx, { policies: testPolicy({ defaults: { region: "EU", unmappedWrites: "allow" } }) });
    await request(t.app).post("/api/unmapped").send({ a: 1 }).expect(201);
    // Let through, but with no purpose there is nothing record() may keep.
    const res = await request(t.app).post("/api/unmapped-record").set(subject("u")).send({ a: 1 });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "unmapped_write");
    assert.deepEqual(await t.gate.store.interactions.countByPurpose("u"), {});
  });
});

describe("the ability's field lists are the minimizer's", () => {
  test("permittedFieldsOf yields each purpose's allow-list", async (ctx) => {
    const gate = await testGate(ctx, { database: "memory" });
    const { buildAbility } = await import("../../src/decision/ability.ts");
    const ability = buildAbility({
      policy: gate.policy,
      allowedPurposes: ["personalization"],
      subjectId: "s",
      roles: [],
    });
    assert.deepEqual(collectableFields(ability, "personalization").sort(), [
      "action",
      "context.at",
      "context.ip",
      "device.model",
      "device.os",
      "durationMs",
      "itemId",
      "location",
    ]);
    assert.deepEqual(collectableFields(ability, "advertising"), []);
  });
});
