/**
 * The example's on-device mode over HTTP: the privacy router serves the
 * device client the page imports, a signed-in listener downloads the model,
 * and the home page switches to the module only for a listener who chose it.
 * The device client is served from dist/client: run `npx tsc -p
 * tsconfig.json` (CI's `npm run build`) before this file.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { Express } from "express";
import request from "supertest";
import { TRACKS } from "../../examples/music-app/catalog.ts";
import type { Consentgate } from "../../src/index.ts";
import { onPostgres } from "../support/database.ts";
import { exampleApp } from "../support/example.ts";
import { suiteScope } from "../support/scope.ts";

/** policies/purposes.yaml, on-device: learning.dimensions. */
const DIMENSIONS = 16;

describe(`the example's on-device mode on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let gate: Consentgate;
  let app: Express;

  before(async () => {
    ({ gate, app } = await exampleApp(suite));
  });

  async function listener(name: string, region: string) {
    const agent = request.agent(app);
    await agent.post("/signin").type("form").send({ name, region }).expect(303);
    return agent;
  }
  /** A delta of the model's length (items × dimensions float32, little-endian, base64), every value `value`. */
  const delta = (value: number) =>
    Buffer.from(new Float32Array(TRACKS.length * DIMENSIONS).fill(value).buffer).toString("base64");

  test("the privacy router serves the device client as a JavaScript module, and every file it imports", async () => {
    const client = await request(app)
      .get("/privacy/learning/client.js")
      .expect(200)
      .expect("content-type", /^text\/javascript/);
    assert.match(client.text, /export \{[^}]*\bcreateDeviceRecommender\b/);
    assert.match(client.text, /export \{[^}]*\bindexedDbStorage\b/);
    // The browser resolves the entry's relative imports beside it: each must be served too.
    const imported = new Set<string>();
    const pending = [client.text];
    while (pending.length > 0) {
      for (const [, file] of pending.pop()!.matchAll(/from "\.\/([a-z0-9-]+\.js)"/g)) {
        if (imported.has(file!)) continue;
        imported.add(file!);
        const response = await request(app)
          .get(`/privacy/learning/${file}`)
          .expect(200)
          .expect("content-type", /^text\/javascript/);
        pending.push(response.text);
      }
    }
    assert.ok(imported.has("recommender.js") && imported.has("storage.js"), [...imported].join(", "));
  });

  test("a signed-in listener downloads the model of the catalogue; an anonymous visitor cannot", async () => {
    await request(app).get("/privacy/learning/recommender").expect(401);
    const fay = await listener("fay", "DE");
    const model = (await fay.get("/privacy/learning/recommender").expect(200).expect("content-type", /json/)).body;
    assert.equal(model.model, "recommender");
    assert.equal(model.purpose, "on-device");
    assert.equal(model.status, "training");
    assert.equal(model.dimensions, DIMENSIONS);
    assert.equal(model.clip, 1);
    assert.deepEqual(
      model.items,
      TRACKS.map((t) => t.id),
    );
    assert.equal(Buffer.from(model.factors, "base64").length, TRACKS.length * DIMENSIONS * 4, "float32 per value");
  });

  test("an EU listener who chooses on-device gets the module page, and only then may contribute", async () => {
    const gus = await listener("gus", "DE");
    const before = await gus.get("/").expect(200);
    assert.match(before.headers["content-security-policy"] ?? "", /default-src 'self'/);
    assert.doesNotMatch(before.headers["content-security-policy"] ?? "", /unsafe-inline|unsafe-eval/);
    assert.match(before.text, /Recommend on this device only/);
    assert.match(before.text, /<script src="\/home\.js"><\/script>/);
    const { round } = (await gus.get("/privacy/learning/recommender").expect(200)).body;
    const refused = await gus.post("/privacy/learning/recommender/updates").send({ round, delta: delta(0.01) });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "consent_required");

    await gus.put("/privacy/consents/on-device").send({ granted: true }).expect(200);
    const after = await gus.get("/").expect(200);
    assert.match(after.text, /<script type="module" src="\/device\.js"><\/script>/);
    assert.doesNotMatch(after.text, /home\.js/);
    assert.match(after.text, /Your plays stay on this device/);
    assert.doesNotMatch(after.text, /data-action="like"/, "a like would be posted to the server");
    const module = await gus
      .get("/device.js")
      .expect(200)
      .expect("content-type", /^text\/javascript/);
    assert.match(module.text, /from "\/privacy\/learning\/client\.js"/);

    const accepted = await gus.post("/privacy/learning/recommender/updates").send({ round, delta: delta(0.01) });
    assert.equal(accepted.status, 202);
    assert.deepEqual(accepted.body, { round });
    const again = await gus.post("/privacy/learning/recommender/updates").send({ round, delta: delta(0.01) });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "already_reported");
    assert.equal((await gate.learning.status("recommender")).round?.pending, 1);
  });

  test("a Californian keeps the server-side mode although on-device is allowed there by default", async () => {
    const hal = await listener("hal", "US-CA");
    const page = await hal.get("/").expect(200);
    assert.match(page.text, /<script src="\/home\.js"><\/script>/);
    assert.match(page.text, /Recommend on this device only/);
    await hal.post("/api/plays").send({ itemId: "trk_10", action: "play", durationMs: 200_000 }).expect(201);
    assert.equal((await gate.store.interactions.countByPurpose("hal")).personalization, 1);
  });
});
