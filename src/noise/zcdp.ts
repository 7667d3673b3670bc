/**
 * Privacy accounting in zero-concentrated differential privacy (zCDP, Bun and
 * Steinke 2016, "Concentrated Differential Privacy: Simplifications,
 * Extensions, and Lower Bounds", arXiv:1605.02065, Definition 1.1): a
 * mechanism M is ρ-zCDP when D_α(M(x) ‖ M(x')) ≤ ρ·α for every α > 1 and
 * neighbours x, x' (D_α the Rényi divergence of order α). Federated rounds
 * release discrete-Gaussian-noised aggregates; each round's ρ comes from
 * {@link discreteGaussianRho}, rounds compose by {@link composeRho}, and the
 * total is reported as (ε, δ) by {@link zcdpToEpsilon}. Accounting only:
 * these are floating-point bounds about the noise, never used to draw it.
 */
import { invalidParameter, type RationalInput, toRational } from "./rational.ts";

/** What {@link discreteGaussianRho} needs: the integer query's L2 sensitivity and the noise's σ². */
export interface DiscreteGaussianRelease {
  /** Δ₂ = max ‖q(x) − q(x')‖₂ over neighbours, of the integer vector the noise is added to. */
  readonly l2Sensitivity: RationalInput;
  /** σ², the variance parameter of the discrete Gaussian added to every coordinate. */
  readonly sigma2: RationalInput;
}

/**
 * ρ = Δ₂²/(2σ²): the zCDP of adding independent discrete Gaussian noise
 * N_ℤ(0, σ²) to every coordinate of an integer vector whose L2 sensitivity
 * is Δ₂. Canonne, Kamath and Steinke 2020, "The Discrete Gaussian for
 * Differential Privacy" (arXiv:2004.00010), Theorem 14 (the multivariate
 * discrete Gaussian satisfies ½ε²-concentrated DP whenever
 * Σ_j (q_j(x) − q_j(x'))²/σ_j² ≤ ε²; here every σ_j = σ, so ε² = Δ₂²/σ²).
 * The same ρ as the continuous Gaussian, with no correction and no
 * dependence on the dimension: the one-dimensional bound (CKS 2020
 * Proposition 5/Theorem 4: D_α(N_ℤ(μ, σ²) ‖ N_ℤ(ν, σ²)) ≤ α(μ−ν)²/(2σ²))
 * adds up over independent coordinates, as Rényi divergences of product
 * distributions do. (The τ = 10·Σ_{k=1}^{n−1} e^{−2π²σ²·k/(k+1)} term of
 * Kairouz, Liu and Steinke 2021, "The Distributed Discrete Gaussian
 * Mechanism", Theorem 11, is for a sum of n discrete Gaussians, which is not
 * a discrete Gaussian; one central draw has n = 1 and no such term.)
 *
 * Steinke's reference code says the same (IBM/discrete-gaussian-differential-
 * privacy, cdp2adp.py: "adding cts or discrete N(0,sigma2) to sens-1 gives
 * rho=1/(2*sigma2)"), and test/noise/zcdp.test.ts sums the Rényi divergence
 * of two shifted discrete Gaussians term by term: it meets αΔ²/(2σ²) exactly
 * when αΔ is an integer and stays below it otherwise.
 *
 * The value is computed from the exact rational Δ₂²/(2σ²) and returned as
 * the nearest double.
 *
 * @example
 * ```ts
 * discreteGaussianRho({ l2Sensitivity: 1, sigma2: 1 });        // 0.5
 * discreteGaussianRho({ l2Sensitivity: 1000, sigma2: 10 ** 6 }); // 0.5: noise multiplier 1
 * ```
 */
export function discreteGaussianRho(release: DiscreteGaussianRelease): number {
  const delta = toRational(release.l2Sensitivity, "discreteGaussianRho", "l2Sensitivity");
  const sigma2 = toRational(release.sigma2, "discreteGaussianRho", "sigma2");
  if (delta.num < 0n) throw invalidParameter("discreteGaussianRho", "l2Sensitivity", "must be ≥ 0");
  if (sigma2.num <= 0n) throw invalidParameter("discreteGaussianRho", "sigma2", "must be > 0");
  // Δ²/(2σ²) = (Δn²·σd) / (Δd²·2·σn)
  return ratio(delta.num * delta.num * sigma2.den, delta.den * delta.den * 2n * sigma2.num);
}

/** num/den for bigints num ≥ 0, den > 0, as the nearest double (scaled so that neither overflows a double). */
function ratio(num: bigint, den: bigint): number {
  const shift = Math.max(0, Math.max(num.toString(2).length, den.toString(2).length) - 1000);
  return Number(num >> BigInt(shift)) / Number(den >> BigInt(shift));
}

