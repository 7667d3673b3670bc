/**
 * Receipts name the agent who made a choice for a subject, inside what is
 * signed; receipts without an actor (the subject's own, and agents' receipts
 * signed before actors were) keep verifying.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import { type Receipt, verifyReceipt } from "../../src/rights/receipts.ts";
import { hmacReceipt, testApp, testSigner } from "../support/app.ts";
import { onPostgres, sqlClient, testDatabase } from "../support/database.ts";
import { agent, eu, grant, region } from "../support/subjects.ts";

const signer = testSigner();
const AGENT = agent("agent-7", region("DE"));

describe(`receipts and who made the choice, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("an agent's choice for a subject carries the agent in the signed receipt; the subject's own carries none", async (ctx) => {
    const t = await testApp(ctx);
    const byAgent: Receipt = (
      await request(t.app)
        .put("/privacy/consents/personalization?subject=alice")
        .set(AGENT)
        .send({ granted: true })
        .expect(200)
    ).body;
    assert.equal(byAgent.subject, "alice");
    assert.equal(byAgent.actor, "agent-7");
    assert.equal(verifyReceipt(signer, byAgent), true);
    const { actor: _actor, ...withoutActor } = byAgent;
    assert.equal(verifyReceipt(signer, withoutActor), false, "the actor is signed: dropping it breaks the signature");
    assert.equal(verifyReceipt(signer, { ...byAgent, actor: "agent-8" }), false, "so does naming another");

    const own: Receipt = (await grant(t.app, eu("alice"), "advertising").expect(200)).body;
    assert.equal("actor" in own, false);
    assert.equal(verifyReceipt(signer, own), true);

    const exported = (await request(t.app).get("/privacy/export").set(eu("alice")).expect(200)).body;
    assert.deepEqual(exported.consents.history, [byAgent, own], "the export rebuilds both receipts as issued");
    for (const receipt of exported.consents.history) assert.equal(verifyReceipt(signer, receipt), true);
  });

  test("an agent's HMAC receipt signed before actors were signed is exported as issued, without the actor, and verifies", {
    skip: !onPostgres && "needs a second connection to the gate's database",
  }, async (ctx) => {
    const db = await testDatabase(ctx);
    const t = await testApp(ctx, { database: db.option });
    const client = await sqlClient(ctx, db);
    const at = new Date("2026-01-05T10:00:00.000Z");
    const issued = hmacReceipt("bob", at);
    await client.query(
      `INSERT INTO consent_events (id, "subjectId", purpose, granted, "overrideGpc", gpc, region, "policyVersion", "actorId", signature, at) VALUES ($1, 'bob', 'personalization', true, false, false, 'EU', 'test-1', 'agent-old', $2, $3)`,
      [issued.id, issued.signature, at],
    );
    const exported = (await request(t.app).get("/privacy/export").set(eu("bob")).expect(200)).body;
    assert.deepEqual(exported.consents.history, [issued]);
    assert.equal(verifyReceipt(signer, exported.consents.history[0]), true);
  });
});
