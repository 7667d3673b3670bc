/**
 * Laplace partition selection: which keys of a noisy histogram may be
 * released at all. A key that only one person holds must almost never appear
 * (its mere presence would reveal that person), so a key is released only
 * when its noisy count reaches a threshold τ chosen so that a key of true
 * count l∞ (one person's whole contribution) passes with probability at most
 * δ_p, the per-key share of delta. The noise itself gives epsilon to the keys
 * present in both neighbouring datasets; the threshold gives delta to the at
 * most l0 keys present in only one. (Korolova, Kenthapadi, Mishra, Ntoulas
 * 2009, "Releasing search queries and clicks privately"; Wilson et al. 2020,
 * "Differentially private SQL with bounded user contribution", §3.)
 *
 * Two thresholds live here:
 *
 * - {@link laplaceThreshold} and {@link laplaceDeltaForThreshold}: Google's,
 *   for continuous Laplace noise, the same formula as the differential-privacy
 *   library (github.com/google/differential-privacy, commit b5b0286e):
 *   go/noise/laplace_noise.go `(laplace) Threshold` and `DeltaForThreshold`,
 *   with the numerically stable per-partition delta of cc/algorithms/
 *   partition-selection.h `PartitionSelectionStrategy::CalculateAdjustedDelta`
 *   and `CalculateUnadjustedDelta` (used by `LaplacePartitionSelection::
 *   CalculateThreshold` / `CalculateDelta`, which are the case l∞ = 1).
 *   Their test vectors are in test/noise/threshold.test.ts.
 *
 * - {@link discreteLaplaceThreshold} and {@link discreteLaplaceDeltaForThreshold}:
 *   the exact threshold for the discrete Laplace noise Consentgate adds. It is
 *   not Google's number rounded up, and the difference matters: at an integer
 *   k ≥ 1 the discrete Laplace of scale λ has tail
 *       P(Z ≥ k) = q^k / (1 + q),   q = e^{-1/λ},
 *   which is HEAVIER than the continuous Laplace's ½·e^{-k/λ} = ½·q^k at the
 *   same scale (1 + q < 2). Releasing at ⌈Google's τ⌉ would let a single
 *   person's key through with probability up to 2/(1 + q) times δ_p (5 % more
 *   at λ = 10, almost twice as much at λ < 1). Solving q^k/(1 + q) ≤ δ_p
 *   exactly instead gives, for every δ_p ≤ ½ (so every delta ≤ ½),
 *       τ_discrete = l∞ + ⌈λ·ln(1/((1 + q)·δ_p))⌉ = ⌈τ_Google + c⌉,
 *       c = λ·ln(2/(1 + q)) ∈ (0, ½]
 *   (c ≤ ½ because ln(1 + e^{-u}) ≥ ln 2 − u/2 by convexity), so the exact
 *   discrete threshold is Google's rounded up, or one more. (Equivalently:
 *   P(Z ≥ k) = P(L ≥ k − c) for k ≥ 1, with L the continuous Laplace. Below
 *   l∞, for δ_p > ½, the shift is 1 − c instead; no release uses that.)
 */
import { invalidParameter } from "./rational.ts";

/**
 * The parameters of a partition selection: at most `l0` keys per person, each
 * counted at most `lInf` times, with privacy (epsilon, delta). The noise has
 * scale λ = l0·l∞/epsilon.
 *
 * @example
 * ```ts
 * const popular: PartitionSelection = { l0: 10, lInf: 1, epsilon: 1, delta: 1e-9 };
 * ```
 */
export interface PartitionSelection {
  /** The most distinct keys one person contributes to (maxKeys): an integer ≥ 1. */
  l0: number;
  /** The most one person adds to one key's count: > 0 (an integer ≥ 1 for the discrete thresholds). 1 for distinct counts. */
  lInf: number;
  /** The privacy loss of the noise: finite, > 0. */
  epsilon: number;
  /** The probability that any of one person's l0 keys is released on its own: in [0, 1]. */
  delta: number;
}

