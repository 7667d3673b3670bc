/**
 * zCDP accounting (src/noise/zcdp.ts) against values computed another way:
 * the Rényi divergence of two shifted discrete Gaussians summed term by term
 * (the bound Δ²/(2σ²) per order, and its attainment), composition by hand,
 * and the (ε, δ) conversion against Steinke's reference code and a grid over
 * the Rényi order.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isConsentgateError } from "../../src/errors.ts";
import { composeRho, discreteGaussianRho, zcdpToEpsilon } from "../../src/noise/index.ts";

/**
 * D_α(N_ℤ(μ, σ²) ‖ N_ℤ(0, σ²)) for an integer μ, summed over the support:
 * (1/(α−1))·ln Σ_x p(x−μ)^α·p(x)^{1−α}. The two normalizers are equal (μ is
 * an integer), so they cancel but one.
 */
function discreteGaussianRenyi(mu: number, sigma2: number, alpha: number): number {
  const weight = (x: number) => Math.exp(-(x * x) / (2 * sigma2));
  let normalizer = 0;
  let total = 0;
  const reach = Math.ceil(40 * Math.sqrt(sigma2) + alpha * Math.abs(mu)) + 10;
  for (let x = -reach; x <= reach; x++) {
    normalizer += weight(x);
    total += Math.exp(-(alpha * (x - mu) ** 2 + (1 - alpha) * x * x) / (2 * sigma2));
  }
  return Math.log(total / normalizer) / (alpha - 1);
}

/** ε(α) of CKS 2020 Proposition 12 for ρ-zCDP at δ, written directly from δ = e^{(α−1)(αρ−ε)}/(α−1)·(1−1/α)^α. */
function epsilonAt(rho: number, delta: number, alpha: number): number {
  return alpha * rho + (Math.log(1 / delta) + alpha * Math.log(1 - 1 / alpha) - Math.log(alpha - 1)) / (alpha - 1);
}

/** The smallest ε(α) over α = 1 + k/1000 for k = 1 … 2·10^6 (a brute-force minimum, independent of the search). */
function gridEpsilon(rho: number, delta: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let k = 1; k <= 2_000_000; k++) best = Math.min(best, epsilonAt(rho, delta, 1 + k / 1000));
  return best;
}

const bunSteinke = (rho: number, delta: number) => rho + 2 * Math.sqrt(rho * Math.log(1 / delta));

describe("the discrete Gaussian's ρ (CKS 2020 Theorem 14)", () => {
  test("ρ = Δ²/(2σ²): Δ = 1, σ² = 1 gives 1/2; noise multiplier z = 1 on Δ_int = 1001 gives 1/2; Δ = 3, σ² = 9/4 gives 2", () => {
    assert.equal(discreteGaussianRho({ l2Sensitivity: 1, sigma2: 1 }), 0.5);
    assert.equal(discreteGaussianRho({ l2Sensitivity: 1001n, sigma2: 1001n * 1001n }), 0.5);
    assert.equal(discreteGaussianRho({ l2Sensitivity: 3, sigma2: { num: 9n, den: 4n } }), 2);
    // z = 11/10: σ² = (11/10)²·Δ², ρ = 1/(2·1.21) = 50/121.
    assert.equal(discreteGaussianRho({ l2Sensitivity: 7, sigma2: { num: 121n * 49n, den: 100n } }), 50 / 121);
  });

  test("the bound is the exact Rényi divergence of the shifted discrete Gaussian whenever αμ is an integer, and above it otherwise", () => {
    // α(x−μ)² + (1−α)x² = (x − αμ)² − α(α−1)μ², so D_α = αμ²/(2σ²) + ln(Σ_x e^{-(x−αμ)²/(2σ²)}/Σ_x e^{-x²/(2σ²)})/(α−1),
    // and the last sum is largest at integer shifts (CKS 2020): the bound is met exactly for integer αμ, with no τ-like
    // correction to add, even at σ = 1/2 where the discrete and continuous Gaussians differ most.
    for (const sigma2 of [0.25, 1, 4, 100]) {
      const rho = discreteGaussianRho({ l2Sensitivity: 1, sigma2: { num: BigInt(sigma2 * 100), den: 100n } });
      for (const alpha of [2, 3, 5, 10]) {
        const exact = discreteGaussianRenyi(1, sigma2, alpha);
        assert.ok(
          Math.abs(exact - alpha * rho) < 1e-9 * alpha * rho,
          `σ²=${sigma2}, α=${alpha}: ${exact} vs ${alpha * rho}`,
        );
      }
      for (const alpha of [1.5, 2.5, 7.3]) {
        const exact = discreteGaussianRenyi(1, sigma2, alpha);
        assert.ok(exact <= alpha * rho * (1 + 1e-12), `σ²=${sigma2}, α=${alpha}: ${exact} > ${alpha * rho}`);
      }
    }
    // Where they differ: at σ² = 1/4, α = 1.5 (αμ = 1.5, the worst shift) D_α falls short of the bound 3 by
    // ln(Σ e^{-2(x−1.5)²}/Σ e^{-2x²})/(α−1) ≈ 0.058; at σ² = 100 by nothing a double can see.
    assert.ok(3 - discreteGaussianRenyi(1, 0.25, 1.5) > 0.05);
    assert.ok(Math.abs(discreteGaussianRenyi(1, 100, 1.5) - 1.5 / 200) < 1e-12);
  });

  test("a sensitivity below 0 or σ² ≤ 0 is an invalid_option error", () => {
    const invalid = (error: unknown) => isConsentgateError(error, "invalid_option");
    assert.throws(() => discreteGaussianRho({ l2Sensitivity: -1, sigma2: 1 }), invalid);
    assert.throws(() => discreteGaussianRho({ l2Sensitivity: 1, sigma2: 0 }), invalid);
  });
});

