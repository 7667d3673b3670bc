/**
 * Exact samplers for differential privacy: Bernoulli(exp(-x)), the discrete
 * Laplace and the discrete Gaussian, in integers only, after Canonne, Kamath
 * and Steinke 2020, "The Discrete Gaussian for Differential Privacy"
 * (NeurIPS 2020, arXiv:2004.00010; "CKS 2020" below), Algorithms 1–3, as
 * OpenDP implements them (rust/src/traits/samplers/cks20/mod.rs:
 * sample_bernoulli_exp, sample_geometric_exp_fast, sample_discrete_laplace,
 * sample_discrete_gaussian) and Steinke's reference code
 * (github.com/IBM/discrete-gaussian-differential-privacy, discretegauss.py).
 *
 * Every random decision is a comparison of a uniform integer (from a
 * {@link RandomSource}, node:crypto by default) with an integer, so each
 * output has exactly the probability the algorithm's proof gives it: there
 * is no floating-point inverse CDF whose rounding could leak the input
 * (Mironov 2012).
 *
 * Speed: each algorithm runs on JavaScript numbers while every integer it
 * handles is below 2^53 (where doubles are exact integers: every product is
 * checked against 2^53 before it is trusted) and on BigInt otherwise. The two
 * paths are the same algorithm; test/noise/samplers.test.ts drives both
 * through the same exact-distribution checks.
 */
import { cryptoRandom, type RandomSource } from "./random.ts";
import { invalidParameter, type RationalInput, toInteger, toRational } from "./rational.ts";

const TWO_53 = 2 ** 53;
const BIG_TWO_53 = 2n ** 53n;

// The functions below come in pairs: …Number while every integer is below 2^53, …Big otherwise. They are
// exported for test/noise/samplers.test.ts, which checks both paths' exact distributions on the same
// (small) parameters; the package exposes only the checked functions at the end of each section.

// ---------------------------------------------------------------------------
// Bernoulli(exp(-x)): CKS 2020 Algorithm 1.
// ---------------------------------------------------------------------------

/**
 * Bernoulli(exp(-1)). CKS 2020 Algorithm 1 with γ = 1: draw Bernoulli(1/k)
 * for k = 1, 2, … until one is 0; the k it stops at is odd with probability
 * Σ_{k odd} (1/(k−1)! − 1/k!) = e^{-1}. Bernoulli(1/1) is always 1, so the
 * loop starts at k = 2. (k never nears 2^53: reaching k has probability 1/(k−1)!.)
 */
export function bernoulliExpMinusOne(source: RandomSource): boolean {
  for (let k = 2; ; k++) {
    if (!source.bernoulli(1, k)) return (k & 1) === 1;
  }
}

/** Bernoulli(exp(-num/den)) for integers 0 ≤ num ≤ den ≤ 2^53 (CKS 2020 Algorithm 1, γ ∈ [0, 1]). */
export function bernoulliExp1Number(source: RandomSource, num: number, den: number): boolean {
  for (let k = 1; ; k++) {
    // Bernoulli(γ/k) = Bernoulli(num/(den·k)). The product is exact while it is ≤ 2^53: rounding is monotone
    // and 2^53 is a double, so a product above 2^53 never rounds down to it. Past that, BigInt.
    const n = den * k;
    if (n > TWO_53) return bernoulliExp1Big(source, BigInt(num), BigInt(den), BigInt(k));
    if (!source.bernoulli(num, n)) return (k & 1) === 1;
  }
}

/** Bernoulli(exp(-num/den)) for bigints 0 ≤ num ≤ den, den ≥ 1 (CKS 2020 Algorithm 1, γ ∈ [0, 1]), from step k on. */
export function bernoulliExp1Big(source: RandomSource, num: bigint, den: bigint, k = 1n): boolean {
  for (; ; k++) {
    if (!source.bernoulliBig(num, den * k)) return (k & 1n) === 1n;
  }
}

