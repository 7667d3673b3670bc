/**
 * The learning promises under concurrency, with exact counts afterwards:
 * - the budget is never overspent when two instances run the learning job
 *   at once, round after round (PostgreSQL; one gate on PGlite);
 * - an erasure racing the job's aggregation of the subject's round is
 *   complete: either the round was published first (the update was
 *   aggregated and is gone) or the erasure deleted it and the round counts
 *   one participant fewer, never both, never neither;
 * - an erasure, or a withdrawal of the purpose, racing the subject's own
 *   updates leaves none of them.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import request from "supertest";
import { encodeFloat32 } from "../../src/client/index.ts";
import type { Consentgate } from "../../src/index.ts";
import { hostApp, testGate } from "../support/app.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { onDevicePolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { asText, eu, grant, withdraw } from "../support/subjects.ts";

const on = onPostgres ? "PostgreSQL" : "PGlite";

const policyWith = (items: number, dimensions: number, minClients: number) =>
  // noise 1 is rho 1/2 a round: at budget epsilon 10, delta 1e-6, three rounds are epsilon 9.85, four 11.69.
  onDevicePolicy({ dimensions, round: { minClients, maxOpen: "1d" }, noise: 1, budget: { epsilon: 10, delta: 1e-6 } });

async function gates(
  suite: ReturnType<typeof suiteScope>,
  count: number,
  items: number,
  dimensions: number,
  minClients: number,
) {
  const db = await testDatabase(suite);
  const policies = policyWith(items, dimensions, minClients);
  const ids = Array.from({ length: items }, (_, i) => `item-${i}`);
  const made: { gate: Consentgate; app: ReturnType<typeof hostApp> }[] = [];
  for (let i = 0; i < count; i++) {
    const gate = await testGate(suite, { database: db.option, policies });
    await gate.learning.define("recommender", { items: () => ids });
    // An update of 2 000 × 16 values is 171 kB of JSON: more than express.json()'s default limit of 100 kB.
    made.push({ gate, app: hostApp(gate, undefined, { bodyLimit: "1mb" }) });
  }
  return made;
}

const delta = (values: number, seed: number) =>
  encodeFloat32(Float32Array.from({ length: values }, (_, i) => Math.sin(seed * 31 + i) * 0.05));

describe(`the learning budget raced by ${onPostgres ? "two instances" : "one instance running the job twice at once"} on ${on}`, () => {
  const suite = suiteScope();
  test("six full rounds, each closed by two concurrent job runs: exactly three are published, then training stops", async () => {
    const instances = await gates(suite, onPostgres ? 2 : 1, 8, 2, 4);
    const pick = (i: number) => instances[i % instances.length]!;
    let device = 0;
    const outcomes: string[] = [];
    for (let round = 1; round <= 6; round++) {
      const model = (await request(pick(0).app).get("/privacy/learning/recommender").set(eu("reader")).expect(200))
        .body;
      if (model.round === null) break;
      const posts = [];
      for (let i = 0; i < 4; i++) {
        const who = eu(`device-${device++}`);
        await grant(pick(i).app, who, "on-device").expect(200);
        posts.push(
          request(pick(i + 1).app)
            .post("/privacy/learning/recommender/updates")
            .set(who)
            .send({ round: model.round, delta: delta(16, device) }),
        );
      }
      for (const answer of await Promise.all(posts)) assert.equal(answer.status, 202, JSON.stringify(answer.body));
      const runs = await Promise.all([pick(0).gate.runJob("learning"), pick(1).gate.runJob("learning")]);
      outcomes.push(...runs.flatMap((r) => r.models.map((m) => m.outcome)));
    }
    const status = await pick(1).gate.learning.status("recommender");
    const published = status.rounds.filter((r) => r.status === "published");
    assert.equal(published.length, 3, JSON.stringify(outcomes));
    assert.equal(outcomes.filter((o) => o === "published").length, 3);
    assert.equal(outcomes.filter((o) => o === "stopped").length, 1, "the fourth full round stopped training, once");
    assert.equal(status.status, "stopped");
    assert.equal(status.spent.rho, 1.5);
    assert.ok(status.spent.epsilon <= 10, `epsilon ${status.spent.epsilon}`);
    assert.equal(status.version, 4);
  });
});

describe(`erasures racing the learning job on ${on}`, () => {
  const suite = suiteScope();
  test("an erasure during the round's aggregation: participants + the certificate's learningUpdates is exactly the round's size", async () => {
    // A model large enough that aggregating 12 updates takes a while (2 000 × 16 = 32 000 values each).
    const [instance, other = instance] = await gates(suite, onPostgres ? 2 : 1, 2000, 16, 10);
    const { gate, app } = instance!;
    // Three trials: the budget (epsilon 10 at noise 1) pays for three rounds.
    for (let trial = 0; trial < 3; trial++) {
      const model = (await request(app).get("/privacy/learning/recommender").set(eu("reader")).expect(200)).body;
      const devices = Array.from({ length: 12 }, (_, i) => eu(`trial-${trial}-device-${i}`));
      for (const [i, who] of devices.entries()) {
        await grant(app, who, "on-device").expect(200);
        await request(app)
          .post("/privacy/learning/recommender/updates")
          .set(who)
          .send({ round: model.round, delta: delta(32_000, trial * 100 + i) })
          .expect(202);
      }
      const victim = devices[trial]!;
      const [run, erasure] = await Promise.all([
        gate.runJob("learning"),
        // Through the other instance on PostgreSQL, at a different moment of the aggregation each trial.
        sleep(trial * 40).then(() => request(other!.app).delete("/privacy/data").set(victim).expect(200)),
      ]);
      const erased = erasure.body.erased.tables.learningUpdates as number;
      const result = run.models.find((m) => m.round === model.round);
      assert.ok(result, JSON.stringify(run));
      assert.equal(result.outcome, "published", JSON.stringify(run));
      assert.equal(result.participants! + erased, 12, `trial ${trial}: ${JSON.stringify({ result, erased })}`);
      const status = await gate.learning.status("recommender");
      assert.equal(status.rounds.find((r) => r.round === model.round)?.participants, result.participants);
      // Nothing of the round is left behind, the victim's update least of all.
      const exported = JSON.parse((await asText(request(app).get("/privacy/export").set(victim)).expect(200)).body);
      assert.deepEqual(exported.learning, []);
    }
  });

  test("an erasure racing 20 posts of the subject's own updates leaves none of them", async () => {
    const [instance, other = instance] = await gates(suite, onPostgres ? 2 : 1, 8, 2, 1000);
    const model = (await request(instance!.app).get("/privacy/learning/recommender").set(eu("reader")).expect(200))
      .body;
    for (let trial = 0; trial < 5; trial++) {
      const who = eu(`racer-${trial}`);
      await grant(instance!.app, who, "on-device").expect(200);
      const posts = Array.from({ length: 20 }, (_, i) =>
        request((i % 2 ? other : instance)!.app)
          .post("/privacy/learning/recommender/updates")
          .set(who)
          .send({ round: model.round, delta: delta(16, i) }),
      );
      const [answers, erasure] = await Promise.all([
        Promise.all(posts),
        sleep(trial * 5).then(() => request(other!.app).delete("/privacy/data").set(who).expect(200)),
      ]);
      const accepted = answers.filter((a) => a.status === 202).length;
      assert.ok(accepted <= 1, "one update per round");
      // Posts after the erasure meet the withdrawn consent (403); none is left stored.
      const exported = JSON.parse(
        (await asText(request(instance!.app).get("/privacy/export").set(who)).expect(200)).body,
      );
      assert.deepEqual(exported.learning, [], `trial ${trial}: ${JSON.stringify(answers.map((a) => a.status))}`);
      assert.ok(erasure.body.erased.tables.learningUpdates <= accepted);
    }
  });

  test("a withdrawal racing 20 posts of the subject's own updates, through both instances, leaves none of them", async () => {
    const [instance, other = instance] = await gates(suite, onPostgres ? 2 : 1, 8, 2, 1000);
    const model = (await request(instance!.app).get("/privacy/learning/recommender").set(eu("reader")).expect(200))
      .body;
    for (let trial = 0; trial < 5; trial++) {
      const who = eu(`withdrawer-${trial}`);
      await grant(instance!.app, who, "on-device").expect(200);
      const [answers] = await Promise.all([
        Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            request((i % 2 ? other : instance)!.app)
              .post("/privacy/learning/recommender/updates")
              .set(who)
              .send({ round: model.round, delta: delta(16, i) }),
          ),
        ),
        sleep(trial * 5).then(() => withdraw(other!.app, who, "on-device").expect(200)),
      ]);
      // One update per round at most, the rest refused (409 already_reported, or 403 once withdrawn): nothing else.
      const statuses = answers.map((a) => a.status);
      assert.ok(statuses.filter((s) => s === 202).length <= 1, JSON.stringify(statuses));
      assert.ok(
        statuses.every((s) => s === 202 || s === 409 || s === 403),
        JSON.stringify(statuses),
      );
      // EU is opt-in: after the withdrawal nothing is let in, and what came before it was purged with it.
      const exported = JSON.parse(
        (await asText(request(instance!.app).get("/privacy/export").set(who)).expect(200)).body,
      );
      assert.deepEqual(exported.learning, [], `trial ${trial}: ${JSON.stringify(statuses)}`);
    }
  });
});
