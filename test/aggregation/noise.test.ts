/**
 * The fixed-point Gaussian release (noise.ts): γ is the smallest power of two
 * with √d ≤ 10^-3·γ·Δ, the integer sensitivity is the derivation's
 * ⌈γΔ + √d(1 + 2γe)⌉, ρ = 1/(2z²) is computed from the integer σ², and the
 * noise has the variance σ_int² (in the aggregate's units, (σ_int/γ)²). Also
 * the time of one release of d = 32 000 coordinates (2 000 items × 16
 * factors), which the learning job draws once per round.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addGaussianNoise, ROUNDING_SHARE, releaseRound } from "../../src/aggregation/index.ts";
import { isConsentgateError } from "../../src/errors.ts";
import { normalCritical } from "../support/statistics.ts";

describe("addGaussianNoise (fixed point, exact discrete Gaussian)", () => {
  test("γ is the smallest power of two with √d ≤ 10^-3·γ·Δ; Δ_int and σ² follow the derivation; ρ = 1/(2z²)", () => {
    for (const [d, sensitivity, z, rho] of [
      [16, 0.02, 1, 0.5],
      [1000, 1, 2, 0.125],
      [32_000, 2 / 2000, 1.1, 1 / (2 * 1.21)],
    ] as const) {
      const release = addGaussianNoise(new Float64Array(d), {
        sensitivity,
        noiseMultiplier: z,
        coordinateError: 1e-12,
      });
      const { gamma } = release;
      assert.ok(Math.sqrt(d) <= ROUNDING_SHARE * gamma * sensitivity, `d=${d}: γ=${gamma} too small`);
      assert.ok(Math.sqrt(d) > ROUNDING_SHARE * (gamma / 2) * sensitivity, `d=${d}: γ=${gamma} not the smallest`);
      const bound = gamma * sensitivity + Math.sqrt(d) * (1 + 2 * gamma * 1e-12);
      const integer = Number(release.integerSensitivity);
      assert.ok(integer >= bound && integer <= bound + 1.001, `Δ_int ${integer} vs ${bound}`);
      assert.ok(integer <= gamma * sensitivity * (1 + 1.01 * ROUNDING_SHARE) + 1, "rounding adds at most 0.1%");
      assert.ok(Math.abs(release.rho - rho) < 1e-15, `ρ ${release.rho} vs ${rho}`);
    }
  });

  test("the noise in the aggregate's units has mean 0 and variance (σ_int/γ)² (d = 20 000, z = 1)", () => {
    const d = 20_000;
    const aggregate = Float64Array.from({ length: d }, (_, i) => Math.sin(i) * 0.3);
    const release = addGaussianNoise(aggregate, { sensitivity: 0.01, noiseMultiplier: 1 });
    const sigma = Number(release.integerSensitivity) / release.gamma;
    assert.ok(Math.abs(release.sigma - sigma) < 1e-12 * sigma);
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < d; i++) {
      const noise = release.values[i]! - Math.round(aggregate[i]! * release.gamma) / release.gamma;
      sum += noise;
      squares += noise * noise;
    }
    const mean = sum / d;
    const variance = squares / d - mean * mean;
    // The discrete Gaussian's variance is σ² within e^{-2π²σ²} (σ_int ≈ 1.4e5 here); its fourth moment 3σ⁴.
    assert.ok(Math.abs(mean) < normalCritical() * sigma * Math.sqrt(1 / d), `mean ${mean}`);
    assert.ok(
      Math.abs(variance - sigma ** 2) < normalCritical() * sigma ** 2 * Math.sqrt(2 / d),
      `variance ${variance}`,
    );
  });

  test("releaseRound uses the round's sensitivity: the median of 2 000 has Δ = C, the mean 2C/n", () => {
    const mean = releaseRound(new Float64Array(4), {
      aggregation: "mean",
      participants: 2000,
      clip: 1,
      noiseMultiplier: 1,
    });
    const median = releaseRound(new Float64Array(4), {
      aggregation: "median",
      participants: 2000,
      clip: 1,
      noiseMultiplier: 1,
    });
    assert.ok(Math.abs(mean.sigma - 0.001) < 0.001 * 2 * ROUNDING_SHARE, `mean σ ${mean.sigma}`);
    assert.ok(Math.abs(median.sigma - 1) < 2 * ROUNDING_SHARE, `median σ ${median.sigma}`);
  });

  test("one release of d = 32 000 (2 000 items × 16 factors) takes well under a second", () => {
    const started = performance.now();
    releaseRound(new Float64Array(32_000), { aggregation: "mean", participants: 2000, clip: 1, noiseMultiplier: 1 });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `${elapsed} ms`);
  });

  test("bad inputs are invalid_option: Δ ≤ 0, z ≤ 0, a value too large for the fixed point", () => {
    const invalid = (error: unknown) => isConsentgateError(error, "invalid_option");
    assert.throws(() => addGaussianNoise([1], { sensitivity: 0, noiseMultiplier: 1 }), invalid);
    assert.throws(() => addGaussianNoise([1], { sensitivity: 1, noiseMultiplier: 0 }), invalid);
    assert.throws(() => addGaussianNoise([1e300], { sensitivity: 1, noiseMultiplier: 1 }), invalid);
  });
});
