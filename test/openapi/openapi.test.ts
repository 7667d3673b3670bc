/**
 * gate.openapi() and GET /openapi.json, through the public surface: the
 * document is valid OpenAPI 3.1; every route the router answers (found by
 * walking the router's own stack, not a list kept here) is described; every
 * error a route really answers, provoked over HTTP, is listed in the document
 * for that route; real answers parse with the schemas the document is built
 * from, losing nothing; and the served document names its own mount.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { validate } from "@readme/openapi-parser";
import type { Express } from "express";
import type { Store } from "express-rate-limit";
import request from "supertest";
import type { z } from "zod";
import { encodeFloat32 } from "../../src/client/index.ts";
import type { Consentgate, OpenApiDocument } from "../../src/index.ts";
import * as schemas from "../../src/openapi/schemas.ts";
import { testGate } from "../support/app.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { express } from "../support/express.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { DPO, agent, asText, eu, grant } from "../support/subjects.ts";

const ITEMS = ["track-0", "track-1", "track-2"];
const DIMENSIONS = 2;
const update = (round: number) => ({
  round,
  delta: encodeFloat32(new Float32Array(ITEMS.length * DIMENSIONS).fill(0.01)),
});

const policies = testPolicy({
  purposes: {
    diagnostics: { description: "Learn which genres listeners skip", legalBasis: "consent" },
    "on-device": {
      description: "Recommend music on your device",
      legalBasis: "consent",
      learning: {
        model: "recommender",
        dimensions: DIMENSIONS,
        round: { minClients: 3, maxOpen: "1d" },
        clip: 1,
        aggregation: "mean",
        noise: 1,
        budget: { epsilon: 10, delta: 1e-6 },
      },
    },
  },
  telemetry: {
    skips: { purpose: "diagnostics", epsilon: 4, sketch: { hashes: 4, width: 16 }, limit: { reports: 1, per: "1d" } },
  },
});

/**
 * A rate-limit store that counts nobody over the limit, except the caller "over-limit" (always over it)
 * and "store-down" (whose count fails), so one gate shows both answers of the limiter.
 */
const limitStore = (): Store => ({
  async increment(key) {
    if (key.includes("store-down")) throw new Error("the limit store is down");
    return { totalHits: key.includes("over-limit") ? 1_000_000 : 1, resetTime: new Date(Date.now() + 60_000) };
  },
  async decrement() {},
  async resetKey() {},
});

/** The codes every route lists: the body parser's, and what nobody planned for. */
const GENERIC = ["invalid_body", "payload_too_large", "internal"];

/** An OpenAPI path template as a pattern over concrete paths. */
const pattern = (template: string) => new RegExp(`^${template.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`);

/** The first described route (in the router's order) that a concrete method and path reach. */
function describedRoute(document: OpenApiDocument, method: string, path: string) {
  const bare = path.split("?")[0] as string;
  const template = Object.keys(document.paths).find(
    (t) => pattern(t).test(bare) && document.paths[t]?.[method.toLowerCase()] !== undefined,
  );
  assert.ok(template, `${method} ${bare} is not described`);
  return {
    template,
    operation: document.paths[template]?.[method.toLowerCase()] as {
      responses: Record<string, { "x-error-codes"?: string[] }>;
    },
  };
}

type Layer = {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  match(path: string): unknown;
};

/**
 * Every method and path the router answers, from its stack: its routes, and those of the routers
 * mounted in it. A mounted router's path is not kept by Express 5, so it is found among the first
 * segments of the documented paths; a router mounted anywhere else fails the test.
 */
function routesOf(router: { stack: Layer[] }, documented: string[], prefix = ""): string[] {
  const mounts = [...new Set(documented.map((path) => `/${path.split("/")[1]}`))];
  return router.stack.flatMap((layer) => {
    if (layer.route) {
      const path = prefix + layer.route.path.replace(/:(\w+)/g, "{$1}");
      return Object.keys(layer.route.methods)
        .filter((method) => method !== "_all")
        .map((method) => `${method.toUpperCase()} ${path}`);
    }
    const stack = layer.handle.stack;
    if (!stack) return [];
    const mount = mounts.find((candidate) => layer.match(candidate));
    assert.ok(mount, "a router is mounted at a path no documented route starts with");
    return routesOf({ stack }, documented, prefix + mount);
  });
}

/** The app the tests call: only the router, at /privacy, so that its own body parser and error answers are seen. */
function mountedAt(gate: Consentgate, path: string): Express {
  const app = express();
  app.use(path, gate.router());
  return app;
}

