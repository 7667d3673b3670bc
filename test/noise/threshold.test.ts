/**
 * The Laplace partition-selection threshold against the published test
 * vectors of Google's differential-privacy library
 * (github.com/google/differential-privacy, commit b5b0286e):
 * go/noise/laplace_noise_test.go TestThresholdLaplace and
 * TestDeltaForThresholdLaplace, and cc/algorithms/partition-selection_test.cc
 * CalculateThresholdTests and CalculateDeltaTests (l∞ = 1), each with the
 * tolerance it is published with. Then the exact threshold for discrete
 * Laplace noise: minimal, within its bounds of Google's, and checked by
 * sampling where the two differ.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isConsentgateError } from "../../src/errors.ts";
import {
  discreteLaplaceDeltaForThreshold,
  discreteLaplaceSampler,
  discreteLaplaceTail,
  discreteLaplaceThreshold,
  laplaceDeltaForThreshold,
  laplaceThreshold,
  perPartitionDelta,
} from "../../src/noise/index.ts";
import { assertProportion } from "../support/statistics.ts";

const ln3 = Math.log(3);
const DBL_MIN = 2.2250738585072014e-308; // kDoubleMinPos in the C++ tests: the smallest normal double

const invalidOption = (name: string) => (error: unknown) =>
  isConsentgateError(error, "invalid_option") && (error.details as { parameter?: string }).parameter === name;

function near(got: number, want: number, tolerance: number, label: string): void {
  if (want === Number.POSITIVE_INFINITY || want === Number.NEGATIVE_INFINITY) {
    assert.equal(got, want, label);
    return;
  }
  assert.ok(Math.abs(got - want) <= tolerance, `${label}: got ${got}, want ${want} ± ${tolerance}`);
}

describe("Google's Laplace threshold (go/noise/laplace_noise.go Threshold)", () => {
  test("TestThresholdLaplace: Threshold(l0, l∞, ε, δ), to 0.01", () => {
    const vectors: [number, number, number, number, number][] = [
      // l0, lInf, epsilon, delta, want
      [1, 1, ln3, 1e-10, 21.33],
      [1, 1, ln3, 1 - 1e-10, -19.33],
      [1, 1, 2 * ln3, 1e-10, 11.16],
      [1, 1, 2 * ln3, 1 - 1e-10, -9.16],
      [1, 10, ln3, 1e-10, 213.28],
      [1, 10, ln3, 1 - 1e-10, -193.28],
      [10, 10, 10 * ln3, 1e-9, 213.28],
      [10, 10, 10 * ln3, 1 - 1e-9, -2.55],
      [1, 1, ln3, 1e-200, 419.55],
    ];
    for (const [l0, lInf, epsilon, delta, want] of vectors) {
      near(
        laplaceThreshold({ l0, lInf, epsilon, delta }),
        want,
        0.01,
        `Threshold(${l0}, ${lInf}, ${epsilon}, ${delta})`,
      );
    }
  });

  test("TestDeltaForThresholdLaplace: DeltaForThreshold(l0, l∞, ε, k), to 1 %", () => {
    const vectors: [number, number, number, number, number][] = [
      // l0, lInf, epsilon, threshold, want
      [1, 1, ln3, 20, 4.3e-10],
      [1, 1, ln3, -18, 1 - 4.3e-10],
      [1, 10, ln3, 200, 4.3e-10],
      [1, 10, ln3, -180, 1 - 4.3e-10],
      [1, 1, 2 * ln3, 10, 1.29e-9],
      [1, 1, 2 * ln3, -8, 1 - 1.29e-9],
      [10, 1, 10 * ln3, 20, 4.3e-9],
      [10, 1, 10 * ln3, -18, 1],
      [1, 1, ln3, 419.55, 1e-200],
    ];
    for (const [l0, lInf, epsilon, threshold, want] of vectors) {
      near(
        laplaceDeltaForThreshold({ l0, lInf, epsilon }, threshold),
        want,
        1e-2 * want,
        `DeltaForThreshold(${l0}, ${lInf}, ${epsilon}, ${threshold})`,
      );
    }
  });
});

describe("Google's LaplacePartitionSelection (cc/algorithms/partition-selection.h), l∞ = 1", () => {
  const threshold = (epsilon: number, delta: number, l0: number) => laplaceThreshold({ l0, lInf: 1, epsilon, delta });
  const delta = (epsilon: number, t: number, l0: number) => laplaceDeltaForThreshold({ l0, lInf: 1, epsilon }, t);

  test("CalculateThresholdTests", () => {
    const vectors: [number, number, number, number, number?][] = [
      // epsilon, delta, max_pc, expected threshold, tolerance (0.05 unless given)
      [ln3, 0, 1, Number.POSITIVE_INFINITY],
      [ln3, DBL_MIN, 1, 645.179],
      [ln3, 1e-308, 1, 645.907],
      [ln3, 1e-256, 1, 536.92],
      [ln3, 1e-128, 1, 268.645],
      [ln3, 1e-64, 1, 134.507],
      [ln3, 1e-32, 1, 67.438],
      [ln3, 2.0894334e-24, 1, 50.0],
      [ln3, 1e-16, 1, 33.9035],
      [ln3, 1e-8, 1, 17.1363],
      [ln3, 1e-4, 1, 8.75268],
      [ln3, 1e-2, 1, 4.56088],
      [ln3, 0.1, 1, 2.46497],
      [ln3, 0.3, 1, 1.46497],
      [ln3, 0.5, 1, 1.0],
      [ln3, 0.7, 1, 0.53503],
      [ln3, 0.9, 1, -0.46497],
      [ln3, 1.0, 1, Number.NEGATIVE_INFINITY],
      [1e9, 0, 1, Number.POSITIVE_INFINITY],
      [1e9, DBL_MIN, 1, 1],
      [1e9, 1e-200, 1, 1],
      [1e9, 1e-8, 1, 1],
      [1e9, 0.5, 1, 1],
      [1e9, 0.8, 1, 1],
      [1e9, 1.0, 1, Number.NEGATIVE_INFINITY],
      [DBL_MIN, 2.0894334e-24, 1, Number.POSITIVE_INFINITY],
      [1e-308, 2.0894334e-24, 1, Number.POSITIVE_INFINITY],
      [1e-100, 2.0894334e-24, 1, 5.3832e101, 2.12256e94],
      [1e-50, 2.0894334e-24, 1, 5.3832e51, 2.12256e44],
      [1e-20, 2.0894334e-24, 1, 5.3832e21, 2.12256e14],
      [1e-10, 2.0894334e-24, 1, 5.3832e11, 21227],
      [1e-5, 2.0894334e-24, 1, 5.3832e6, 1.3],
      [1e-2, 2.0894334e-24, 1, 5384.2, 0.15],
      [1e-1, 2.0894334e-24, 1, 539.32],
      [0.5, 2.0894334e-24, 1, 108.664],
      [1.0, 2.0894334e-24, 1, 54.832],
      [1.5, 2.0894334e-24, 1, 36.888],
      [2.0, 2.0894334e-24, 1, 27.916],
      [5.0, 2.0894334e-24, 1, 11.7664],
      [10, 2.0894334e-24, 1, 6.3832],
      [100, 2.0894334e-24, 1, 1.53832],
      [1e5, 2.0894334e-24, 1, 1.00054],
      [1e10, 2.0894334e-24, 1, 1.0],
      [1e308, 2.0894334e-24, 1, 1.0],
      [Number.MAX_VALUE, 2.0894334e-24, 1, 1.0],
      [ln3, 2.0894334e-24, 2, 100.262],
      [ln3, 2.0894334e-24, 3, 151.0],
      [ln3, 2.0894334e-24, 4, 202.047],
      [ln3, 2.0894334e-24, 5, 253.325],
      [ln3, 2.0894334e-24, 10, 511.959],
      [ln3, 2.0894334e-24, 100, 5320.18],
      [ln3, 2.0894334e-24, 1000, 55288.7],
      [ln3, 2.0894334e-24, 10000, 573837.0, 0.131],
      [ln3, 2.0894334e-24, 100000, 5.94795e6, 2.64],
      [ln3, 2.0894334e-24, 1000000, 6.15754e7, 20.63],
      // (max_pc = kInt64Max is left out: l0 here is a safe integer.)
      [0.001, 0.99999999999, 1, -24634.3],
    ];
    for (const [epsilon, d, l0, want, tolerance = 0.05] of vectors) {
      near(threshold(epsilon, d, l0), want, tolerance, `CalculateThreshold(${epsilon}, ${d}, ${l0})`);
    }
  });

  test("CalculateDeltaTests", () => {
    const vectors: [number, number, number, number, number?][] = [
      // epsilon, threshold, max_pc, expected delta, tolerance (0.05 unless given: DeltaTest's default)
      [ln3, 1, 1, 0.5],
      [ln3, 2, 1, 0.16666667],
      [ln3, 3, 1, 0.05555555556, 1e-5],
      [ln3, 4, 1, 0.01851851852, 1e-5],
      [ln3, 5, 1, 0.0061728396, 1e-6],
      [ln3, 10, 1, 2.5402631e-5, 1e-8],
      [ln3, 20, 1, 4.301958e-10, 1e-13],
      [ln3, 50, 1, 2.0894334e-24, 1e-27],
      [ln3, 75, 1, 2.4660232e-36, 1e-39],
      [ln3, 87, 1, 4.64026e-42, 6e-46],
      [ln3, 93, 1, 6.36524e-45, 1e-48],
      [ln3, 94, 1, 2.12175e-45, 1e-48],
      [ln3, 95, 1, 7.07249e-46, 1e-49],
      [ln3, 96, 1, 2.3575e-46, 1e-49],
      [ln3, 100, 1, 2.91049e-48, 1e-51],
      [ln3, 1000, 1, 0, 1e-100],
      [ln3, 1e6, 1, 0, 1e-100],
      [ln3, Number.MAX_VALUE, 1, 0, 1e-100],
      [ln3, Number.POSITIVE_INFINITY, 1, 0, 1e-100],
      [DBL_MIN, 50, 1, 0.5],
      [1e-308, 50, 1, 0.5],
      [1e-10, 50, 1, 0.5],
      [1e-5, 50, 1, 0.49975505],
      [1e-2, 50, 1, 0.30631319],
      [1e-1, 50, 1, 0.0037232914, 1e-6],
      [0.5, 50, 1, 1.1448674e-11, 1e-14],
      [1.0, 50, 1, 2.6214428e-22, 1e-25],
      [1.5, 50, 1, 6.0024092e-33, 1e-36],
      [2.0, 50, 1, 1.3732725e-43, 1.2e-46],
      [5.0, 50, 1, 0, 1e-100],
      [Number.MAX_VALUE, 50, 1, 0, 1e-100],
      [ln3, 50, 2, 2.04423e-12, 1e-15],
      [ln3, 50, 3, 2.41608e-8, 1e-11],
      [ln3, 50, 4, 2.85953e-6, 1e-9],
      [ln3, 50, 5, 5.27403e-5, 1e-8],
      [ln3, 50, 10, 0.0227296, 1e-5],
      [ln3, 50, 100, 1.0],
      [ln3, 50, 1000000, 1.0],
    ];
    for (const [epsilon, t, l0, want, tolerance = 0.05] of vectors) {
      near(delta(epsilon, t, l0), want, tolerance, `CalculateDelta(${epsilon}, ${t}, ${l0})`);
    }
  });

  test("LaplacePartitionSelectionThreshold (ε 0.5, δ 0.02) is 7.43775164974, and δ around threshold 1 is symmetric", () => {
    near(threshold(0.5, 0.02, 1), 7.43775164974, 0.001, "threshold(0.5, 0.02, 1)");
    for (let i = 0.1; i < 5; i += 0.1) near(delta(ln3, 1 - i, 1), 1 - delta(ln3, 1 + i, 1), 1e-4, `symmetry at ${i}`);
  });

  test("the error cases: ε not finite and > 0, max_pc < 1, δ outside [0, 1], a NaN threshold", () => {
    for (const epsilon of [-Number.MAX_VALUE, -1, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
      assert.throws(() => threshold(epsilon, 1e-9, 1), invalidOption("epsilon"));
      assert.throws(() => delta(epsilon, 50, 1), invalidOption("epsilon"));
    }
    for (const l0 of [Number.MIN_SAFE_INTEGER, -1, 0, 1.5]) {
      assert.throws(() => threshold(ln3, 1e-9, l0), invalidOption("l0"));
      assert.throws(() => delta(ln3, 50, l0), invalidOption("l0"));
    }
    for (const d of [
      Number.NEGATIVE_INFINITY,
      -1,
      -Number.MIN_VALUE,
      1.0000000000001,
      2,
      Number.POSITIVE_INFINITY,
      Number.NaN,
    ]) {
      assert.throws(() => threshold(ln3, d, 1), invalidOption("delta"));
    }
    assert.throws(() => delta(ln3, Number.NaN, 1), invalidOption("threshold"));
    assert.throws(() => laplaceThreshold({ l0: 1, lInf: 0, epsilon: 1, delta: 1e-9 }), invalidOption("lInf"));
  });

  test("perPartitionDelta is 1 − (1 − δ)^{1/l0}, stable for tiny δ", () => {
    // For small δ, 1 − (1 − δ)^{1/l0} = δ/l0 · (1 + (l0 − 1)·δ/(2·l0) + O(δ²)). Computed naively, 1 − δ keeps only
    // 7 of δ's digits at δ = 1e-9 (the naive value is 1.00000008e-10).
    near(perPartitionDelta(1e-9, 10), 1e-10 * (1 + (9 * 1e-9) / 20), 1e-24, "δ 1e-9, l0 10");
    assert.ok(Math.abs(1 - (1 - 1e-9) ** 0.1 - 1.000000000045e-10) > 1e-18, "the naive form is as precise");
    near(perPartitionDelta(1e-200, 4) / 2.5e-201, 1, 1e-12, "δ 1e-200, l0 4"); // ≈ δ/l0, not lost in 1 − δ
    assert.equal(perPartitionDelta(0.3, 1), 0.3);
    assert.equal(perPartitionDelta(1, 7), 1);
  });
});

describe("the exact threshold for discrete Laplace noise", () => {
  test("l0 10, l∞ 1, ε 1, δ 1e-9 (the policy example): 225", () => {
    // λ = 10, q = e^{-0.1} = 0.904837, δ_p = 1 − (1 − 1e-9)^{1/10} = 1.00000000045e-10:
    // k = ⌈10·ln(1/(1.904837 · 1.0e-10))⌉ = ⌈10·(23.025851 − 0.644394)⌉ = ⌈223.81⌉ = 224, τ = 1 + 224.
    assert.equal(discreteLaplaceThreshold({ l0: 10, lInf: 1, epsilon: 1, delta: 1e-9 }), 225n);
  });

  test("over a grid of (l0, l∞, ε, δ): minimal, within δ, and ⌈Google's τ + c⌉ (between ⌈τ_G⌉ and ⌈τ_G + ½⌉)", () => {
    let checked = 0;
    for (const l0 of [1, 2, 3, 10, 100])
      for (const lInf of [1, 2, 5])
        for (const epsilon of [0.05, 0.5, 1, ln3, 2, 8])
          for (const delta of [0.9, 0.5, 0.3, 1e-3, 1e-6, 1e-9, 1e-10, 1e-12, 1e-50]) {
            const p = { l0, lInf, epsilon, delta };
            const label = JSON.stringify(p);
            const tau = discreteLaplaceThreshold(p);
            const reached = discreteLaplaceDeltaForThreshold(p, tau);
            const below = discreteLaplaceDeltaForThreshold(p, tau - 1n);
            assert.ok(reached <= delta * (1 + 1e-9), `${label}: τ = ${tau} gives δ = ${reached}`);
            // Minimal: one less would exceed δ (up to the computed margin's rare extra step).
            assert.ok(below > delta * (1 - 1e-6), `${label}: τ − 1 = ${tau - 1n} already gives δ = ${below}`);
            // The relation to Google's continuous threshold: τ = ⌈τ_G + c⌉, c = λ·ln(2/(1 + q)) ∈ (0, ½], for δ ≤ ½;
            // above ½ the shift is 1 − c ∈ [½, 1).
            const google = laplaceThreshold(p);
            const q = Math.exp(-epsilon / (l0 * lInf));
            const c = ((l0 * lInf) / epsilon) * Math.log(2 / (1 + q));
            assert.ok(c > 0 && c <= 0.5, `${label}: c = ${c}`);
            const shift = delta <= 0.5 ? c : 1 - c;
            const expected = Math.ceil(google + shift);
            // Equal, but for the computed margin's rare extra step where τ_G + shift is within 1e-9 of an integer.
            const extra =
              Math.abs(google + shift - Math.round(google + shift)) < 1e-9 * Math.max(1, Math.abs(google)) ? 1n : 0n;
            assert.ok(
              tau === BigInt(expected) || tau === BigInt(expected) + extra,
              `${label}: τ = ${tau}, ⌈τ_G + shift⌉ = ${expected}`,
            );
            if (delta <= 0.5) {
              assert.ok(
                BigInt(Math.ceil(google)) <= tau && tau <= BigInt(Math.ceil(google + 0.5)),
                `${label}: τ = ${tau} vs τ_G = ${google}`,
              );
            }
            checked++;
          }
    assert.equal(checked, 5 * 3 * 6 * 9);
  });

  test("the tail it solves is the discrete Laplace's: P(Z ≥ k) = q^k/(1 + q), summed from the pmf", () => {
    for (const lambda of [0.5, 1, 3, 10]) {
      const q = Math.exp(-1 / lambda);
      const pmf = (z: number) => ((1 - q) / (1 + q)) * q ** Math.abs(z);
      for (const k of [-3, 0, 1, 2, 5]) {
        let tail = 0;
        for (let z = k; z < k + 2000; z++) tail += pmf(z);
        near(discreteLaplaceTail(lambda, k), tail, 1e-12, `λ ${lambda}, k ${k}`);
      }
    }
  });

  test("by sampling: a single person's key passes ⌈Google's τ⌉ more often than δ allows, and the exact τ less", () => {
    // l0 1, ε 1 (λ 1), δ = e^{-2.8}/2 ≈ 0.0304: Google's τ = 1 − ln(2δ) = 3.8, so ⌈τ⌉ = 4 releases a count of 1
    // when Z ≥ 3, with probability q³/(1 + q) = 0.0364 > δ. The exact discrete threshold is 5 (Z ≥ 4: 0.0134).
    const p = { l0: 1, lInf: 1, epsilon: 1, delta: Math.exp(-2.8) / 2 };
    near(laplaceThreshold(p), 3.8, 1e-12, "Google's τ");
    const tau = discreteLaplaceThreshold(p);
    assert.equal(tau, 5n);
    const noise = discreteLaplaceSampler(1);
    const n = 200_000;
    let googleReleases = 0;
    let exactReleases = 0;
    for (let i = 0; i < n; i++) {
      const noisy = 1n + noise();
      if (noisy >= 4n) googleReleases++;
      if (noisy >= tau) exactReleases++;
    }
    assertProportion(googleReleases, n, discreteLaplaceTail(1, 3), "released at ⌈Google's τ⌉");
    assertProportion(exactReleases, n, discreteLaplaceTail(1, 4), "released at the exact τ");
    assert.ok(discreteLaplaceTail(1, 3) > p.delta && discreteLaplaceTail(1, 4) <= p.delta, "the exact tails around δ");
  });

  test("parameters: l∞ must be an integer and δ in (0, 1); the threshold must be a bigint", () => {
    assert.throws(() => discreteLaplaceThreshold({ l0: 1, lInf: 1.5, epsilon: 1, delta: 1e-9 }), invalidOption("lInf"));
    assert.throws(() => discreteLaplaceThreshold({ l0: 1, lInf: 1, epsilon: 1, delta: 0 }), invalidOption("delta"));
    assert.throws(() => discreteLaplaceThreshold({ l0: 1, lInf: 1, epsilon: 1, delta: 1 }), invalidOption("delta"));
    assert.throws(() => discreteLaplaceThreshold({ l0: 0, lInf: 1, epsilon: 1, delta: 1e-9 }), invalidOption("l0"));
    assert.throws(
      () => discreteLaplaceThreshold({ l0: 1, lInf: 1, epsilon: 0, delta: 1e-9 }),
      invalidOption("epsilon"),
    );
    // δ_p = 1 − (1 − 5e-324)^{1/10} underflows to 0: no finite threshold.
    assert.throws(
      () => discreteLaplaceThreshold({ l0: 10, lInf: 1, epsilon: 1, delta: 5e-324 }),
      invalidOption("delta"),
    );
    assert.throws(
      () => discreteLaplaceDeltaForThreshold({ l0: 1, lInf: 1, epsilon: 1 }, 5 as never),
      invalidOption("threshold"),
    );
  });
});
