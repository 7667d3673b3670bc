/**
 * The uniform random source under every sampler. The only randomness is
 * node:crypto's (randomFillSync, the operating system's CSPRNG), read in
 * buffered 32-bit words; uniform integers come from it by rejection
 * sampling, so they are exactly uniform, never "almost" (no modulo bias, no
 * floating point). Math.random is never used: it is not cryptographic, and
 * its state can be recovered from its outputs.
 *
 * The source is an interface so that tests can drive the samplers with
 * chosen draws and compute their exact output distributions.
 */
import { randomFillSync } from "node:crypto";
import { invalidParameter, type RationalInput, toInteger, toRational } from "./rational.ts";

/**
 * Uniform integers, the one primitive every sampler is built on. The default,
 * {@link cryptoRandom}, rejection-samples node:crypto bytes; a test can pass
 * its own to make the samplers deterministic.
 *
 * @example
 * ```ts
 * // A source whose every Bernoulli is true and every uniform draw 0.
 * const yes: RandomSource = { below: () => 0, belowBig: () => 0n, bernoulli: () => true, bernoulliBig: () => true };
 * bernoulli({ num: 1n, den: 3n }, yes); // true
 * ```
 */
export interface RandomSource {
  /** A uniform integer in [0, n), for an integer n with 1 ≤ n ≤ 2^53 (the fast path of the samplers). */
  below(n: number): number;
  /** A uniform integer in [0, n), for any bigint n ≥ 1. */
  belowBig(n: bigint): bigint;
  /** Bernoulli(num/den): true with probability exactly num/den, for integers 0 ≤ num ≤ den ≤ 2^53, den ≥ 1. */
  bernoulli(num: number, den: number): boolean;
  /** Bernoulli(num/den) for any bigints 0 ≤ num ≤ den, den ≥ 1. */
  bernoulliBig(num: bigint, den: bigint): boolean;
}

const TWO_32 = 2 ** 32;
const TWO_53 = 2 ** 53;
const BIG_TWO_53 = 2n ** 53n;

/** Words fetched per refill: 16 KiB, so randomFillSync's per-call cost is spread over 4096 draws. */
const DEFAULT_WORDS = 4096;

/**
 * A {@link RandomSource} over a byte generator: `fill` fills the buffer it is
 * given with uniform random bytes (node:crypto's randomFillSync for
 * {@link cryptoRandom}). Bytes are read as 32-bit words in the platform's
 * byte order; a uniform integer below n takes ⌈log2 n⌉ bits (the lowest
 * unused bits of the current word, or a fresh word when too few are left)
 * and rejects values ≥ n, so it is exactly uniform and needs fewer than two
 * tries on average. Sharing words between small draws matters: the
 * samplers mostly draw below 2, 3, 4…, and the CSPRNG's bytes are most of
 * their cost.
 *
 * @example
 * ```ts
 * import { randomFillSync } from "node:crypto";
 * const source = byteSource((bytes) => randomFillSync(bytes));
 * source.below(6) + 1; // a fair die
 * ```
 */
