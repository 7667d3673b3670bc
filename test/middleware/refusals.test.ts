/**
 * A refused write's message names the rule that refused it and the step that
 * would change the answer (docs/decision-rules.md). Codes and statuses are
 * the same for every refusal: consent_required, 403.
 */
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import request from "supertest";
import { sharedTestApp } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";

describe(`refusal messages on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const t = sharedTestApp();
  let user = "";
  let n = 0;
  beforeEach(() => {
    user = `refused-${++n}`;
  });

  async function refused(path: string, headers: Record<string, string>) {
    const res = await request(t.app).post(path).set(headers).send({ itemId: "trk_1" }).expect(403);
    assert.equal(res.body.error.code, "consent_required");
    return res.body.error as { message: string; purpose: string; region: string };
  }

  test("an anonymous caller in an opt-in region is told to sign in first, not sent to an endpoint that answers 401", async () => {
    const error = await refused("/api/plays", { "x-region": "DE" });
    assert.equal(error.region, "EU");
    assert.match(error.message, /anonymous: sign in first, then give it with PUT \/consents\/personalization/);
    // The step it names really does answer 401 to this caller.
    await request(t.app)
      .put("/privacy/consents/personalization")
      .set({ "x-region": "DE" })
      .send({ granted: true })
      .expect(401);
  });

  test("a Californian who turned personalization off is told they opted out there, not that consent is needed", async () => {
    await request(t.app)
      .put("/privacy/consents/personalization")
      .set({ "x-user": user, "x-region": "US-CA" })
      .send({ granted: false })
      .expect(200);
    const error = await refused("/api/plays", { "x-user": user, "x-region": "US-CA" });
    assert.equal(error.region, "US-CA");
    assert.match(
      error.message,
      /^collecting data for "personalization" is refused: the user opted out of it in region US-CA; they can opt back in with PUT \/consents\/personalization/,
    );
    assert.doesNotMatch(error.message, /needs the user's consent/);
  });

  test("a European who withdrew consent is told they withdrew it", async () => {
    await request(t.app)
      .put("/privacy/consents/personalization")
      .set({ "x-user": user, "x-region": "DE" })
      .send({ granted: true })
      .expect(200);
    await request(t.app)
      .put("/privacy/consents/personalization")
      .set({ "x-user": user, "x-region": "DE" })
      .send({ granted: false })
      .expect(200);
    const error = await refused("/api/plays", { "x-user": user, "x-region": "DE" });
    assert.match(error.message, /the user withdrew or declined their consent in region EU/);
  });

  test("a signed-in European who has not chosen yet is told consent is needed and where to give it", async () => {
    const error = await refused("/api/plays", { "x-user": user, "x-region": "DE" });
    assert.equal(
      error.message,
      `collecting data for "personalization" needs the user's consent in region EU; they can give it with PUT /consents/personalization on the privacy router`,
    );
  });

  test("a Californian browser sending GPC is told the signal refused the sale or sharing, and how to override it", async () => {
    const error = await refused("/api/ads/click", { "x-user": user, "x-region": "US-CA", "sec-gpc": "1" });
    assert.equal(error.purpose, "advertising");
    assert.match(error.message, /Global Privacy Control/);
    assert.match(error.message, /"overrideGpc": true/);
  });
});