/**
 * The ρ of running several ρ_i-zCDP mechanisms on the same data: Σ ρ_i (Bun
 * and Steinke 2016, Lemma 2.3, adaptive composition). Rounds of federated
 * learning compose this way.
 *
 * @example
 * ```ts
 * composeRho([0.5, 0.5, 0.5]); // 1.5: three rounds of noise multiplier 1
 * ```
 */
export function composeRho(rhos: readonly number[]): number {
  let total = 0;
  for (const rho of rhos) {
    if (!(rho >= 0) || !Number.isFinite(rho))
      throw invalidParameter("composeRho", "rhos", `must be finite and ≥ 0, got ${rho}`);
    total += rho;
  }
  return total;
}

/**
 * ε(α) for one order α = 1 + e^x: the ε that CKS 2020 Proposition 12
 * (numbered as in arXiv v4, which tensorflow/privacy's RDP accountant cites
 * for the same bound) gives ρ-zCDP at δ with that α. For ρ-zCDP
 * (D_α ≤ αρ at every α) it reads: ρ-zCDP implies (ε, δ)-DP for
 * δ = exp((α−1)(αρ − ε))/(α−1) · (1 − 1/α)^α, for every α > 1. Solved for ε
 * (L = ln(1/δ)): ε = αρ + (L + α·ln(1 − 1/α) − ln(α − 1))/(α − 1)
 * = αρ + x + (L − α·ln α)/(α − 1), using ln(α − 1) = x and
 * ln(1 − 1/α) = x − ln α, which stays accurate for α near 1.
 */
function epsilonAtOrder(rho: number, logInverseDelta: number, x: number): number {
  const alphaMinusOne = Math.exp(x);
  const alpha = 1 + alphaMinusOne;
  return alpha * rho + x + (logInverseDelta - alpha * Math.log1p(alphaMinusOne)) / alphaMinusOne;
}

/**
 * The smallest ε such that ρ-zCDP implies (ε, δ)-DP by CKS 2020
 * Proposition 12, optimised over the Rényi order (its zCDP form is the
 * paper's Corollary 13):
 * ε = inf_{α>1} αρ + (ln(1/δ) + α·ln(1 − 1/α) − ln(α − 1))/(α − 1), which
 * is δ = inf_{α>1} exp((α−1)(αρ − ε))/(α−1)·(1 − 1/α)^α solved for ε. Always
 * below Bun and Steinke 2016's ρ + 2√(ρ·ln(1/δ)) (Proposition 1.3).
 *
 * Every α gives a valid ε, so the search (golden section over ln(α − 1),
 * where ε is unimodal) can only err upward, by a vanishing amount; the
 * result is never below the infimum. As Steinke's reference code
 * (IBM/discrete-gaussian-differential-privacy, cdp2adp.py, cdp_eps) does,
 * δ ≥ 1 or ρ = 0 give ε = 0.
 *
 * @example
 * ```ts
 * zcdpToEpsilon(0.5, 1e-6); // ≈ 5.0: one round of noise multiplier 1
 * ```
 */
export function zcdpToEpsilon(rho: number, delta: number): number {
  if (!(rho >= 0) || !Number.isFinite(rho))
    throw invalidParameter("zcdpToEpsilon", "rho", `must be finite and ≥ 0, got ${rho}`);
  if (!(delta > 0)) throw invalidParameter("zcdpToEpsilon", "delta", `must be > 0, got ${delta}`);
  if (delta >= 1 || rho === 0) return 0;
  const logInverseDelta = -Math.log(delta);
  // ln(α − 1) in [−42, 42] (α − 1 from 6e-19 to 1.7e18) holds the optimum α − 1 ≈ √(ln(1/δ)/ρ) of any sensible ρ, δ.
  let low = -42;
  let high = 42;
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = high - phi * (high - low);
  let b = low + phi * (high - low);
  let fa = epsilonAtOrder(rho, logInverseDelta, a);
  let fb = epsilonAtOrder(rho, logInverseDelta, b);
  for (let i = 0; i < 200 && high - low > 1e-12; i++) {
    if (fa <= fb) {
      high = b;
      b = a;
      fb = fa;
      a = high - phi * (high - low);
      fa = epsilonAtOrder(rho, logInverseDelta, a);
    } else {
      low = a;
      a = b;
      fa = fb;
      b = low + phi * (high - low);
      fb = epsilonAtOrder(rho, logInverseDelta, b);
    }
  }
  return Math.max(0, Math.min(fa, fb));
}