/** Bernoulli(exp(-num/den)) for integers num ≥ 0, den ≥ 1, both ≤ 2^53. */
export function bernoulliExpNumber(source: RandomSource, num: number, den: number): boolean {
  // CKS 2020 Algorithm 1 for γ > 1: exp(-γ) = exp(-1)^(⌈γ⌉−1) · exp(-(γ − ⌈γ⌉ + 1)), one Bernoulli per
  // factor, stopping at the first 0. Like OpenDP, whole units come off while γ > 1, leaving γ in [0, 1].
  while (num > den) {
    if (!bernoulliExpMinusOne(source)) return false;
    num -= den;
  }
  return bernoulliExp1Number(source, num, den);
}

/** Bernoulli(exp(-num/den)) for bigints num ≥ 0, den ≥ 1, any size: the same steps as {@link bernoulliExpNumber}. */
export function bernoulliExpBig(source: RandomSource, num: bigint, den: bigint): boolean {
  const whole = num > den ? (num - 1n) / den : 0n; // ⌈γ⌉ − 1 units of exp(-1), leaving γ in (0, 1]
  for (let i = 0n; i < whole; i++) {
    if (!bernoulliExpMinusOne(source)) return false;
  }
  return bernoulliExp1Big(source, num - whole * den, den);
}

/** Bernoulli(exp(-num/den)) on the fast path when it can. */
function bernoulliExpAny(source: RandomSource, num: bigint, den: bigint): boolean {
  if (num <= BIG_TWO_53 && den <= BIG_TWO_53) return bernoulliExpNumber(source, Number(num), Number(den));
  return bernoulliExpBig(source, num, den);
}

/**
 * Bernoulli(exp(-x)) for a rational x ≥ 0, exactly: true with probability
 * e^{-x}. CKS 2020 Algorithm 1 (OpenDP `sample_bernoulli_exp`): for x ≤ 1,
 * draw Bernoulli(x/k) for k = 1, 2, … until one is 0 and answer whether that
 * k is odd; for x > 1, multiply ⌈x⌉ − 1 independent Bernoulli(e^{-1}) with
 * one Bernoulli(exp(-(x − ⌈x⌉ + 1))). Uses only uniform integers and
 * comparisons.
 *
 * @example
 * ```ts
 * bernoulliExp({ num: 1n, den: 2n }); // true with probability e^{-1/2} ≈ 0.6065
 * bernoulliExp(0);                    // always true
 * ```
 */
export function bernoulliExp(x: RationalInput, source: RandomSource = cryptoRandom): boolean {
  const { num, den } = toRational(x, "bernoulliExp", "x");
  if (num < 0n) throw invalidParameter("bernoulliExp", "x", `must be ≥ 0, got ${num}/${den}`);
  return bernoulliExpAny(source, num, den);
}

// ---------------------------------------------------------------------------
// Geometric and discrete Laplace: CKS 2020 Algorithm 2.
// ---------------------------------------------------------------------------

/**
 * Geometric(1 − e^{-s/t}) on {0, 1, …}: P(g) = (1 − e^{-s/t})·e^{-g·s/t}, for
 * integers 1 ≤ s, t ≤ 2^53 (the first half of CKS 2020 Algorithm 2; OpenDP
 * `sample_geometric_exp_fast`). U uniform in [0, t) kept with probability
 * e^{-U/t} is the fractional part of an exponential in units of 1/t; V, the
 * count of Bernoulli(e^{-1}) successes before a failure, its integer part;
 * ⌊(U + t·V)/s⌋ rescales it to rate s/t. A number, or a bigint when U + t·V
 * passes 2^53 (which takes V ≥ 2^53/t, probability e^{-2^53/t}).
 */
export function geometricNumber(source: RandomSource, s: number, t: number): number | bigint {
  let u: number;
  do u = source.below(t);
  while (!bernoulliExp1Number(source, u, t));
  let v = 0;
  while (bernoulliExpMinusOne(source)) v++;
  const z = t * v + u; // exact when below 2^53 (see bernoulliExp1Number)
  // ⌊z/s⌋ without a rounded division: z % s is exact on doubles, and so is dividing the multiple of s left.
  if (z < TWO_53) return (z - (z % s)) / s;
  return (BigInt(t) * BigInt(v) + BigInt(u)) / BigInt(s);
}

/** {@link geometricNumber} for any integers s, t ≥ 1. */
export function geometricBig(source: RandomSource, s: bigint, t: bigint): bigint {
  let u: bigint;
  do u = source.belowBig(t);
  while (!bernoulliExp1Big(source, u, t));
  let v = 0n;
  while (bernoulliExpMinusOne(source)) v++;
  return (t * v + u) / s;
}