describe(`the OpenAPI document of gate.router() on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let gate: Consentgate;
  let app: Express;
  let document: OpenApiDocument;

  before(async () => {
    const db = await testDatabase(suite);
    gate = await testGate(suite, { database: db.option, policies, limits: { store: limitStore } });
    await gate.learning.define("recommender", { items: () => ITEMS });
    app = mountedAt(gate, "/privacy");
    document = gate.openapi({ basePath: "/privacy" });
  });

  test("the document is valid OpenAPI 3.1, served from the router's mount", async () => {
    assert.match(document.openapi, /^3\.1\.\d+$/);
    assert.deepEqual(document.servers, [{ url: "/privacy" }]);
    const result = await validate(structuredClone(document) as never);
    assert.deepEqual(result, { valid: true, warnings: [], specification: "OpenAPI" });
    assert.deepEqual(gate.openapi().servers, [{ url: "/" }]);
    assert.throws(() => gate.openapi({ basePath: "privacy" }), { code: "invalid_option" });
  });

  test("every route the router answers is described, with its method", () => {
    const documented = Object.keys(document.paths);
    const served = routesOf(gate.router() as unknown as { stack: Layer[] }, documented);
    assert.ok(served.includes("PUT /consents/{purpose}") && served.includes("GET /admin/report/{region}"));
    for (const route of served) {
      const [method, path] = route.split(" ") as [string, string];
      assert.ok(document.paths[path]?.[method.toLowerCase()], `${route} is answered by the router but not described`);
    }
  });

  test("GET /openapi.json serves the document naming the mount it was reached through", async () => {
    const nested = express();
    nested.use("/api/v1/privacy", gate.router());
    const res = await request(nested).get("/api/v1/privacy/openapi.json").expect(200);
    assert.deepEqual(res.body, gate.openapi({ basePath: "/api/v1/privacy" }));
    const root = await request(mountedAt(gate, "/")).get("/openapi.json").expect(200);
    assert.deepEqual(root.body.servers, [{ url: "/" }]);
  });

  // Each error a route can be made to answer: the status and code that come back must be in the
  // document for that route. Run in order (the later learning and telemetry cases build on the earlier).
  const alice = eu("alice");
  const bob = eu("bob");
  /** Two more devices send round 1 its third update, the learning job closes it, and frank (granted) is too late. */
  const closeFirstRound = async () => {
    for (const id of ["dave", "erin", "frank"]) await grant(app, eu(id), "on-device").expect(200);
    for (const id of ["dave", "erin"])
      await request(app).post("/privacy/learning/recommender/updates").set(eu(id)).send(update(1)).expect(202);
    await gate.runJob("learning");
  };
  const cases: {
    name: string;
    setup?: () => Promise<void>;
    method: string;
    path: string;
    who?: object;
    body?: unknown;
    raw?: string;
    code: string;
  }[] = [
    { name: "anonymous", method: "GET", path: "/consents", code: "unauthenticated" },
    { name: "?subject= without agent", method: "GET", path: "/consents?subject=bob", who: alice, code: "forbidden" },
    { name: "an empty ?subject=", method: "GET", path: "/consents?subject=", who: agent("a"), code: "invalid_body" },
    { name: "over the rate limit", method: "GET", path: "/consents", who: eu("over-limit"), code: "too_many_requests" },
    {
      name: "a failing limit store",
      method: "GET",
      path: "/consents",
      who: eu("store-down"),
      code: "consent_unavailable",
    },
    {
      name: "a wrong body",
      method: "PUT",
      path: "/consents/analytics",
      who: alice,
      body: { granted: "yes" },
      code: "invalid_body",
    },
    { name: "malformed JSON", method: "PUT", path: "/consents/analytics", who: alice, raw: "{", code: "invalid_body" },
    {
      name: "over 16 KiB",
      method: "PUT",
      path: "/consents/analytics",
      who: alice,
      body: { granted: true, pad: "x".repeat(20_000) },
      code: "payload_too_large",
    },
    {
      name: "a purpose the policy lacks",
      method: "PUT",
      path: "/consents/nope",
      who: alice,
      body: { granted: true },
      code: "unknown_purpose",
    },
    {
      name: "over the rate limit",
      method: "PUT",
      path: "/consents/analytics",
      who: eu("over-limit"),
      body: { granted: true },
      code: "too_many_requests",
    },
    { name: "anonymous", method: "GET", path: "/export", code: "unauthenticated" },
    {
      name: "a failing limit store",
      method: "GET",
      path: "/export",
      who: eu("store-down"),
      code: "consent_unavailable",
    },
    { name: "anonymous", method: "DELETE", path: "/data", code: "unauthenticated" },
    { name: "?subject= without agent", method: "DELETE", path: "/data?subject=bob", who: alice, code: "forbidden" },
    { name: "anonymous", method: "GET", path: "/requests", code: "unauthenticated" },
    {
      name: "another subject's request",
      method: "GET",
      path: "/requests/5d3c2a1e-0000-4000-8000-000000000000",
      who: alice,
      code: "not_found",
    },
    { name: "a k that is not a number", method: "GET", path: "/insights/popular?k=ten", code: "invalid_body" },
    { name: "an insight never released", method: "GET", path: "/insights/nope", code: "not_found" },
    {
      name: "a metric the policy lacks",
      method: "POST",
      path: "/telemetry/nope",
      who: alice,
      body: { hash: 0, index: 0, bit: 1 },
      code: "not_found",
    },
    {
      name: "anonymous",
      method: "POST",
      path: "/telemetry/skips",
      body: { hash: 0, index: 0, bit: 1 },
      code: "unauthenticated",
    },
    {
      name: "not a record",
      method: "POST",
      path: "/telemetry/skips",
      who: alice,
      body: { hash: 0, index: 0, bit: 0 },
      code: "invalid_body",
    },
    {
      name: "the purpose denied",
      method: "POST",
      path: "/telemetry/skips",
      who: bob,
      body: { hash: 0, index: 0, bit: 1 },
      code: "consent_required",
    },
    {
      name: "past the metric's limit",
      method: "POST",
      path: "/telemetry/skips",
      who: alice,
      body: { hash: 1, index: 2, bit: -1 },
      code: "report_limit",
    },
    { name: "no such client file", method: "GET", path: "/learning/nope.js", code: "not_found" },
    { name: "anonymous", method: "GET", path: "/learning/recommender", code: "unauthenticated" },
    { name: "a model the policy lacks", method: "GET", path: "/learning/nope", who: alice, code: "not_found" },
    {
      name: "anonymous",
      method: "POST",
      path: "/learning/recommender/updates",
      body: update(1),
      code: "unauthenticated",
    },
    {
      name: "a model the policy lacks",
      method: "POST",
      path: "/learning/nope/updates",
      who: alice,
      body: update(1),
      code: "not_found",
    },
    {
      name: "a delta of the wrong size",
      method: "POST",
      path: "/learning/recommender/updates",
      who: alice,
      body: { round: 1, delta: "AAAA" },
      code: "invalid_body",
    },
    {
      name: "the purpose denied",
      method: "POST",
      path: "/learning/recommender/updates",
      who: bob,
      body: update(1),
      code: "consent_required",
    },
    {
      name: "a round that does not exist yet",
      method: "POST",
      path: "/learning/recommender/updates",
      who: alice,
      body: update(7),
      code: "invalid_body",
    },
    {
      name: "a second update to the round",
      method: "POST",
      path: "/learning/recommender/updates",
      who: alice,
      body: update(1),
      code: "already_reported",
    },
    {
      name: "a round the job closed",
      setup: closeFirstRound,
      method: "POST",
      path: "/learning/recommender/updates",
      who: eu("frank"),
      body: update(1),
      code: "round_closed",
    },
    { name: "anonymous", method: "GET", path: "/admin/compliance/EU", code: "unauthenticated" },
    { name: "no role dpo", method: "GET", path: "/admin/compliance/EU", who: alice, code: "forbidden" },
    { name: "a region the policy lacks", method: "GET", path: "/admin/compliance/XX", who: DPO, code: "not_found" },
    { name: "no role dpo", method: "GET", path: "/admin/compliance/EU/verify", who: alice, code: "forbidden" },
    {
      name: "a from that is not a date",
      method: "GET",
      path: "/admin/report/EU?from=soon",
      who: DPO,
      code: "invalid_body",
    },
    { name: "anonymous", method: "GET", path: "/admin/report/EU", code: "unauthenticated" },
    { name: "no candidates", method: "GET", path: "/admin/telemetry/skips", who: DPO, code: "invalid_body" },
    {
      name: "a metric the policy lacks",
      method: "GET",
      path: "/admin/telemetry/nope?candidates=a",
      who: DPO,
      code: "not_found",
    },
    { name: "no role dpo", method: "GET", path: "/admin/learning/recommender", who: alice, code: "forbidden" },
    { name: "a model the policy lacks", method: "GET", path: "/admin/learning/nope", who: DPO, code: "not_found" },
  ];

  test("every error a route answers is listed for it in the document", async () => {
    // What the later cases need: alice may report and train, and has sent her one report and update.
    await grant(app, alice, "diagnostics").expect(200);
    await grant(app, alice, "on-device").expect(200);
    await request(app).post("/privacy/telemetry/skips").set(alice).send({ hash: 0, index: 1, bit: 1 }).expect(202);
    await request(app).post("/privacy/learning/recommender/updates").set(alice).send(update(1)).expect(202);

    const seen = new Set<string>();
    const provoked = new Set<string>();
    for (const c of cases) {
      await c.setup?.();
      let call = request(app)
        [c.method.toLowerCase() as "get"](`/privacy${c.path}`)
        .set({ ...c.who });
      if (c.raw !== undefined) call = call.set("content-type", "application/json").send(c.raw);
      else if (c.body !== undefined) call = call.send(c.body as object);
      const res = await call;
      const what = `${c.method} ${c.path} (${c.name})`;
      assert.equal(res.body?.error?.code, c.code, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
      schemas.errorBody.parse(res.body);
      const { template, operation } = describedRoute(document, c.method, c.path);
      provoked.add(`${c.method} ${template}`);
      const listed = operation.responses[String(res.status)]?.["x-error-codes"] ?? [];
      assert.ok(listed.includes(c.code), `${what} answered ${res.status} ${c.code}, which the document does not list`);
      seen.add(c.code);
    }
    // Every route with errors of its own has at least one of them provoked here.
    const withErrors = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations as Record<string, { responses: Record<string, { "x-error-codes"?: string[] }> }>)
        .filter(([, op]) =>
          Object.values(op.responses).some((r) => r["x-error-codes"]?.some((code) => !GENERIC.includes(code))),
        )
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual(
      withErrors.filter((route) => !provoked.has(route)),
      [],
    );
    // Every code the router can send is provoked at least once (unmapped_write is the gate's, on the host's routes).
    const routerCodes = schemas.ERROR_CODES.filter((code) => code !== "unmapped_write" && code !== "internal");
    assert.deepEqual(
      routerCodes.filter((code) => !seen.has(code)),
      [],
    );
  });

  /** The schema's parse of `body`, which must keep every member: a member the schema lacks is drift. */
  const parsesWhole = (schema: z.ZodType, body: unknown) => assert.deepEqual(schema.parse(body), body);

  test("real answers parse with the document's schemas, losing nothing", async () => {
    const carol = eu("carol");
    const receipt = await grant(app, carol, "analytics").expect(200);
    parsesWhole(schemas.receipt, receipt.body);
    const byAgent = await request(app)
      .put("/privacy/consents/analytics?subject=carol")
      .set(agent("agent-1"))
      .send({ granted: false });
    parsesWhole(schemas.receipt, byAgent.body);
    parsesWhole(schemas.consentsList, (await request(app).get("/privacy/consents").set(carol).expect(200)).body);
    const exported = await asText(request(app).get("/privacy/export").set(carol).expect(200));
    parsesWhole(schemas.exportDocument, JSON.parse(exported.body as string));
    const requests = await request(app).get("/privacy/requests").set(carol).expect(200);
    parsesWhole(schemas.requestsList, requests.body);
    const first = requests.body.requests[0].id as string;
    parsesWhole(
      schemas.privacyRequest,
      (await request(app).get(`/privacy/requests/${first}`).set(carol).expect(200)).body,
    );
    parsesWhole(schemas.erasureCertificate, (await request(app).delete("/privacy/data").set(carol).expect(200)).body);
    parsesWhole(
      schemas.learningModel,
      (await request(app).get("/privacy/learning/recommender").set(alice).expect(200)).body,
    );
    parsesWhole(
      schemas.learningStatus,
      (await request(app).get("/privacy/admin/learning/recommender").set(DPO).expect(200)).body,
    );
    parsesWhole(
      schemas.verifyResult,
      (await request(app).get("/privacy/admin/compliance/EU/verify").set(DPO).expect(200)).body,
    );
    parsesWhole(schemas.regionReport, (await request(app).get("/privacy/admin/report/EU").set(DPO).expect(200)).body);
    const estimates = await request(app).get("/privacy/admin/telemetry/skips?candidates=a,b").set(DPO).expect(200);
    parsesWhole(schemas.telemetryFrequencies, estimates.body);
  });
});
