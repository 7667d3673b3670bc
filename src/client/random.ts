/**
 * The device's randomness, exact: every probability below is met exactly (up
 * to the quality of the cryptographic source), with integers only, no
 * floating-point arithmetic on a probability. The source is Web Crypto's
 * getRandomValues (a CSPRNG in every browser and in Node ≥ 19 as
 * globalThis.crypto), never Math.random.
 *
 * Why exact on the client: the report's ε-LDP guarantee is a ratio of two
 * probabilities, e^ε / (e^ε + 1) against 1 / (e^ε + 1). Comparing a 53-bit
 * uniform float with a rounded 1 / (e^ε + 1) would miss that ratio by a
 * relative error of about 2^-53 (harmless), but only if every step were
 * correctly rounded, which Math.exp is not specified to be. Sampling
 * Bernoulli(exp(−ε)) exactly for the rational value of the ε the device holds
 * (Canonne, Kamath and Steinke 2020, "The Discrete Gaussian for Differential
 * Privacy", Algorithm 1, as OpenDP does it) removes the question; it costs a
 * few random words per report.
 */

/**
 * Random 32-bit words from `crypto.getRandomValues`, drawn a buffer at a time:
 * one call costs several times the value's hash (on Node 20, on a shared
 * 2-core machine under load, 7.8–8.5 µs per call of 16 words against 1.8–2.1
 * µs per SHA-256 of 12 bytes, measured with `node -e 'const b = new
 * Uint32Array(16); …; for (…1e5…) crypto.getRandomValues(b)'` and the same
 * loop over sha256Words), and a report needs a handful of words. A report
 * makes its own source and wipes it when done, so no randomness outlives the
 * report it decided.
 */
export class RandomWords {
  readonly #buffer: Uint32Array;
  #next: number;

  constructor(size = 16) {
    this.#buffer = new Uint32Array(size);
    this.#next = size;
  }

  /** The next uniform word in [0, 2^32). */
  word(): number {
    if (this.#next === this.#buffer.length) {
      globalThis.crypto.getRandomValues(this.#buffer);
      this.#next = 0;
    }
    return this.#buffer[this.#next++]!;
  }

  /** Zeroes the words not yet used, and those used. */
  wipe(): void {
    this.#buffer.fill(0);
    this.#next = this.#buffer.length;
  }
}

/**
 * A uniform integer in [0, n), for an integer n in [1, 2^32]: rejection
 * sampling on 32-bit words (a word at or above the largest multiple of n is
 * drawn again, so every residue has the same number of words behind it). When
 * n is a power of two nothing is ever rejected.
 */
export function uniformInt(n: number, random: RandomWords): number {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32)
    throw new RangeError(`uniformInt: n must be in [1, 2^32] (got ${n})`);
  const limit = 2 ** 32 - (2 ** 32 % n);
  for (;;) {
    const word = random.word();
    if (word < limit) return word % n;
  }
}

/**
 * A uniform bigint in [0, n), for n ≥ 1: uniformInt when n fits 32 bits, else
 * bitLength(n) random bits, drawn again while the draw is ≥ n (p < 1/2).
 */
export function uniformBigInt(n: bigint, random: RandomWords): bigint {
  if (n < 1n) throw new RangeError("uniformBigInt: n must be ≥ 1");
  if (n <= 0x1_0000_0000n) return BigInt(uniformInt(Number(n), random));
  const bits = n.toString(2).length;
  const words = Math.ceil(bits / 32);
  const topBits = bits - 32 * (words - 1);
  for (;;) {
    // The top word keeps only the bits n has, so a draw is below 2^bits ≤ 2n.
    const top = random.word();
    let x = BigInt(topBits === 32 ? top : top % 2 ** topBits);
    for (let i = 1; i < words; i++) x = (x << 32n) | BigInt(random.word());
    if (x < n) return x;
  }
}