/**
 * Discrete Laplace of scale t/s (CKS 2020 Algorithm 2) for integers
 * 1 ≤ s, t ≤ 2^53: a number, or a bigint when the magnitude passes 2^53.
 */
export function discreteLaplaceNumber(source: RandomSource, s: number, t: number): number | bigint {
  for (;;) {
    // The magnitude is Geometric(1 − e^{-1/scale}) = Geometric(1 − e^{-s/t}), the sign a fair coin.
    const magnitude = geometricNumber(source, s, t);
    const negative = source.bernoulli(1, 2);
    // (negative, 0) is rejected, or 0 would come out twice as often as it should (CKS 2020 Algorithm 2).
    if (magnitude === 0) {
      if (negative) continue;
      return 0;
    }
    return negative ? -magnitude : magnitude;
  }
}

/** {@link discreteLaplaceNumber} for any integers s, t ≥ 1. */
export function discreteLaplaceBig(source: RandomSource, s: bigint, t: bigint): bigint {
  for (;;) {
    const magnitude = geometricBig(source, s, t);
    const negative = source.bernoulli(1, 2);
    if (magnitude === 0n) {
      if (negative) continue;
      return 0n;
    }
    return negative ? -magnitude : magnitude;
  }
}

/** Discrete Laplace of scale num/den > 0 (checked by the callers), on the fast path when it can. */
function discreteLaplaceAny(source: RandomSource, num: bigint, den: bigint): bigint {
  if (num <= BIG_TWO_53 && den <= BIG_TWO_53) {
    const z = discreteLaplaceNumber(source, Number(den), Number(num));
    return typeof z === "number" ? BigInt(z) : z;
  }
  return discreteLaplaceBig(source, den, num);
}

/**
 * A sample of the discrete Laplace distribution of scale t > 0 (rational),
 * exactly: P(Z = z) = (e^{1/t} − 1)/(e^{1/t} + 1) · e^{-|z|/t} for every
 * integer z (CKS 2020 Definition of the discrete Laplace and Algorithm 2;
 * OpenDP `sample_discrete_laplace`). Added to an integer query whose value
 * changes by at most Δ between neighbouring datasets, it gives
 * (Δ/t)-differential privacy: scale maxKeys/epsilon for a count to which one
 * person adds at most maxKeys keys, each once.
 *
 * @example
 * ```ts
 * const scale = { num: 10n, den: 1n };   // maxKeys 10, epsilon 1
 * const noisy = trueCount + discreteLaplace(scale);
 * ```
 */
export function discreteLaplace(scale: RationalInput, source: RandomSource = cryptoRandom): bigint {
  const { num, den } = toRational(scale, "discreteLaplace", "scale");
  if (num <= 0n) throw invalidParameter("discreteLaplace", "scale", `must be > 0, got ${num}/${den}`);
  return discreteLaplaceAny(source, num, den);
}

/**
 * A discrete Laplace sampler of fixed scale t > 0: the same distribution as
 * {@link discreteLaplace}, with the scale checked and converted once, for
 * drawing many samples (one per key of a release).
 *
 * @example
 * ```ts
 * const noise = discreteLaplaceSampler({ num: 10n, den: 1n }); // maxKeys 10, epsilon 1
 * const noisy = counts.map((count) => count + noise());
 * ```
 */
export function discreteLaplaceSampler(scale: RationalInput, source: RandomSource = cryptoRandom): () => bigint {
  const { num, den } = toRational(scale, "discreteLaplaceSampler", "scale");
  if (num <= 0n) throw invalidParameter("discreteLaplaceSampler", "scale", `must be > 0, got ${num}/${den}`);
  if (num <= BIG_TWO_53 && den <= BIG_TWO_53) {
    const [s, t] = [Number(den), Number(num)];
    return () => {
      const z = discreteLaplaceNumber(source, s, t);
      return typeof z === "number" ? BigInt(z) : z;
    };
  }
  return () => discreteLaplaceBig(source, den, num);
}

// ---------------------------------------------------------------------------
// Discrete Gaussian: CKS 2020 Algorithm 3.
// ---------------------------------------------------------------------------

