/**
 * Clipping and the three aggregators against Flower's published examples and
 * values worked out by hand: Flower's FedMedian test (median of 0.2, 1.0 and
 * 0.5 is 0.5), numpy's median of an even count, the trimmed mean of
 * `_trim_mean` (int(β·n) cut from each end), and clipping's edge cases.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  aggregateBlock,
  clipScale,
  clipUpdate,
  l2Norm,
  mean,
  median,
  trimCount,
  trimmedMean,
} from "../../src/aggregation/index.ts";
import { isConsentgateError } from "../../src/errors.ts";

const invalid = (code: "invalid_option" | "invalid_body") => (error: unknown) => isConsentgateError(error, code);

describe("clipping (Abadi et al. 2016; McMahan et al. 2018)", () => {
  test("the all-zero update keeps scale 1 and stays all zero: no NaN, no division by zero (Flower's clip raises there)", () => {
    assert.equal(clipScale(0, 1), 1);
    const clipped = clipUpdate(new Float32Array(5), 1);
    assert.deepEqual(Array.from(clipped), [0, 0, 0, 0, 0]);
  });

  test("an update of norm 5 clipped to C = 1 has norm 1 (3, 4 → 0.6, 0.8); one within the clip is unchanged", () => {
    const clipped = clipUpdate(Float32Array.of(3, 4), 1);
    // 3·0.2 is 0.6000000000000001 in doubles: the clipped norm is C within an ulp, which sensitivity.ts's
    // aggregationError accounts for.
    assert.ok(Math.abs(clipped[0]! - 0.6) < 1e-15 && Math.abs(clipped[1]! - 0.8) < 1e-15);
    assert.ok(Math.abs(l2Norm(clipped) - 1) < 1e-15);
    assert.deepEqual(Array.from(clipUpdate(Float32Array.of(0.3, 0.4), 1)), [Math.fround(0.3), Math.fround(0.4)]);
  });

  test("an update of norm exactly C is kept as it is: scale 1, not C/C computed in doubles", () => {
    assert.equal(clipScale(2, 2), 1);
    assert.deepEqual(Array.from(clipUpdate(Float32Array.of(0, 2, 0), 2)), [0, 2, 0]);
  });

  test("a clip ≤ 0 or not finite is invalid_option; a norm that is NaN or infinite is invalid_body", () => {
    assert.throws(() => clipScale(1, 0), invalid("invalid_option"));
    assert.throws(() => clipScale(1, Number.POSITIVE_INFINITY), invalid("invalid_option"));
    assert.throws(() => clipScale(Number.NaN, 1), invalid("invalid_body"));
    assert.throws(() => clipScale(Number.POSITIVE_INFINITY, 1), invalid("invalid_body"));
  });
});

describe("median (Flower aggregate_median = np.median over clients)", () => {
  test("Flower's FedMedian test: clients 0.2, 1.0 and 0.5 (float32) aggregate to 0.5 in every coordinate", () => {
    const clients = [0.2, 1.0, 0.5].map((v) => new Float32Array(4).fill(v));
    assert.deepEqual(Array.from(aggregateBlock("median", clients, 4)), [0.5, 0.5, 0.5, 0.5]);
    assert.equal(median(Float64Array.of(0.2, 1.0, 0.5)), 0.5);
  });

  test("an even count averages the two middle values, as numpy does: median(0.2, 1, 0.5, 4) = 0.75; median(−3, 5) = 1", () => {
    assert.equal(median(Float64Array.of(0.2, 1, 0.5, 4)), 0.75);
    assert.equal(median(Float64Array.of(-3, 5)), 1);
  });
});

describe("trimmed mean (Flower _trim_mean: int(β·n) cut from each end)", () => {
  test("n = 10, β = 0.1: 1 cut from each end; 1…9 and an outlier 100 → mean of 2…9 = 5.5", () => {
    assert.equal(trimCount(10, 0.1), 1);
    assert.equal(trimmedMean(Float64Array.of(100, 1, 2, 3, 4, 5, 6, 7, 8, 9), 0.1), 5.5);
  });

  test("n = 10, β = 0.2 (Flower's default): 2 cut from each end; −50, −1, 0, 1, 2, 3, 4, 5, 60, 70 → 14/6", () => {
    assert.equal(trimCount(10, 0.2), 2);
    assert.equal(trimmedMean(Float64Array.of(70, -50, 0, 1, 2, 3, 4, 5, 60, -1), 0.2), (0 + 1 + 2 + 3 + 4 + 5) / 6);
  });

  test("the cut truncates β·n as Python's int() does: β = 0.29, n = 100 gives 28 (0.29·100 = 28.999999999999996)", () => {
    assert.equal(trimCount(100, 0.29), 28);
    assert.equal(trimCount(7, 0.2), 1);
    assert.equal(trimCount(4, 0), 0);
  });

  test("β = 0 is the mean; β outside [0, 0.5) or a cut that leaves nothing is invalid_option", () => {
    const values = Float64Array.of(1, 2, 3, 10);
    assert.equal(trimmedMean(values.slice(), 0), mean(values));
    assert.throws(() => trimCount(10, 0.5), invalid("invalid_option"));
    assert.throws(() => trimCount(10, -0.1), invalid("invalid_option"));
    assert.throws(() => trimCount(0, 0.1), invalid("invalid_option"));
  });

  test("aggregateBlock applies it per coordinate over the participants", () => {
    const clients = [Float64Array.of(1, -5), Float64Array.of(2, 0), Float64Array.of(3, 1), Float64Array.of(100, 2)];
    // β = 0.25, n = 4: one cut from each end. Coordinate 0: mean(2, 3); coordinate 1: mean(0, 1).
    assert.deepEqual(Array.from(aggregateBlock("trimmed-mean", clients, 2, 0.25)), [2.5, 0.5]);
    assert.deepEqual(Array.from(aggregateBlock("mean", clients, 2)), [26.5, -0.5]);
  });
});
