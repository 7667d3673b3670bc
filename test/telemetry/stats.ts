/**
 * Fixed-false-alarm bounds for the telemetry tests' statistical checks. Each
 * check is set at Z standard deviations, so a correct implementation fails
 * one with probability about 4·10^-8 (two-sided normal tail at 5.5), and the
 * whole folder's couple of dozen checks fail together with probability below
 * 10^-6 per run. A wrong probability (a flip rate of 1/(e^{ε/2}+1) instead of
 * 1/(e^ε+1), a biased index) moves the statistic by many times that.
 */

/** Standard deviations of every bound: P(|N(0,1)| > 5.5) = 3.8·10^-8. */
export const Z = 5.5;

/** Is `count` successes of `trials` Bernoulli(p) trials within Z standard deviations of trials·p? */
export function binomialWithin(count: number, trials: number, p: number): { ok: boolean; z: number } {
  const z = (count - trials * p) / Math.sqrt(trials * p * (1 - p));
  return { ok: Math.abs(z) <= Z, z };
}

/**
 * Pearson's χ² of `counts` against equal expected counts, and the bound it
 * stays under with a false-alarm rate of the one-sided normal tail at Z
 * (Wilson–Hilferty: (χ²/df)^(1/3) is close to normal with mean 1 − 2/(9df)
 * and variance 2/(9df); Johnson, Kotz and Balakrishnan, Continuous
 * Univariate Distributions vol. 1, §18.8).
 */
export function uniformChiSquare(counts: ArrayLike<number>): { statistic: number; bound: number } {
  const bins = counts.length;
  let total = 0;
  for (let i = 0; i < bins; i++) total += counts[i]!;
  const expected = total / bins;
  let statistic = 0;
  for (let i = 0; i < bins; i++) statistic += (counts[i]! - expected) ** 2 / expected;
  const df = bins - 1;
  const bound = df * (1 - 2 / (9 * df) + Z * Math.sqrt(2 / (9 * df))) ** 3;
  return { statistic, bound };
}