/** ⌊√n⌋ for a bigint n ≥ 0 (Newton's method on integers). */
export function floorSqrt(n: bigint): bigint {
  if (n < 0n) throw invalidParameter("floorSqrt", "n", "must be ≥ 0");
  if (n < BIG_TWO_53) {
    // Math.sqrt of an exact double is correctly rounded; the two loops fix the rare off-by-one of the floor.
    let r = BigInt(Math.floor(Math.sqrt(Number(n))));
    while (r * r > n) r--;
    while ((r + 1n) * (r + 1n) <= n) r++;
    return r;
  }
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2)); // ≥ √n
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/**
 * CKS 2020 Algorithm 3's constants for σ² = a/b (a, b ≥ 1): t = ⌊σ⌋ + 1
 * (= ⌊√⌊a/b⌋⌋ + 1, as ⌊√x⌋ = ⌊√⌊x⌋⌋), b·t, and the acceptance test's
 * denominator 2σ²t² = 2ab·t² (over b²). Each draw: Y ← discrete Laplace of
 * scale t, kept with probability exp(−(|Y| − σ²/t)²/(2σ²)), that is
 * exp(−(|Y|·b·t − a)² / (2·a·b·t²)).
 */
function gaussianConstants(a: bigint, b: bigint): { t: bigint; bt: bigint; den: bigint } {
  const t = floorSqrt(a / b) + 1n;
  const bt = b * t;
  return { t, bt, den: 2n * a * bt * t };
}

/** The discrete Gaussian of σ² = a/b when 2·a·b·t² < 2^53 (so a, b·t, t < 2^53 too), in numbers while exact. */
export function gaussianNumberSampler(a: bigint, b: bigint, source: RandomSource): () => bigint {
  const { t, bt, den } = gaussianConstants(a, b);
  if (den >= BIG_TWO_53) throw new RangeError("gaussianNumberSampler: 2·a·b·t² must be below 2^53");
  const [A, BT, DEN, T] = [Number(a), Number(bt), Number(den), Number(t)];
  return () => {
    for (;;) {
      const y = discreteLaplaceNumber(source, 1, T);
      if (typeof y === "number") {
        const scaled = Math.abs(y) * BT; // ≥ 2^53 as computed whenever it is in fact
        const d = scaled - A; // exact when scaled < 2^53: both terms are exact integers below 2^53
        const num = d * d;
        if (scaled < TWO_53 && num < TWO_53) {
          if (bernoulliExpNumber(source, num, DEN)) return BigInt(y);
          continue;
        }
      }
      // A candidate far in the tail: the same test in BigInt.
      const big = BigInt(y);
      const d = (big < 0n ? -big : big) * bt - a;
      if (bernoulliExpBig(source, d * d, den)) return big;
    }
  };
}

/** The discrete Gaussian of σ² = a/b for any a, b ≥ 1, in BigInt (the candidate in numbers when t < 2^53). */
export function gaussianBigSampler(a: bigint, b: bigint, source: RandomSource): () => bigint {
  const { t, bt, den } = gaussianConstants(a, b);
  const T = t <= BIG_TWO_53 ? Number(t) : 0;
  return () => {
    for (;;) {
      let y: bigint;
      if (T > 0) {
        const z = discreteLaplaceNumber(source, 1, T);
        y = typeof z === "number" ? BigInt(z) : z;
      } else {
        y = discreteLaplaceBig(source, 1n, t);
      }
      const d = (y < 0n ? -y : y) * bt - a;
      if (bernoulliExpBig(source, d * d, den)) return y;
    }
  };
}

function gaussianSampler(a: bigint, b: bigint, source: RandomSource): () => bigint {
  return gaussianConstants(a, b).den < BIG_TWO_53
    ? gaussianNumberSampler(a, b, source)
    : gaussianBigSampler(a, b, source);
}

/** σ² checked: a rational > 0, as a/b with b > 0. */
function checkVariance(sigma2: RationalInput, fn: string): { a: bigint; b: bigint } {
  const { num, den } = toRational(sigma2, fn, "sigma2");
  if (num <= 0n) throw invalidParameter(fn, "sigma2", `must be > 0, got ${num}/${den}`);
  return { a: num, b: den };
}

