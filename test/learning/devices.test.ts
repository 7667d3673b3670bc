/**
 * Devices and the server together: real `createDeviceRecommender`s (the
 * consentgate/client module, in Node, memory storage, the global fetch)
 * against a real gate over HTTP. Each device keeps its own plays, two
 * groups of listeners with opposite tastes; they contribute to rounds the
 * learning job publishes, and the model a device downloads next has learnt
 * the groups: a new listener of one group is recommended that group's
 * tracks. The server stores no play of anyone's.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import { createDeviceRecommender, type DeviceRecommender } from "../../src/client/index.ts";
import { hostApp, serve, testGate } from "../support/app.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { onDevicePolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { asText, ca } from "../support/subjects.ts";

const ROCK = Array.from({ length: 10 }, (_, i) => `rock-${i}`);
const JAZZ = Array.from({ length: 10 }, (_, i) => `jazz-${i}`);
const DEVICES = 40;

const policies = onDevicePolicy({
  dimensions: 8,
  round: { minClients: DEVICES, maxOpen: "1d" },
  // Little noise and a large budget: this test is about devices and server working together, not privacy.
  noise: 0.001,
  learningRate: 100,
  budget: { epsilon: 1e7, delta: 1e-6 },
});

describe(`devices training a recommender with the server, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  test("40 devices of two tastes, three rounds: a new rock listener is recommended mostly rock, and no play is on the server", async () => {
    const db = await testDatabase(suite);
    const gate = await testGate(suite, { database: db.option, policies });
    await gate.learning.define("recommender", { items: () => [...ROCK, ...JAZZ] });
    const app = hostApp(gate);
    const origin = await serve(suite, app);
    // US-CA is opt-out: the purpose is allowed until a listener objects.
    const device = (id: string): DeviceRecommender =>
      createDeviceRecommender({ api: `${origin}/privacy`, model: "recommender", headers: ca(id) });
    const listeners = Array.from({ length: DEVICES }, (_, i) => {
      const tracks = i % 2 === 0 ? ROCK : JAZZ;
      return {
        id: `listener-${i}`,
        recommender: device(`listener-${i}`),
        plays: tracks.filter((_, t) => (t + i) % 3 !== 0),
      };
    });
    for (const { recommender, plays } of listeners) for (const track of plays) await recommender.observe(track);

    for (let round = 1; round <= 3; round++) {
      const results = await Promise.all(listeners.map(({ recommender }) => recommender.contribute()));
      for (const result of results) assert.deepEqual("round" in result && result.round, round, JSON.stringify(result));
      // A second contribution to the same round sends nothing.
      assert.deepEqual(await listeners[0]!.recommender.contribute(), { skipped: "already_contributed", round });
      const ran = await gate.runJob("learning");
      assert.equal(ran.models[0]?.outcome, "published", JSON.stringify(ran));
      assert.equal(ran.models[0]?.participants, DEVICES);
    }
    assert.equal((await gate.learning.status("recommender")).version, 4);

    const newcomer = device("newcomer");
    for (const track of ROCK.slice(0, 3)) await newcomer.observe(track);
    const recommended = await newcomer.recommend(5);
    assert.equal(recommended.length, 5);
    assert.ok(!recommended.some((item) => ROCK.slice(0, 3).includes(item)), "nothing already played");
    // The model learnt the groups: the three best are rock, and rock outnumbers jazz (noise may let one jazz track in).
    const rock = recommended.filter((item) => item.startsWith("rock-"));
    assert.ok(
      recommended.slice(0, 3).every((item) => item.startsWith("rock-")) && rock.length >= 4,
      `a rock listener got ${recommended.join(", ")}`,
    );

    // The server holds no play: the interactions store is empty, and a device's export lists no update left.
    assert.deepEqual(await gate.store.interactions.countByPurpose(), {});
    const exported = JSON.parse(
      (await asText(request(app).get("/privacy/export").set(ca("listener-0"))).expect(200)).body,
    );
    assert.deepEqual(exported.learning, []);
    assert.deepEqual(exported.interactions["on-device"] ?? [], []);
  });
});