/** The same without delta, for the inverse functions. */
export type PartitionNoise = Omit<PartitionSelection, "delta">;

function checkNoise(fn: string, p: PartitionNoise, integerLInf: boolean): void {
  if (typeof p !== "object" || p === null) throw invalidParameter(fn, "parameters", "must be an object");
  if (!Number.isSafeInteger(p.l0) || p.l0 < 1) throw invalidParameter(fn, "l0", `must be an integer ≥ 1, got ${p.l0}`);
  if (typeof p.lInf !== "number" || !Number.isFinite(p.lInf) || p.lInf <= 0) {
    throw invalidParameter(fn, "lInf", `must be a finite number > 0, got ${p.lInf}`);
  }
  if (integerLInf && !Number.isSafeInteger(p.lInf)) {
    throw invalidParameter(fn, "lInf", `must be an integer ≥ 1 for integer counts, got ${p.lInf}`);
  }
  if (typeof p.epsilon !== "number" || !Number.isFinite(p.epsilon) || p.epsilon <= 0) {
    throw invalidParameter(fn, "epsilon", `must be a finite number > 0, got ${p.epsilon}`);
  }
}

function checkDelta(fn: string, delta: number): void {
  if (typeof delta !== "number" || !(delta >= 0 && delta <= 1)) {
    throw invalidParameter(fn, "delta", `must be a number in [0, 1], got ${delta}`);
  }
}

/**
 * The per-key delta δ_p = 1 − (1 − δ)^{1/l0}: the probability that one of a
 * person's l0 keys is released on its own, such that all l0 together (each
 * independently) are released with probability at most δ. Computed as
 * −expm1(log1p(−δ)/l0), Google's numerically stable form
 * (cc/algorithms/partition-selection.h, CalculateAdjustedDelta), so that
 * δ = 1e-200 is not lost in 1 − δ.
 *
 * @example
 * ```ts
 * perPartitionDelta(1e-9, 10); // ≈ 1.0000000004e-10
 * ```
 */
export function perPartitionDelta(delta: number, l0: number): number {
  checkDelta("perPartitionDelta", delta);
  if (!Number.isSafeInteger(l0) || l0 < 1)
    throw invalidParameter("perPartitionDelta", "l0", `must be an integer ≥ 1, got ${l0}`);
  if (delta === 1) return 1; // log1p(-1) = -Infinity
  return -Math.expm1(Math.log1p(-delta) / l0);
}

/** δ = 1 − (1 − δ_p)^{l0}, the inverse of {@link perPartitionDelta} (Google's CalculateUnadjustedDelta). */
function unadjustedDelta(partitionDelta: number, l0: number): number {
  if (partitionDelta >= 1) return 1;
  return -Math.expm1(l0 * Math.log1p(-partitionDelta));
}

/**
 * Google's Laplace partition-selection threshold: the smallest τ such that a
 * key of true count l∞ plus continuous Laplace noise of scale
 * λ = l0·l∞/epsilon reaches τ with probability at most δ_p
 * ({@link perPartitionDelta}):
 *     τ = l∞ − λ·ln(2·δ_p)          if δ_p ≤ ½
 *     τ = l∞ + λ·ln(2·(1 − δ_p))    otherwise.
 * Source: github.com/google/differential-privacy, go/noise/laplace_noise.go,
 * `func (laplace) Threshold` (the formula and its derivation), with δ_p from
 * cc/algorithms/partition-selection.h `CalculateAdjustedDelta` (the C++
 * `LaplacePartitionSelection::CalculateThreshold` is this with l∞ = 1; it
 * picks the branch on delta > ½ where Go, as here, picks it on δ_p, which is
 * the correct condition and the same one whenever l0 = 1 or delta ≤ ½).
 * Returns +Infinity for delta = 0 and −Infinity for delta = 1, as Google's.
 *
 * This threshold is for continuous noise; Consentgate's counts get discrete
 * Laplace noise and must use {@link discreteLaplaceThreshold}.
 *
 * @example
 * ```ts
 * laplaceThreshold({ l0: 1, lInf: 1, epsilon: Math.log(3), delta: 1e-10 }); // ≈ 21.33
 * ```
 */
