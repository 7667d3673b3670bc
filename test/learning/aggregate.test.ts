/**
 * The learning job's aggregation against the store, with an erasure forced
 * into the middle of it (a store whose block reads delete one update after
 * the first block, as a concurrent erasure would): the round is aggregated
 * again without the erased update and published with one participant fewer,
 * or abandoned when that leaves it short of minClients, its reserved rho
 * given back. Also: what is published is the clipped, noised aggregate
 * applied with the learning rate.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createComplianceLog } from "../../src/audit/log.ts";
import { decodeFloat32 } from "../../src/client/index.ts";
import { defineModel, type LearningDeps } from "../../src/learning/models.ts";
import { runLearning } from "../../src/learning/rounds.ts";
import { loadPolicy } from "../../src/policy/load.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { createComplianceLogStore } from "../../src/store/compliance-log.ts";
import { createLearningStore, type LearningStore } from "../../src/store/learning.ts";
import { TEST_SECRET } from "../support/app.ts";
import { onPostgres, testDatabase, testStore } from "../support/database.ts";
import { onDevicePolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";

const ITEMS = Array.from({ length: 50 }, (_, i) => `item-${i}`);
const DIMENSIONS = 4;
const VALUES = ITEMS.length * DIMENSIONS;
const NOW = new Date("2026-06-01T12:00:00Z");

async function setUp(suite: ReturnType<typeof suiteScope>, minClients: number, noise = 1, epsilon = 1000) {
  const db = await testDatabase(suite);
  const store = await testStore(suite, db);
  const policy = await loadPolicy(
    onDevicePolicy(
      {
        dimensions: DIMENSIONS,
        round: { minClients, maxOpen: "1d" },
        aggregation: "mean",
        noise,
        learningRate: 2,
        budget: { epsilon, delta: 1e-6 },
      },
      { description: "Recommend music on your device", legalBasis: "legitimate-interest" },
    ),
  );
  const keyring = createKeyring(TEST_SECRET);
  const log = createComplianceLog(createComplianceLogStore(store.connection), {
    pseudonym: keyring.pseudonym,
    chainKey: keyring.key("log-chain"),
    now: () => NOW,
  });
  const learning = createLearningStore(store.connection);
  const deps: LearningDeps = { policy, store: learning, log, now: () => NOW };
  await defineModel(deps, "recommender", { items: () => ITEMS });
  const submit = async (subjectId: string, values: Float32Array) =>
    assert.equal(
      await learning.submit({
        subjectId,
        model: "recommender",
        round: 1,
        purpose: "on-device",
        delta: Buffer.from(values.buffer).toString("base64"),
        now: NOW,
        decision: { receiptId: undefined, at: NOW },
      }),
      "accepted",
    );
  return { store, learning, deps, submit };
}

/** The store, but the second block read first deletes `victim`'s update of round 1: an erasure mid-aggregation. */
function erasingMidway(
  learning: LearningStore,
  remove: () => Promise<unknown>,
): LearningStore & { reads: () => number } {
  let reads = 0;
  return {
    ...learning,
    async block(model, round, offset, length) {
      if (++reads === 2) await remove();
      return learning.block(model, round, offset, length);
    },
    reads: () => reads,
  };
}

describe(`the learning job's aggregation on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();

  test("an update erased mid-aggregation: the round is aggregated again without it and published with 3 of 4", async () => {
    const { store, learning, deps, submit } = await setUp(suite, 3);
    for (const id of ["s-1", "s-2", "s-3", "s-4"]) await submit(id, new Float32Array(VALUES).fill(0.01));
    const erasing = erasingMidway(learning, () =>
      store.connection.query(`DELETE FROM learning_updates WHERE "subjectId" = 's-2'`),
    );
    const result = await runLearning({ ...deps, store: erasing }, NOW);
    assert.deepEqual(
      result.models.map(({ outcome, participants, version }) => ({ outcome, participants, version })),
      [{ outcome: "published", participants: 3, version: 2 }],
    );
    assert.ok(erasing.reads() > 2, "read again after the change");
    const [round] = await learning.rounds("recommender", 10);
    assert.equal(round?.participants, 3);
    assert.equal(round?.status, "published");
    assert.equal(await learning.pending("recommender", 1), 0);
  });

  test("below minClients after the erasure: the round is abandoned, its updates deleted and its rho given back", async () => {
    const { store, learning, deps, submit } = await setUp(suite, 4);
    for (const id of ["s-1", "s-2", "s-3", "s-4"]) await submit(id, new Float32Array(VALUES).fill(0.01));
    const erasing = erasingMidway(learning, () =>
      store.connection.query(`DELETE FROM learning_updates WHERE "subjectId" = 's-3'`),
    );
    const result = await runLearning({ ...deps, store: erasing }, NOW);
    assert.deepEqual(result.models, [{ model: "recommender", outcome: "abandoned", round: 1, participants: 3 }]);
    const [round] = await learning.rounds("recommender", 10);
    assert.equal(round?.status, "abandoned");
    assert.equal(await learning.spent("recommender"), 0);
    assert.equal(await learning.pending("recommender", 1), 0);
    assert.equal((await learning.model("recommender"))?.version, 1, "nothing published");
    assert.equal((await learning.model("recommender"))?.round, 2, "the next round is open");
  });

  test("the step is factors + learningRate × (clipped mean + noise)", async () => {
    // Four updates are 0.2·e_0 (norm 0.2, under the clip); the fifth is 10·e_1, which the server clips to 1·e_1.
    // Noise multiplier 0.001 is rho 500 000 a round: a budget no real policy would have, to see the arithmetic.
    const { learning, deps, submit } = await setUp(suite, 5, 0.001, 1e7);
    const before = decodeFloat32(
      Buffer.from((await learning.model("recommender"))!.factors).toString("base64"),
      VALUES,
    );
    for (let i = 0; i < 4; i++) {
      const values = new Float32Array(VALUES);
      values[0] = 0.2;
      await submit(`small-${i}`, values);
    }
    const big = new Float32Array(VALUES);
    big[1] = 10;
    await submit("big", big);
    const result = await runLearning(deps, NOW);
    assert.equal(result.models[0]?.outcome, "published");
    const after = decodeFloat32(Buffer.from((await learning.model("recommender"))!.factors).toString("base64"), VALUES);
    // mean: coordinate 0 is 4·0.2/5 = 0.16, coordinate 1 is 1/5 = 0.2 (clipped), the rest 0; learning rate 2.
    // Noise multiplier 0.001: σ = 0.001 · 2C/n = 0.0004, 0.0008 after the step of 2; 0.005 is over six σ, so
    // none of the 200 coordinates strays that far but once in about 10^7 runs.
    const step = (i: number) => after[i]! - before[i]!;
    assert.ok(Math.abs(step(0) - 0.32) < 0.005, `coordinate 0 moved ${step(0)}`);
    assert.ok(Math.abs(step(1) - 0.4) < 0.005, `coordinate 1 moved ${step(1)}`);
    for (let i = 2; i < VALUES; i++) assert.ok(Math.abs(step(i)) < 0.005, `coordinate ${i} moved ${step(i)}`);
    assert.ok(
      after.some((v, i) => i >= 2 && v !== before[i]),
      "noise was added",
    );
  });
});