/**
 * A sample of the discrete Gaussian with variance parameter σ² > 0
 * (rational), exactly: P(Z = z) = e^{-z²/(2σ²)} / Σ_y e^{-y²/(2σ²)} for every
 * integer z (CKS 2020 Algorithm 3; OpenDP `sample_discrete_gaussian`, which
 * takes σ; Steinke's `sample_dgauss`, which takes σ² as here). Its variance
 * is slightly below σ² (CKS 2020: at most σ², and within e^{-2π²σ²}-relative
 * terms of it once σ ≳ 1). Added to an integer vector whose L2 sensitivity is
 * Δ, it gives Δ²/(2σ²)-zCDP, as the continuous Gaussian does (CKS 2020, the
 * privacy of the discrete Gaussian).
 *
 * @example
 * ```ts
 * discreteGaussian(4);                       // σ = 2
 * discreteGaussian({ num: 9n, den: 4n });    // σ = 1.5, exactly
 * ```
 */
export function discreteGaussian(sigma2: RationalInput, source: RandomSource = cryptoRandom): bigint {
  const { a, b } = checkVariance(sigma2, "discreteGaussian");
  return gaussianSampler(a, b, source)();
}

/**
 * A discrete Gaussian sampler of fixed σ² > 0: the same distribution as
 * {@link discreteGaussian}, with σ² checked and CKS 2020 Algorithm 3's
 * constants computed once, for drawing many samples.
 *
 * @example
 * ```ts
 * const noise = discreteGaussianSampler(2n ** 32n); // σ = 65536
 * const noisy = fixed.map((x) => x + noise());
 * ```
 */
export function discreteGaussianSampler(sigma2: RationalInput, source: RandomSource = cryptoRandom): () => bigint {
  const { a, b } = checkVariance(sigma2, "discreteGaussianSampler");
  return gaussianSampler(a, b, source);
}

/**
 * Adds independent discrete Gaussian noise of variance parameter σ² to every
 * coordinate of an integer vector and returns the noisy vector (a new array
 * of bigint): the Gaussian mechanism of §11's federated learning, in fixed
 * point.
 *
 * How a caller brings a float vector here (the aggregate of clipped model
 * updates, each update of L2 norm ≤ C):
 * 1. pick a fixed-point scale γ = 2^k (k = 16 is plenty for float32 models);
 * 2. round each coordinate: x_i = Math.round(v_i · γ), as an integer;
 * 3. bound the L2 sensitivity of the integer vector: rounding moves each of
 *    the d coordinates by at most 1/2, so if the float aggregate changes by
 *    at most Δ in L2 when one person's update is added or removed, the
 *    rounded one changes by at most Δ_int = γ·Δ + √d (γ·C + √d/2 when every
 *    update is rounded before summing);
 * 4. choose σ_int = (noise multiplier)·Δ_int and pass σ² = σ_int² as an
 *    exact rational (e.g. `rational(σ_int_numerator² , σ_int_denominator²)`,
 *    or an integer): this step is ρ = Δ_int²/(2σ²)-zCDP (CKS 2020);
 * 5. divide the noisy integers by γ to get floats back.
 * Keep k such that γ·Δ ≫ √d, or the rounding term dominates the noise.
 *
 * @example
 * ```ts
 * const gamma = 2 ** 16;
 * const fixed = aggregate.map((v) => Math.round(v * gamma));
 * const sensitivity = Math.ceil(gamma * clip + Math.sqrt(fixed.length)); // an integer bound on Δ_int
 * const noisy = addDiscreteGaussianNoise(fixed, BigInt(sensitivity) ** 2n); // noise multiplier 1
 * const floats = noisy.map((x) => Number(x) / gamma);
 * ```
 */
export function addDiscreteGaussianNoise(
  values: ArrayLike<bigint | number>,
  sigma2: RationalInput,
  source: RandomSource = cryptoRandom,
): bigint[] {
  const { a, b } = checkVariance(sigma2, "addDiscreteGaussianNoise");
  const integers = Array.from(values, (value, i) => toInteger(value, "addDiscreteGaussianNoise", `values[${i}]`));
  const sample = gaussianSampler(a, b, source);
  return integers.map((x) => x + sample());
}