describe("composition (Bun and Steinke 2016, Lemma 2.3)", () => {
  test("T rounds of ρ add up: 10 rounds of z = 1 are ρ = 5; mixed rounds sum", () => {
    assert.equal(composeRho(Array.from({ length: 10 }, () => 0.5)), 5);
    assert.equal(composeRho([0.5, 0.125, 2]), 2.625);
    assert.equal(composeRho([]), 0);
    assert.throws(
      () => composeRho([0.5, -0.1]),
      (error: unknown) => isConsentgateError(error, "invalid_option"),
    );
  });
});

describe("ρ-zCDP to (ε, δ) (CKS 2020 Proposition 12)", () => {
  // Steinke's cdp2adp.py cdp_eps(rho, 1e-6) (IBM/discrete-gaussian-differential-privacy, run with Python 3):
  //   ρ = 0.5 → 5.221534444530169, ρ = 1 → 7.7662166253117215, ρ = 5 → 20.551948814041253, ρ = 0.01 → 0.6216926545596025.
  // Bun–Steinke's ρ + 2√(ρ ln 10^6): 5.756522, 8.433844, 21.622581, 0.753384.
  const reference: [number, number][] = [
    [0.5, 5.221534444530169],
    [1, 7.7662166253117215],
    [5, 20.551948814041253],
    [0.01, 0.6216926545596025],
  ];
  for (const [rho, expected] of reference) {
    test(`ρ = ${rho}, δ = 1e-6: ε = ${expected.toFixed(6)} (Steinke's code), at most a 1e-6 grid over α, below Bun–Steinke`, () => {
      const epsilon = zcdpToEpsilon(rho, 1e-6);
      assert.ok(Math.abs(epsilon - expected) < 1e-9 * expected, `${epsilon} vs ${expected}`);
      assert.ok(epsilon <= gridEpsilon(rho, 1e-6) + 1e-12, "no worse than the grid");
      assert.ok(gridEpsilon(rho, 1e-6) - epsilon < 1e-6, "and the grid agrees");
      assert.ok(epsilon < bunSteinke(rho, 1e-6), "tighter than ρ + 2√(ρ ln(1/δ))");
    });
  }

  test("the ε found gives back δ: δ(ε) at the best α (Steinke's derivative condition) is the δ asked for", () => {
    for (const [rho, delta] of [
      [0.5, 1e-6],
      [3, 1e-9],
      [0.001, 1e-5],
    ] as const) {
      const epsilon = zcdpToEpsilon(rho, delta);
      // The best α solves (2α−1)ρ − ε + ln(1 − 1/α) = 0 (cdp2adp.py cdp_delta); the left side increases in α.
      let [low, high] = [1 + 1e-12, 1e9];
      for (let i = 0; i < 300; i++) {
        const alpha = (low + high) / 2;
        if ((2 * alpha - 1) * rho - epsilon + Math.log1p(-1 / alpha) < 0) low = alpha;
        else high = alpha;
      }
      const alpha = (low + high) / 2;
      const back = Math.exp((alpha - 1) * (alpha * rho - epsilon) + alpha * Math.log1p(-1 / alpha)) / (alpha - 1);
      assert.ok(Math.abs(back - delta) < 1e-6 * delta, `ρ=${rho}: δ back ${back}, asked ${delta}`);
    }
  });

  test("ε grows with ρ and shrinks with δ; ρ = 0 or δ ≥ 1 give 0; bad inputs are invalid_option errors", () => {
    assert.ok(zcdpToEpsilon(1, 1e-6) < zcdpToEpsilon(1.1, 1e-6));
    assert.ok(zcdpToEpsilon(1, 1e-5) < zcdpToEpsilon(1, 1e-6));
    assert.equal(zcdpToEpsilon(0, 1e-6), 0);
    assert.equal(zcdpToEpsilon(1, 1), 0);
    const invalid = (error: unknown) => isConsentgateError(error, "invalid_option");
    assert.throws(() => zcdpToEpsilon(-1, 1e-6), invalid);
    assert.throws(() => zcdpToEpsilon(1, 0), invalid);
    assert.throws(() => zcdpToEpsilon(Number.NaN, 1e-6), invalid);
  });
});