/** Bernoulli(num / den), exactly, for 0 ≤ num ≤ den. */
function bernoulliRational(num: bigint, den: bigint, random: RandomWords): boolean {
  return uniformBigInt(den, random) < num;
}

/** A finite double's exact value as num / den, den a power of two (every double is a dyadic rational). */
export function exactRational(x: number): { num: bigint; den: bigint } {
  if (!Number.isFinite(x)) throw new RangeError(`exactRational: ${x} is not finite`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  const negative = high >>> 31 === 1;
  const biased = (high >>> 20) & 0x7ff;
  const fraction = (BigInt(high & 0xfffff) << 32n) | BigInt(low);
  // Normal: (2^52 + fraction) · 2^(biased − 1075); subnormal: fraction · 2^−1074 (IEEE 754 binary64).
  let num = biased === 0 ? fraction : fraction | (1n << 52n);
  let exponent = (biased === 0 ? 1 : biased) - 1075;
  if (num === 0n) return { num: 0n, den: 1n };
  while ((num & 1n) === 0n && exponent < 0) {
    num >>= 1n;
    exponent++;
  }
  if (negative) num = -num;
  return exponent >= 0 ? { num: num << BigInt(exponent), den: 1n } : { num, den: 1n << BigInt(-exponent) };
}

/**
 * Bernoulli(exp(−γ)) for the rational γ = num / den ≥ 0, exactly: Canonne,
 * Kamath and Steinke 2020, Algorithm 1. For γ ≤ 1, draw A_K ~ Bernoulli(γ/K)
 * for K = 1, 2, … until one is 0, and answer whether that K is odd
 * (P = Σ_j (−γ)^j / j! = e^−γ). For γ > 1, e^−γ = (e^−1)^⌊γ⌋ · e^−(γ−⌊γ⌋):
 * that many independent coins, all of which must come up 1; the first 0 ends
 * it, so the expected work stays below two coins of e^−1 whatever γ is.
 */
export function bernoulliExpMinus(num: bigint, den: bigint, random: RandomWords): boolean {
  if (num < 0n || den < 1n) throw new RangeError("bernoulliExpMinus: γ must be ≥ 0");
  let rest = num;
  while (rest > den) {
    if (!bernoulliExpMinusAtMostOne(1n, 1n, random)) return false;
    rest -= den;
  }
  return bernoulliExpMinusAtMostOne(rest, den, random);
}

function bernoulliExpMinusAtMostOne(num: bigint, den: bigint, random: RandomWords): boolean {
  let k = 1n;
  while (bernoulliRational(num, den * k, random)) k++;
  return k % 2n === 1n;
}

/** A device reports one metric at a time: its ε's exact value is kept rather than taken apart on every report. */
let lastEpsilon = { value: Number.NaN, num: 0n, den: 1n };

/**
 * True with probability exactly 1 / (e^ε + 1), ε the exact value of the
 * double: the chance that a report's sign is flipped (Apple's A_client-HCMS
 * keeps the sign with probability e^ε / (e^ε + 1)).
 *
 * With q = e^−ε, 1 / (e^ε + 1) = q / (1 + q). A fair coin proposes "keep" or
 * "flip"; "keep" is taken at once, "flip" only with probability q, else the
 * round starts over. Each round ends in keep with probability 1/2 and in flip
 * with probability q/2, so P(flip) = (q/2) / (1/2 + q/2) = q / (1 + q); at most
 * two rounds are expected.
 */
export function signFlip(epsilon: number, random: RandomWords): boolean {
  if (epsilon !== lastEpsilon.value) lastEpsilon = { value: epsilon, ...exactRational(epsilon) };
  const { num, den } = lastEpsilon;
  if (num <= 0n) throw new RangeError(`epsilon must be > 0 (got ${epsilon})`);
  for (;;) {
    if (random.word() % 2 === 0) return false;
    if (bernoulliExpMinus(num, den, random)) return true;
  }
}
