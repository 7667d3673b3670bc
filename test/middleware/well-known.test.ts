/**
 * gate.wellKnown(): the GPC support resource at /.well-known/gpc.json, in a
 * real Express app (4 or 5, see test/support/express.ts), checked against
 * the shape the W3C GPC specification gives it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import { z } from "zod";
import { type Consentgate, isConsentgateError } from "../../src/index.ts";
import { isFullDate } from "../../src/policy/schema.ts";
import { testGate } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { express, expressMajor } from "../support/express.ts";
import { problemsOf, testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";

/** W3C GPC, GPC Support Representation: a JSON object, gpc true, lastUpdate an RFC 3339 full-date; nothing else from us. */
const gpcSupport = z.strictObject({
  gpc: z.literal(true),
  lastUpdate: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .refine(isFullDate, "not a real day"),
});

/** The app's root: the resource first, then the gate and an app route of the host's own. */
function rootApp(gate: Consentgate) {
  const app = express();
  app.use(gate.wellKnown());
  app.use(express.json());
  app.use(gate.middleware());
  app.get("/", (_req, res) => void res.send("home"));
  app.use(gate.errorHandler());
  return app;
}

describe(`GET /.well-known/gpc.json on Express ${expressMajor}, ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();

  test("a policy with a GPC region and gpcLastUpdate: the statement, as application/json, cacheable", async () => {
    const gate = await testGate(suite, { policies: testPolicy({ gpcLastUpdate: "2026-10-15" }) });
    const app = rootApp(gate);

    const res = await request(app).get("/.well-known/gpc.json").expect(200);
    assert.match(res.get("content-type") ?? "", /^application\/json\b/);
    assert.match(res.get("cache-control") ?? "", /max-age=\d+/);
    assert.deepEqual(gpcSupport.parse(JSON.parse(res.text)), { gpc: true, lastUpdate: "2026-10-15" });

    const head = await request(app).head("/.well-known/gpc.json").expect(200);
    assert.match(head.get("content-type") ?? "", /^application\/json\b/);
    assert.equal(head.text, undefined, "HEAD has no body");

    // Everything else goes on to the app: its own pages, and writes (no route here takes this one).
    assert.equal((await request(app).get("/").expect(200)).text, "home");
    const write = await request(app).post("/.well-known/gpc.json").send({});
    assert.equal(write.status, 404);
    assert.match(write.text, /Cannot POST/, "the resource does not answer a write: it reaches the app's own 404");
  });

  test("without gpcLastUpdate, a policy version that is a date is the day of the statement", async () => {
    const gate = await testGate(suite, { policies: testPolicy({ version: "2026-11-01" }) });
    const res = await request(rootApp(gate)).get("/.well-known/gpc.json").expect(200);
    assert.deepEqual(gpcSupport.parse(res.body), { gpc: true, lastUpdate: "2026-11-01" });
  });

  test("no region gives GPC a meaning: 404 not_found in the error body, no claim of support", async () => {
    const gate = await testGate(suite, {
      policies: testPolicy({ version: "2026-11-01", regions: { "US-CA": { gpc: undefined } } }),
    });
    const res = await request(rootApp(gate)).get("/.well-known/gpc.json").expect(404);
    assert.match(res.get("content-type") ?? "", /^application\/json\b/);
    assert.equal(res.body.error.code, "not_found");
    assert.match(res.body.error.message, /Global Privacy Control/);
    assert.equal(res.body.gpc, undefined);
  });

  test("a GPC region with no date to state: wellKnown() refuses at once with policy_invalid", async () => {
    // The test policy's version is "test-1", not a date.
    const gate = await testGate(suite);
    assert.throws(
      () => gate.wellKnown(),
      (error: unknown) =>
        isConsentgateError(error, "policy_invalid") &&
        /gpcLastUpdate: is missing; .*"test-1" is not a date, and US-CA honours GPC/.test(
          error.details.problems?.[0] ?? "",
        ),
    );
  });
});

describe("the policy's gpcLastUpdate", () => {
  test("must be a real day written YYYY-MM-DD", async () => {
    for (const [value, message] of [
      ["2026-02-30", '"2026-02-30" is not a date: write the day as "YYYY-MM-DD", e.g. "2026-11-01"'],
      ["1 Nov 2026", '"1 Nov 2026" is not a date: write the day as "YYYY-MM-DD", e.g. "2026-11-01"'],
      [20261101, 'must be a date in quotes, e.g. "2026-11-01"'],
    ] as const) {
      assert.deepEqual(await problemsOf(testPolicy({ gpcLastUpdate: value })), [`gpcLastUpdate: ${message}`]);
    }
  });

  test("isFullDate: RFC 3339 full-date of a day the calendar has", () => {
    for (const day of ["2026-11-01", "2024-02-29", "2000-02-29", "1999-12-31"]) assert.ok(isFullDate(day), day);
    for (const day of ["2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "2026-11-01T00:00:00Z"])
      assert.ok(!isFullDate(day), day);
  });
});