export function laplaceThreshold(p: PartitionSelection): number {
  checkNoise("laplaceThreshold", p, false);
  checkDelta("laplaceThreshold", p.delta);
  const lambda = (p.l0 * p.lInf) / p.epsilon;
  const partitionDelta = perPartitionDelta(p.delta, p.l0);
  if (partitionDelta <= 0.5) return p.lInf - lambda * Math.log(2 * partitionDelta);
  return p.lInf + lambda * Math.log(2 * (1 - partitionDelta));
}

/**
 * The delta a threshold τ gives with continuous Laplace noise, the inverse of
 * {@link laplaceThreshold}: δ_p = P(l∞ + L ≥ τ) = ½·e^{-(τ − l∞)/λ} for
 * τ ≥ l∞ (1 − ½·e^{(τ − l∞)/λ} below), then δ = 1 − (1 − δ_p)^{l0}.
 * Source: github.com/google/differential-privacy, go/noise/laplace_noise.go,
 * `func (laplace) DeltaForThreshold`, with δ from cc/algorithms/
 * partition-selection.h `CalculateUnadjustedDelta` (the stable form of
 * Go's 1 − (1 − δ_p)^{l0}, which Go replaces by min(l0·δ_p, 1) for tiny δ_p).
 *
 * @example
 * ```ts
 * laplaceDeltaForThreshold({ l0: 1, lInf: 1, epsilon: Math.log(3) }, 20); // ≈ 4.3e-10
 * ```
 */
export function laplaceDeltaForThreshold(p: PartitionNoise, threshold: number): number {
  checkNoise("laplaceDeltaForThreshold", p, false);
  if (typeof threshold !== "number" || Number.isNaN(threshold)) {
    throw invalidParameter("laplaceDeltaForThreshold", "threshold", `must be a number, got ${threshold}`);
  }
  const lambda = (p.l0 * p.lInf) / p.epsilon;
  const partitionDelta =
    threshold >= p.lInf
      ? 0.5 * Math.exp(-(threshold - p.lInf) / lambda)
      : 1 - 0.5 * Math.exp((threshold - p.lInf) / lambda);
  return unadjustedDelta(partitionDelta, p.l0);
}

/**
 * P(Z ≥ k) for Z discrete Laplace of scale λ (q = e^{-1/λ}):
 * q^k/(1 + q) for k ≥ 1, and 1 − q^{1−k}/(1 + q) for k ≤ 0 (by symmetry,
 * P(Z ≥ k) = 1 − P(Z ≥ 1 − k)). From the pmf (1 − q)/(1 + q)·q^{|z|}.
 */
export function discreteLaplaceTail(lambda: number, k: number): number {
  const q = Math.exp(-1 / lambda);
  return k >= 1 ? Math.exp(-k / lambda) / (1 + q) : 1 - Math.exp(-(1 - k) / lambda) / (1 + q);
}

