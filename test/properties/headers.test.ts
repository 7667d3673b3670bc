/**
 * Property: whatever a client puts in the headers the gate reads (Sec-GPC,
 * the region header, the signed-in user), nothing crashes, every refusal is a
 * coded 4xx, and the decisions follow the rules: GPC counts only for the
 * exact value "1", an unknown region is the strictest default, and a write
 * is stored exactly when the rules allow it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import request from "supertest";
import { sharedTestApp } from "../support/app.ts";
import { RUNS, assertCoded4xx, headerValue, propertyParameters } from "../support/arbitraries.ts";
import { onPostgres } from "../support/database.ts";

/** One header as sent: absent, once, or repeated (the server then sees the values joined by ", "). */
type Sent = undefined | string | string[];

const gpcValue = fc.oneof(
  fc.constantFrom("1", " 1", "1 ", "\t1", "true", "0", "", "1, 1", "1,0", "yes", "01", "+1", "1.0"),
  headerValue,
);
const regionValue = fc.oneof(
  fc.constantFrom(
    "DE",
    "de",
    "FR",
    "fr-75",
    "US-CA",
    "us-ca",
    " US-CA ",
    "US",
    "US-NY",
    "XX",
    "EU",
    "OTHER",
    "US-CA, DE",
    "DE, US-CA",
    ",US-CA",
    "",
    "ß",
    "US-CA\t",
  ),
  headerValue,
);
const sent = (value: fc.Arbitrary<string>): fc.Arbitrary<Sent> =>
  fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 1 },
    { arbitrary: value, weight: 3 },
    { arbitrary: fc.array(value, { minLength: 2, maxLength: 3 }), weight: 1 },
  );

/** x-user: anonymous, empty, or a fresh id of this case with odd padding, characters or length. */
const userShape = fc.oneof(
  fc.constant({ kind: "absent" as const }),
  fc.constant({ kind: "empty" as const }),
  fc.record({
    kind: fc.constant("id" as const),
    pad: fc.constantFrom("", " ", "\t", "  "),
    tail: fc.oneof(
      fc.constant(""),
      headerValue.map((v) => v.slice(0, 60)),
    ),
    long: fc.nat({ max: 3000 }),
  }),
);

const routes = [
  "GET /privacy/consents",
  "POST /api/plays",
  "POST /api/ads/click",
  "GET /api/can/advertising",
  "GET /api/recommendations",
] as const;

/**
 * What the server sees of a header: the client sends UTF-8, Node reads the
 * bytes as Latin-1; surrounding spaces and tabs are stripped, repeats joined.
 */
function seen(value: Sent): string | undefined {
  if (value === undefined) return undefined;
  const trim = (v: string) =>
    Buffer.from(v, "utf8")
      .toString("latin1")
      .replace(/^[ \t]+|[ \t]+$/g, "");
  return Array.isArray(value) ? value.map(trim).join(", ") : trim(value);
}

/** The test policy's regions by the rule: first listed value, country or subdivision code, else EU (the default). */
function expectedRegion(header: string | undefined): string {
  const first = (header ?? "").split(",")[0]!.trim().toUpperCase();
  if (first === "US-CA") return "US-CA";
  return "EU";
}

describe(`property: random privacy headers, ${RUNS} cases, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const t = sharedTestApp();

  test("no crash, coded refusals, and decisions that follow the GPC and region rules", async () => {
    let n = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        sent(gpcValue),
        sent(regionValue),
        userShape,
        sent(headerValue),
        async (route, gpc, region, user, roles) => {
          const id = `hdr-${++n}`;
          const headers: Record<string, string | string[]> = {};
          if (gpc !== undefined) headers["sec-gpc"] = gpc;
          if (region !== undefined) headers["x-region"] = region;
          if (roles !== undefined) headers["x-roles"] = roles;
          if (user.kind === "empty") headers["x-user"] = "";
          if (user.kind === "id") headers["x-user"] = `${user.pad}${id}${"u".repeat(user.long)}${user.tail}${user.pad}`;
          const subject = seen(headers["x-user"]) || undefined;
          const gpcOn = seen(gpc) === "1";
          const inRegion = expectedRegion(seen(region));
          const context = `${route} ${JSON.stringify(headers).slice(0, 400)}`;

          const [method, path] = route.split(" ") as ["GET" | "POST", string];
          const before = t.seen.length;
          const res =
            method === "GET"
              ? await request(t.app).get(path).set(headers)
              : await request(t.app).post(path).set(headers).send({ itemId: "trk_1" });
          assert.ok(res.status < 500, `${context}: ${res.status} ${res.text.slice(0, 300)}`);
          if (res.status >= 400) assertCoded4xx(res.status, res.body, context);
          // The rights routes are rate-limited per subject, anonymous callers per address: every fresh
          // subject here is far below its limit, but all anonymous cases share one address.
          if (res.status === 429)
            return assert.equal(subject, undefined, `${context}: a fresh subject was rate-limited`);

          // What the rules say a new subject gets here (docs/decision-rules.md, for the test policy).
          const personalization = inRegion === "US-CA";
          const advertising = inRegion === "US-CA" && !gpcOn;
          switch (route) {
            case "GET /privacy/consents": {
              if (subject === undefined) return assert.equal(res.status, 401, context);
              assert.equal(res.status, 200, context);
              assert.equal(res.body.gpc, gpcOn, `${context}: gpc`);
              assert.equal(res.body.region, inRegion, `${context}: region`);
              const granted = Object.fromEntries(
                (res.body.purposes as { purpose: string; granted: boolean }[]).map((p) => [p.purpose, p.granted]),
              );
              assert.deepEqual(granted, { service: true, personalization, advertising, analytics: true }, context);
              return;
            }
            case "GET /api/can/advertising":
              assert.equal(res.status, 200, context);
              // For an anonymous visitor too: the region's default is the answer until someone signs in and chooses.
              return assert.equal(res.body.can, advertising, context);
            case "GET /api/recommendations":
              return assert.deepEqual([res.status, res.body], [200, []], context);
            default: {
              const allowed = route === "POST /api/plays" ? personalization : advertising;
              const purpose = route === "POST /api/plays" ? "personalization" : "advertising";
              const held =
                subject === undefined ? 0 : ((await t.gate.store.interactions.countByPurpose(subject))[purpose] ?? 0);
              if (!allowed) {
                assert.deepEqual([res.status, res.body.error?.code], [403, "consent_required"], context);
                assert.equal(t.seen.length, before, `${context}: a refused write reached its handler`);
              } else if (subject === undefined) {
                assert.deepEqual([res.status, res.body.error?.code], [401, "unauthenticated"], context);
              } else {
                assert.equal(res.status, 201, context);
              }
              assert.equal(held, res.status === 201 ? 1 : 0, `${context}: ${held} row(s) held after ${res.status}`);
            }
          }
        },
      ),
      propertyParameters(),
    );
    console.log(`# headers: ${RUNS} cases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
