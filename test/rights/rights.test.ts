import assert from "node:assert/strict";
import { before, beforeEach, describe, test } from "node:test";
import request from "supertest";
import { verifyReceipt, type Receipt } from "../../src/rights/receipts.ts";
import { type TestApp, testApp, testSigner } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import { onPostgres } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { asText, eu, grant, roles, withdraw } from "../support/subjects.ts";

describe(`rights endpoints on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let t: TestApp;
  let n = 0;
  let user: string;
  let other: string;
  const clock = testClock("2026-01-31T10:00:00Z");
  // A host table joined to export and erasure; `failing` makes its erase throw once.
  const favourites = new Map<string, string[]>();
  let failing = false;
  before(async () => {
    t = await testApp(suite, { now: clock.now });
    t.gate.registerDataSource({
      name: "favourites",
      // An async iterable, so the export has to stream it.
      export: async function* (subjectId) {
        for (const item of favourites.get(subjectId) ?? []) yield { item };
      },
      erase: (subjectId) => {
        if (failing) throw new Error("favourites database is down");
        const count = favourites.get(subjectId)?.length ?? 0;
        favourites.delete(subjectId);
        return count;
      },
    });
  });
  beforeEach(() => {
    user = `subject-${++n}`;
    other = `other-${n}`;
    failing = false;
    clock.set("2026-01-31T10:00:00Z");
  });

  const play = (who: string) =>
    request(t.app).post("/api/plays").set(eu(who)).send({ itemId: "trk", action: "play", durationMs: 1234 });
  const exportOf = async (who: string, query = "", headers: Record<string, string> = {}) => {
    const res = await asText(request(t.app).get(`/privacy/export${query}`).set(eu(who, headers)));
    assert.equal(res.status, 200, String(res.body));
    assert.match(
      res.headers["content-disposition"] ?? "",
      /^attachment; filename="?consentgate-export-2026-\d\d-\d\d\.json/,
    );
    return JSON.parse(res.body as string);
  };

  test("GET /consents shows each purpose's effective decision and its source", async () => {
    await grant(t.app, eu(user), "personalization").expect(200);
    const res = await request(t.app).get("/privacy/consents").set(eu(user)).expect(200);
    const byPurpose = Object.fromEntries(res.body.purposes.map((p: { purpose: string }) => [p.purpose, p]));
    assert.equal(res.body.region, "EU");
    assert.deepEqual([byPurpose.personalization.granted, byPurpose.personalization.source], [true, "explicit"]);
    assert.deepEqual([byPurpose.advertising.granted, byPurpose.advertising.source], [false, "region-default"]);
    assert.deepEqual(
      [byPurpose.service.granted, byPurpose.service.source, byPurpose.service.legalBasis],
      [true, "legal-basis", "contract"],
    );
  });

  test("receipts verify with the secret and fail when tampered with", async () => {
    const receipt: Receipt = (await grant(t.app, eu(user), "advertising").expect(200)).body;
    assert.equal(receipt.purpose, "advertising");
    assert.equal(receipt.policyVersion, "test-1");
    assert.equal(receipt.region, "EU");
    const signer = testSigner();
    assert.equal(verifyReceipt(signer, receipt), true);
    assert.equal(verifyReceipt(signer, { ...receipt, granted: false }), false);
    assert.equal(verifyReceipt(signer, { ...receipt, subject: other }), false);
    assert.equal(verifyReceipt(testSigner("another-secret-another-secret-1234"), receipt), false);
    // Withdrawing is the same route and the same body shape.
    const withdrawal: Receipt = (await withdraw(t.app, eu(user), "advertising").expect(200)).body;
    assert.equal(withdrawal.granted, false);
    assert.equal(verifyReceipt(signer, withdrawal), true);
  });

  test("PUT /consents validates its body and stores nothing on bad input", async () => {
    for (const body of [{}, { granted: "yes" }, { granted: true, subject: other }, [true]]) {
      const res = await request(t.app)
        .put("/privacy/consents/personalization")
        .set(eu(user))
        .send(body as object);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, "invalid_body");
    }
    const res = await request(t.app)
      .put("/privacy/consents/personalization")
      .set({ ...eu(user), "content-type": "application/json" })
      .send("{nope");
    assert.equal(res.body.error.code, "invalid_body");
    assert.deepEqual(await t.gate.store.consents.history(user), []);
  });

  test("export holds consents with receipts, interactions with provenance, requests, data sources and purpose facts", async () => {
    await grant(t.app, eu(user), "personalization").expect(200);
    await play(user).expect(201);
    favourites.set(user, ["a", "b"]);
    const doc = await exportOf(user);
    assert.equal(doc.format, "consentgate-export/1");
    assert.equal(doc.subject, user);
    assert.deepEqual(doc.purposes.personalization, {
      description: "Recommend music from recent listening",
      legalBasis: "consent",
      saleOrShare: false,
      sensitive: false,
      retention: "90d",
      window: 5,
      decision: { granted: true, source: "explicit" },
    });
    assert.equal(doc.consents.history.length, 1);
    assert.equal(verifyReceipt(testSigner(), doc.consents.history[0]), true, "exported receipts still verify");
    assert.equal(doc.interactions.personalization.length, 1);
    assert.deepEqual(doc.interactions.personalization[0].data, { itemId: "trk", action: "play", durationMs: 1000 });
    assert.equal(doc.interactions.personalization[0].provenance.receiptId, doc.consents.history[0].id);
    assert.deepEqual(doc.dataSources.favourites, [{ item: "a" }, { item: "b" }]);
    assert.equal(doc.requests.length, 1);
    assert.equal(doc.requests[0].type, "export");
    // GDPR "one month" from 31 January is the last day of February.
    assert.equal(doc.request.dueAt, "2026-02-28T10:00:00.000Z");
    const status = await request(t.app).get(`/privacy/requests/${doc.request.id}`).set(eu(user)).expect(200);
    assert.equal(status.body.status, "completed");
    assert.equal(status.body.dueAt, "2026-02-28T10:00:00.000Z");
    assert.equal(status.body.overdue, false);
  });

  test("erasure removes everything, returns a signed certificate, and later writes need consent again", async () => {
    await grant(t.app, eu(user), "personalization").expect(200);
    await play(user).expect(201);
    await request(t.app).post("/api/service").set(eu(user)).send({ itemId: "x" }).expect(201);
    favourites.set(user, ["a"]);
    await exportOf(user);
    const certificate = (await request(t.app).delete("/privacy/data").set(eu(user)).expect(200)).body;
    assert.equal(certificate.status, "completed");
    assert.deepEqual(certificate.erased.tables, {
      interactions: 2,
      interactionWindows: 2,
      consentEvents: 1,
      consentState: 1,
      privacyRequests: 1,
      telemetryReports: 0,
      learningUpdates: 0,
    });
    assert.deepEqual(certificate.erased.dataSources, { favourites: 1 });
    assert.equal(testSigner().check(certificate).valid, true);

    await play(user).expect(403);
    const doc = await exportOf(user);
    assert.deepEqual(doc.consents, { current: {}, history: [] });
    assert.deepEqual(Object.values(doc.interactions).flat(), []);
    assert.deepEqual(doc.dataSources.favourites, []);
    assert.deepEqual(
      doc.requests.map((r: { type: string }) => r.type).sort(),
      ["erasure", "export"],
      "only the erasure request and this export's own request remain",
    );
  });

  test("a failing data source leaves the erasure partial, recorded, and retried until complete", async () => {
    favourites.set(user, ["a", "b", "c"]);
    failing = true;
    const certificate = (await request(t.app).delete("/privacy/data").set(eu(user)).expect(200)).body;
    assert.equal(certificate.status, "partial");
    assert.equal(certificate.completedAt, null);
    assert.deepEqual(
      certificate.failures.map((f: { dataSource: string; reason: string }) => [f.dataSource, f.reason]),
      [["favourites", "data_source_failed"]],
    );
    const status = await request(t.app).get(`/privacy/requests/${certificate.requestId}`).set(eu(user)).expect(200);
    assert.equal(status.body.status, "partial");

    failing = false;
    await t.gate.runJob("erasure-retry");
    const done = await request(t.app).get(`/privacy/requests/${certificate.requestId}`).set(eu(user)).expect(200);
    assert.equal(done.body.status, "completed");
    assert.deepEqual(done.body.details.erased.dataSources, { favourites: 3 });
    assert.equal(favourites.has(user), false);
  });

  test("a subject can never reach another subject's data", async () => {
    await grant(t.app, eu(other), "personalization").expect(200);
    await play(other).expect(201);
    const theirExport = await exportOf(other);
    for (const [method, path] of [
      ["get", "/privacy/consents"],
      ["get", "/privacy/export"],
      ["delete", "/privacy/data"],
      ["get", "/privacy/requests"],
      ["put", "/privacy/consents/personalization"],
    ] as const) {
      const res = await request(t.app)[method](`${path}?subject=${other}`).set(eu(user)).send({ granted: false });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.error.code, "forbidden");
    }
    const peek = await request(t.app).get(`/privacy/requests/${theirExport.request.id}`).set(eu(user));
    assert.equal(peek.status, 404);
    assert.equal(peek.body.error.code, "not_found");
    for (const id of ["not-a-uuid", "' OR 1=1 --", "x".repeat(300)]) {
      const res = await request(t.app)
        .get(`/privacy/requests/${encodeURIComponent(id)}`)
        .set(eu(user));
      assert.equal(res.status, 404, id);
      assert.equal(res.body.error.code, "not_found");
    }
    assert.equal((await t.gate.store.interactions.forSubject(other)).length, 1, "their data is untouched");
    assert.equal((await t.gate.store.consents.current(other)).personalization?.granted, true);
  });

  test("an agent acts for a named subject and is recorded as the actor", async () => {
    await grant(t.app, eu(other), "personalization").expect(200);
    const agent = roles("agent");
    const consents = await request(t.app)
      .get(`/privacy/consents?subject=${other}`)
      .set(eu("agent-1", agent))
      .expect(200);
    const ambiguous = await request(t.app)
      .get(`/privacy/consents?subject=${other}&subject=${user}`)
      .set(eu("agent-1", agent));
    assert.equal(ambiguous.status, 400);
    assert.equal(ambiguous.body.error.code, "invalid_body");
    assert.equal(consents.body.subject, other);
    const doc = await exportOf("agent-1", `?subject=${other}`, agent);
    assert.equal(doc.subject, other);
    const status = await request(t.app)
      .get(`/privacy/requests/${doc.request.id}?subject=${other}`)
      .set(eu("agent-1", agent))
      .expect(200);
    assert.equal(status.body.actorId, "agent-1");
    await request(t.app)
      .put(`/privacy/consents/personalization?subject=${other}`)
      .set(eu("agent-1", agent))
      .send({ granted: false })
      .expect(200);
    const [, withdrawal] = await t.gate.store.consents.history(other);
    assert.equal(withdrawal!.actorId, "agent-1");
  });

  test("anonymous callers get 401 on every subject route; unknown routes 404", async () => {
    for (const [method, path] of [
      ["get", "/privacy/consents"],
      ["put", "/privacy/consents/personalization"],
      ["get", "/privacy/export"],
      ["delete", "/privacy/data"],
      ["get", "/privacy/requests"],
      ["get", "/privacy/requests/x"],
    ] as const) {
      const res = await request(t.app)[method](path).send({ granted: true });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.body.error.code, "unauthenticated");
    }
    const res = await request(t.app).get("/privacy/nothing-here").set(eu(user));
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, "not_found");
  });

  test("registerDataSource refuses bad and duplicate sources", () => {
    assert.throws(
      () => t.gate.registerDataSource({ name: "favourites", export: () => [], erase: () => 0 }),
      /registered already/,
    );
    assert.throws(
      () => t.gate.registerDataSource({ name: "bad name!", export: () => [], erase: () => 0 }),
      /name must be/,
    );
    assert.throws(() => t.gate.registerDataSource({ name: "noerase", export: () => [] } as never), /must be functions/);
  });
});
