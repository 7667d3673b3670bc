/**
 * Exact output distributions of a sampler, with no sampling error: run it
 * against a RandomSource that answers every draw with each of its possible
 * values in turn (a depth-first walk of the tree of draws, replaying the
 * prefix each time), and add up each leaf's probability, the product of the
 * probabilities of the draws on its path. Branches whose probability falls
 * below 2^-cutoffBits are cut and their mass counted as unknown, so each
 * outcome's probability is known to lie in an interval of width at most the
 * cut mass plus the rounding of the sums.
 *
 * Sums are fixed point with 2^192 as one (each leaf is rounded down, so the
 * rounding adds at most one unit per leaf); weights are exact fractions.
 */
import type { RandomSource } from "../../src/noise/random.ts";

export const ONE = 1n << 192n;

export interface Enumeration<T> {
  /** Per outcome: its probability rounded down, in units of 2^-192 (a lower bound). */
  mass: Map<T, bigint>;
  /** The probability of the cut branches, rounded up, in the same units. */
  cut: bigint;
  /** Leaves reached (each rounded down by less than one unit). */
  leaves: number;
}

class Cut extends Error {}

/** Largest n a uniform draw may be enumerated for. */
const MAX_OPTIONS = 4096;

/**
 * Every outcome of `sample` with its probability, walking all draws down to
 * probability 2^-cutoffBits.
 */
export function enumerateOutcomes<T>(
  sample: (source: RandomSource) => T,
  cutoffBits = 64,
  maxLeaves = 100_000,
): Enumeration<T> {
  const choices: number[] = [];
  const sizes: number[] = [];
  const mass = new Map<T, bigint>();
  let cut = 0n;
  let leaves = 0;
  const limit = 1n << BigInt(cutoffBits);

  for (;;) {
    let step = 0;
    let num = 1n;
    let den = 1n;
    /** Picks this step's option (0 for a step not walked before) and multiplies its weight in. */
    const choose = (weights: [bigint, bigint][]): number => {
      if (step === choices.length) {
        choices.push(0);
        sizes.push(weights.length);
      } else if (sizes[step] !== weights.length) {
        throw new Error("enumerateOutcomes: the sampler is not a deterministic function of its draws");
      }
      const index = choices[step++]!;
      const [n, d] = weights[index]!;
      num *= n;
      den *= d;
      if (num * limit < den) throw new Cut();
      return index;
    };
    const uniform = (n: bigint): bigint => {
      if (n < 1n || n > BigInt(MAX_OPTIONS)) throw new Error(`enumerateOutcomes: cannot enumerate a draw below ${n}`);
      return BigInt(choose(Array.from({ length: Number(n) }, (): [bigint, bigint] => [1n, n])));
    };
    const bernoulli = (p: bigint, q: bigint): boolean => {
      if (p < 0n || p > q || q < 1n) throw new Error(`enumerateOutcomes: Bernoulli(${p}/${q}) is not a probability`);
      const options: [boolean, [bigint, bigint]][] = [];
      if (p > 0n) options.push([true, [p, q]]);
      if (p < q) options.push([false, [q - p, q]]);
      return options[choose(options.map(([, weight]) => weight))]![0];
    };
    const source: RandomSource = {
      below: (n) => Number(uniform(BigInt(n))),
      belowBig: uniform,
      bernoulli: (p, q) => bernoulli(BigInt(p), BigInt(q)),
      bernoulliBig: bernoulli,
    };

    try {
      const value = sample(source);
      mass.set(value, (mass.get(value) ?? 0n) + (num * ONE) / den);
      if (++leaves > maxLeaves) throw new Error(`enumerateOutcomes: more than ${maxLeaves} leaves; raise the cut`);
    } catch (error) {
      if (!(error instanceof Cut)) throw error;
      cut += (num * ONE + den - 1n) / den;
    }

    // The next path: the last step with an option left moves on to it; the steps after it are forgotten.
    choices.length = step;
    sizes.length = step;
    while (choices.length > 0 && choices.at(-1)! + 1 === sizes.at(-1)!) {
      choices.pop();
      sizes.pop();
    }
    if (choices.length === 0) return { mass, cut, leaves };
    choices[choices.length - 1]!++;
  }
}

/**
 * e^{-num/den} to within 2^-200, as an interval [lo, hi] in units of 2^-192:
 * the Taylor series Σ (−x)^j/j! summed exactly in rationals up to a term
 * below 2^-200 past j > x, where it alternates with decreasing terms, so the
 * rest lies between 0 and that term.
 */
export function expNegInterval(num: bigint, den: bigint): [bigint, bigint] {
  // Partial sum P/Q with Q = den^j · j!, and the current term's magnitude T/Q.
  let P = 1n;
  let Q = 1n;
  let T = 1n; // term j = 0 is 1 = T/Q
  for (let j = 1n; ; j++) {
    // term_j = term_{j-1} · x / j: over the common denominator Q·den·j.
    P *= den * j;
    T *= num;
    Q *= den * j;
    P += j % 2n === 1n ? -T : T;
    if (j > num / den + 1n && T * (1n << 200n) < Q) {
      // The next term is smaller than this one, which is below 2^-200.
      const lo = ((P - T) * ONE) / Q;
      const hi = ((P + T) * ONE + Q - 1n) / Q;
      return [lo, hi];
    }
  }
}

/** A fixed-point probability as a double, for messages. */
export const toFloat = (units: bigint): number => Number((units * 1_000_000_000_000n) / ONE) / 1e12;