/**
 * The exact partition-selection threshold for discrete Laplace noise of scale
 * λ = l0·l∞/epsilon on integer counts: the smallest integer τ such that a key
 * of true count l∞ (one person's whole contribution) has noisy count ≥ τ with
 * probability at most δ_p = 1 − (1 − δ)^{1/l0} ({@link perPartitionDelta}).
 * So a key that only one person holds is released with probability ≤ δ_p,
 * and any of their l0 keys with probability ≤ δ. Release a key when
 * `noisyCount >= threshold`.
 *
 * With q = e^{-1/λ} and the tail of {@link discreteLaplaceTail}, the
 * smallest k = τ − l∞ with P(Z ≥ k) ≤ δ_p is
 *     k = ⌈λ·ln(1/((1 + q)·δ_p))⌉             when δ_p ≤ q/(1 + q) (k ≥ 1),
 *     k = ⌈1 − λ·ln(1/((1 + q)·(1 − δ_p)))⌉   otherwise (k ≤ 0).
 * This is Google's threshold (go/noise/laplace_noise.go, `Threshold`; see the
 * file header) corrected for the discrete tail: for delta ≤ ½,
 * τ = ⌈τ_Google + c⌉ with c = λ·ln(2/(1 + q)) ∈ (0, ½], so
 * ⌈τ_Google⌉ ≤ τ ≤ ⌈τ_Google + ½⌉.
 *
 * The logarithms are computed in floating point, so the ceiling is taken of
 * the computed value plus a margin of 1e-9 relative (1e-9 absolute below 1),
 * hundreds of thousands of times the rounding error of those few operations:
 * the result is never below the exact threshold, and is one above it only
 * when the exact value lies within that margin below an integer. This is a
 * public, data-independent number; the noise itself is sampled exactly.
 *
 * @example
 * ```ts
 * discreteLaplaceThreshold({ l0: 10, lInf: 1, epsilon: 1, delta: 1e-9 }); // 229n
 * // then: keep a key when trueCount + discreteLaplace({ num: 10n, den: 1n }) >= 229n
 * ```
 */
export function discreteLaplaceThreshold(p: PartitionSelection): bigint {
  checkNoise("discreteLaplaceThreshold", p, true);
  checkDelta("discreteLaplaceThreshold", p.delta);
  if (p.delta === 0 || p.delta === 1) {
    throw invalidParameter(
      "discreteLaplaceThreshold",
      "delta",
      `must be in (0, 1) for a finite threshold, got ${p.delta}`,
    );
  }
  const lambda = (p.l0 * p.lInf) / p.epsilon;
  const q = Math.exp(-1 / lambda);
  const partitionDelta = perPartitionDelta(p.delta, p.l0);
  const exact =
    partitionDelta <= q / (1 + q)
      ? -lambda * (Math.log1p(q) + Math.log(partitionDelta))
      : 1 + lambda * (Math.log1p(q) + Math.log1p(-partitionDelta));
  const k = Math.ceil(exact + 1e-9 * Math.max(1, Math.abs(exact)));
  if (!Number.isFinite(k)) {
    throw invalidParameter("discreteLaplaceThreshold", "delta", `is too small for a finite threshold, got ${p.delta}`);
  }
  return BigInt(p.lInf) + BigInt(k);
}

/**
 * The delta an integer threshold τ gives with discrete Laplace noise of scale
 * λ = l0·l∞/epsilon: δ_p = P(l∞ + Z ≥ τ) ({@link discreteLaplaceTail}), then
 * δ = 1 − (1 − δ_p)^{l0}. The inverse of {@link discreteLaplaceThreshold}:
 * the threshold it returns gives at most the delta asked for.
 *
 * @example
 * ```ts
 * discreteLaplaceDeltaForThreshold({ l0: 10, lInf: 1, epsilon: 1 }, 229n); // ≤ 1e-9
 * ```
 */
export function discreteLaplaceDeltaForThreshold(p: PartitionNoise, threshold: bigint): number {
  checkNoise("discreteLaplaceDeltaForThreshold", p, true);
  if (typeof threshold !== "bigint") {
    throw invalidParameter(
      "discreteLaplaceDeltaForThreshold",
      "threshold",
      `must be a bigint, got ${typeof threshold}`,
    );
  }
  const lambda = (p.l0 * p.lInf) / p.epsilon;
  return unadjustedDelta(discreteLaplaceTail(lambda, Number(threshold - BigInt(p.lInf))), p.l0);
}
