/**
 * Statistical tests for samplers, each with a stated false-alarm probability:
 * a correct sampler fails one with probability `alpha` (1e-6 unless a test
 * says otherwise), so a suite of a few dozen such checks fails by chance
 * about once in tens of thousands of runs, and a failure means a bug.
 *
 * The critical values are computed, not looked up: the regularized upper
 * incomplete gamma function Q(a, x) (series or continued fraction, as in
 * Numerical Recipes §6.2) gives the χ² tail, Q(df/2, x/2), and the normal
 * tail, P(|Z| > z) = Q(1/2, z²/2); bisection inverts them.
 */
import assert from "node:assert/strict";

/** The false-alarm probability of each statistical check. */
export const ALPHA = 1e-6;

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: relative error below 1e-15). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Q(a, x) = Γ(a, x)/Γ(a), the regularized upper incomplete gamma function, for a > 0, x ≥ 0. */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - logGamma(a));
  if (x < a + 1) {
    // P(a, x) by its series; Q = 1 − P.
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000 && Math.abs(term) > Math.abs(sum) * 1e-17; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - front * sum;
  }
  // Q(a, x) by its continued fraction (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return front * h;
}

/** The x with tail(x) = alpha, for a decreasing tail on [0, ∞). */
function invertTail(tail: (x: number) => number, alpha: number): number {
  let lo = 0;
  let hi = 1;
  while (tail(hi) > alpha) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (tail(mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The χ² critical value: P(χ²_df > x) = alpha. */
export const chiSquaredCritical = (df: number, alpha = ALPHA): number =>
  invertTail((x) => gammaQ(df / 2, x / 2), alpha);

/** The two-sided normal critical value: P(|Z| > z) = alpha (4.8916 for 1e-6, 4.41717 for 1e-5). */
export const normalCritical = (alpha = ALPHA): number => invertTail((z) => gammaQ(0.5, (z * z) / 2), alpha);

/** The Wilson score interval for k successes in n trials, two-sided at alpha. */
export function wilsonInterval(k: number, n: number, alpha = ALPHA): [number, number] {
  const z = normalCritical(alpha);
  const p = k / n;
  const z2 = z * z;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** Asserts that k successes in n trials are consistent with probability p (Wilson, two-sided at alpha). */
export function assertProportion(k: number, n: number, p: number, label: string, alpha = ALPHA): void {
  const [lo, hi] = wilsonInterval(k, n, alpha);
  assert.ok(
    lo <= p && p <= hi,
    `${label}: ${k}/${n} = ${k / n}, but p = ${p} is outside the Wilson interval [${lo}, ${hi}]`,
  );
}

/**
 * Pearson's χ² goodness-of-fit test of observed counts against bin
 * probabilities (which must sum to 1: put the tails in bins of their own).
 * Bins are expected to hold at least 5 samples each, where the χ²
 * approximation is good. Fails with probability alpha for a correct sampler.
 */
export function assertChiSquared(observed: number[], probabilities: number[], label: string, alpha = ALPHA): void {
  const n = observed.reduce((a, b) => a + b, 0);
  const total = probabilities.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-9, `${label}: bin probabilities sum to ${total}, not 1`);
  let statistic = 0;
  for (const [i, p] of probabilities.entries()) {
    const expected = n * p;
    assert.ok(expected >= 5, `${label}: bin ${i} expects ${expected} samples; merge it into a tail bin`);
    statistic += (observed[i]! - expected) ** 2 / expected;
  }
  const df = probabilities.length - 1;
  const critical = chiSquaredCritical(df, alpha);
  assert.ok(
    statistic <= critical,
    `${label}: χ² = ${statistic.toFixed(2)} > ${critical.toFixed(2)} (df ${df}, alpha ${alpha})`,
  );
}

/**
 * Bins for an integer distribution: one per integer in [lo, hi] with its
 * probability, and the two tails as one bin each; lo and hi are chosen so
 * that every bin expects at least `minExpected` of n samples.
 */
export function integerBins(
  pmf: (z: number) => number,
  n: number,
  minExpected = 20,
): { lo: number; hi: number; probabilities: number[]; bin: (z: bigint) => number } {
  let hi = 0;
  while (pmf(hi + 1) * n >= minExpected) hi++;
  let lo = 0;
  while (pmf(lo - 1) * n >= minExpected) lo--;
  // Each tail summed far out (1 minus everything else would lose its precision), then grown inwards until it
  // expects at least 5 samples.
  const tail = (from: number, step: number) => {
    let sum = 0;
    for (let z = from; ; z += step) {
      const p = pmf(z);
      sum += p;
      if (p === 0 || (p < sum * 1e-17 && Math.abs(z - from) > 10)) return sum;
    }
  };
  let below = tail(lo - 1, -1);
  while (below * n < 5) below += pmf(lo++);
  let above = tail(hi + 1, 1);
  while (above * n < 5) above += pmf(hi--);
  const inside = Array.from({ length: hi - lo + 1 }, (_, i) => pmf(lo + i));
  const probabilities = [below, ...inside, above];
  const bin = (z: bigint) => (z < BigInt(lo) ? 0 : z > BigInt(hi) ? probabilities.length - 1 : Number(z) - lo + 1);
  return { lo, hi, probabilities, bin };
}

/** Sample mean and (unbiased) variance of bigints that fit in doubles. */
export function moments(samples: bigint[]): { mean: number; variance: number } {
  const xs = samples.map(Number);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}