export function byteSource(fill: (bytes: Uint8Array) => void, words = DEFAULT_WORDS): RandomSource {
  if (!Number.isSafeInteger(words) || words < 2)
    throw invalidParameter("byteSource", "words", "must be an integer ≥ 2");
  const pool = new Uint32Array(words);
  const bytes = new Uint8Array(pool.buffer);
  let next = words; // empty: the first draw fills it

  const word = (): number => {
    if (next === words) {
      fill(bytes);
      next = 0;
    }
    return pool[next++]!;
  };

  // Draws of fewer than 32 bits share words: `bits` holds the unused bits of the last word, lowest first.
  let bits = 0;
  let left = 0;
  const take = (count: number): number => {
    if (count > left) {
      bits = word();
      left = 32;
    }
    const r = bits & (0xffffffff >>> (32 - count));
    bits >>>= count;
    left -= count;
    return r;
  };

  const below = (n: number): number => {
    if (n <= TWO_32 && n >= 2 && Number.isInteger(n)) {
      // ⌈log2 n⌉ bits: uniform in [0, 2^count) with 2^count < 2n, so a try succeeds with probability > 1/2.
      const count = 32 - Math.clz32(n - 1);
      if (count === 32) {
        for (;;) {
          const r = word();
          if (r < n) return r;
        }
      }
      for (;;) {
        const r = take(count);
        if (r < n) return r;
      }
    }
    if (n === 1) return 0;
    if (!(n > TWO_32 && n <= TWO_53 && Number.isInteger(n))) {
      throw invalidParameter("RandomSource.below", "n", `must be an integer in [1, 2^53], got ${n}`);
    }
    // 2^32 < n ≤ 2^53: the high bits from one word, 32 low bits from another; every value stays < 2^53.
    const highBits = 32 - Math.clz32(Math.floor((n - 1) / TWO_32));
    for (;;) {
      const r = take(highBits) * TWO_32 + word();
      if (r < n) return r;
    }
  };

  const belowBig = (n: bigint): bigint => {
    if (n <= BIG_TWO_53) {
      if (n < 1n) throw invalidParameter("RandomSource.belowBig", "n", `must be ≥ 1, got ${n}`);
      return BigInt(below(Number(n)));
    }
    const bits = bitLength(n - 1n);
    const fullWords = Math.floor(bits / 32);
    const topBits = bits % 32;
    for (;;) {
      let r = topBits === 0 ? 0n : BigInt(take(topBits));
      for (let i = 0; i < fullWords; i++) r = (r << 32n) | BigInt(word());
      if (r < n) return r;
    }
  };

  // Bernoulli(num/den) = [a uniform integer below den is below num].
  const bernoulli = (num: number, den: number): boolean => below(den) < num;

  const bernoulliBig = (num: bigint, den: bigint): boolean => {
    if (den <= BIG_TWO_53) return below(Number(den)) < Number(num);
    // A uniform real U in [0, 1) is below p = num/den with probability p. Compare them one base-2^32 digit at
    // a time, most significant first: U's digits are fresh words, p's come from long division, and the first
    // digit that differs decides (a tie, probability 2^-32, moves on to the next digit). One BigInt division
    // per digit instead of a rejection-sampled integer of den's size.
    let rest = num;
    for (;;) {
      if (rest <= 0n) return false;
      if (rest >= den) return true;
      const scaled = rest << 32n;
      const digit = scaled / den; // < 2^32
      const u = word();
      const p = Number(digit);
      if (u !== p) return u < p;
      rest = scaled - digit * den;
    }
  };

  return { below, belowBig, bernoulli, bernoulliBig };
}

/** The number of bits of a positive bigint. */
export function bitLength(n: bigint): number {
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(Number.parseInt(hex[0]!, 16)));
}

/**
 * The default source: node:crypto's CSPRNG (randomFillSync), buffered 16 KiB
 * at a time. Every sampler uses it unless it is handed another source.
 *
 * @example
 * ```ts
 * cryptoRandom.below(10);             // 0…9, uniformly
 * cryptoRandom.belowBig(10n ** 30n);  // 0…10^30 − 1, uniformly
 * ```
 */
export const cryptoRandom: RandomSource = byteSource((bytes) => {
  randomFillSync(bytes);
});

/**
 * A uniform integer in [0, n), exactly: rejection sampling on the source's
 * random bits (OpenDP's `sample_uniform_ubig_below` does the same on bytes).
 *
 * @example
 * ```ts
 * uniformBelow(6n) + 1n;          // a fair die, as a bigint
 * uniformBelow(2n ** 128n);       // 128 uniform bits
 * ```
 */
export function uniformBelow(n: bigint | number, source: RandomSource = cryptoRandom): bigint {
  const bound = toInteger(n, "uniformBelow", "n");
  if (bound < 1n) throw invalidParameter("uniformBelow", "n", `must be ≥ 1, got ${bound}`);
  return source.belowBig(bound);
}

/**
 * Bernoulli(p) for a rational p = num/den in [0, 1], exactly: true with
 * probability num/den. {@link cryptoRandom} draws a uniform integer below den
 * and compares it with num (OpenDP's `sample_bernoulli_rational`), or, for
 * den above 2^53, compares a uniform real with p digit by digit.
 *
 * @example
 * ```ts
 * bernoulli({ num: 1n, den: 3n }); // true one time in three
 * bernoulli(1);                    // always true
 * ```
 */
export function bernoulli(p: RationalInput, source: RandomSource = cryptoRandom): boolean {
  const { num, den } = toRational(p, "bernoulli", "p");
  if (num < 0n || num > den) throw invalidParameter("bernoulli", "p", `must be in [0, 1], got ${num}/${den}`);
  return source.bernoulliBig(num, den);
}
