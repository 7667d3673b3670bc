/**
 * The policy's `learning:` block (per purpose, docs/learning.md): what a
 * valid one compiles to, and every rule a policy can break, each reported
 * with its path and a message a privacy officer can act on.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadPolicy } from "../../src/policy/load.ts";
import { problemsOf, testPolicy } from "../support/policy.ts";

/** The documented example model. */
const recommender = (changes: Record<string, unknown> = {}) => ({
  model: "recommender",
  dimensions: 16,
  round: { minClients: 100, maxOpen: "1d" },
  clip: 1.0,
  aggregation: "trimmed-mean",
  trim: 0.1,
  noise: 1.0,
  budget: { epsilon: 10, delta: 1e-6 },
  ...changes,
});

/** The example without its trim (for the mean and the median, which take none). */
const untrimmed = (changes: Record<string, unknown> = {}) => {
  const { trim: _trim, ...rest } = recommender(changes);
  return rest;
};

const onDevice = (learning: Record<string, unknown>) => ({
  description: "Recommend music on your device; your plays never leave it",
  legalBasis: "consent",
  learning,
});

describe("the learning block", () => {
  test("the documented example compiles, with the server's step at its default of 1, and is found by model name", async () => {
    const policy = await loadPolicy(testPolicy({ purposes: { "on-device": onDevice(recommender()) } }));
    const expected = {
      model: "recommender",
      purpose: "on-device",
      dimensions: 16,
      round: { minClients: 100, maxOpen: { amount: 1, unit: "d", text: "1d" } },
      clip: 1,
      aggregation: "trimmed-mean",
      trim: 0.1,
      noise: 1,
      learningRate: 1,
      budget: { epsilon: 10, delta: 1e-6 },
    };
    assert.deepEqual(policy.purposes["on-device"]?.learning, expected);
    assert.deepEqual(policy.learning["recommender"], expected);
    assert.equal(policy.purposes["personalization"]?.learning, undefined);
  });

  test("the mean and the median carry a trim of 0", async () => {
    const policy = await loadPolicy(
      testPolicy({
        purposes: { "on-device": onDevice(untrimmed({ aggregation: "median" })) },
      }),
    );
    assert.equal(policy.learning["recommender"]?.trim, 0);
  });

  test("missing and out-of-range values: every one reported, by path", async () => {
    const problems = await problemsOf(
      testPolicy({
        purposes: {
          "on-device": onDevice({
            model: "recommender",
            dimensions: 0,
            round: { minClients: 1.5, maxOpen: "1d" },
            clip: 0,
            aggregation: "average",
            trim: 0.5,
            noise: 0,
            budget: { epsilon: 10, delta: 0.5 },
          }),
        },
      }),
    );
    const paths = problems.map((p) => p.slice(0, p.indexOf(": ")));
    assert.deepEqual(paths.sort(), [
      "purposes.on-device.learning.aggregation",
      "purposes.on-device.learning.budget.delta",
      "purposes.on-device.learning.clip",
      "purposes.on-device.learning.dimensions",
      "purposes.on-device.learning.noise",
      "purposes.on-device.learning.round.minClients",
      "purposes.on-device.learning.trim",
    ]);
    assert.ok(problems.some((p) => /noise: .*without noise there is no privacy guarantee/.test(p)));
    assert.ok(problems.some((p) => /aggregation: "average" is not a valid choice.*mean, median, trimmed-mean/.test(p)));
  });

  test("trim goes with trimmed-mean only, and trimmed-mean needs it", async () => {
    assert.deepEqual(
      await problemsOf(testPolicy({ purposes: { "on-device": onDevice(untrimmed()) } })).then((problems) =>
        problems.map((p) => p.split(": ")[0]),
      ),
      ["purposes.on-device.learning.trim"],
    );
    const extra = await problemsOf(
      testPolicy({ purposes: { "on-device": onDevice(recommender({ aggregation: "mean" })) } }),
    );
    assert.deepEqual(extra, [
      "purposes.on-device.learning.trim: has no effect with aggregation mean; remove it, or use aggregation: trimmed-mean",
    ]);
  });

  test("a model name used by two purposes is refused: models are addressed by name alone", async () => {
    const problems = await problemsOf(
      testPolicy({
        purposes: { "on-device": onDevice(recommender()), "also-on-device": onDevice(recommender()) },
      }),
    );
    assert.deepEqual(problems, [
      'purposes.also-on-device.learning.model: "recommender" is also the model of purpose on-device; models are addressed by name alone (GET /learning/recommender), so each name may be used once in the policy',
    ]);
  });
});
