/**
 * The random source and the exact rationals under the samplers: uniform
 * integers by rejection (checked bit for bit on scripted bytes, then by χ²
 * on node:crypto), Bernoulli of a rational including the digit-by-digit
 * comparison used past 2^53, and rationals that are exactly the values given.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isConsentgateError } from "../../src/errors.ts";
import { bernoulli, bitLength, byteSource, cryptoRandom, uniformBelow } from "../../src/noise/random.ts";
import { rational, rationalFromDecimal, rationalFromNumber } from "../../src/noise/rational.ts";
import { assertChiSquared, assertProportion } from "../support/statistics.ts";

/** A source whose 32-bit words are the given ones, in order (then it fails: the test asked for too many). */
function scripted(words: number[]) {
  let next = 0;
  return byteSource((bytes) => {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    for (let i = 0; i < view.length; i++) view[i] = next < words.length ? words[next++]! : 0xdeadbeef;
  }, 2);
}

const invalidOption = (name: string) => (error: unknown) =>
  isConsentgateError(error, "invalid_option") && (error.details as { parameter?: string }).parameter === name;

describe("byteSource: uniform integers by rejection", () => {
  test("below(10) takes 4 bits at a time, lowest first, and rejects 10…15: every accepted pattern once", () => {
    // Nibbles 0…7 in one word and 8…15 in the next, lowest nibble first.
    const source = scripted([0x76543210, 0xfedcba98]);
    const drawn = Array.from({ length: 10 }, () => source.below(10));
    assert.deepEqual(drawn, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("below(3) rejects the pattern 3 and keeps drawing from the same word", () => {
    // 2-bit fields, lowest first: 3, 3, 2, 1, 0, 3, …
    const source = scripted([0b11_00_01_10_11_11]);
    assert.deepEqual([source.below(3), source.below(3), source.below(3)], [2, 1, 0]);
  });

  test("below(2^32) uses whole words; 2^32 < n ≤ 2^53 combines high bits with a whole word", () => {
    const source = scripted([0xffffffff, 0x5, 0x1, 0x9]);
    assert.equal(source.below(2 ** 32), 0xffffffff);
    // n = 2^33: 1 high bit (from 0x5: its lowest bit, 1) then the low word 0x1.
    assert.equal(source.below(2 ** 33), 2 ** 32 + 1);
    // The high-bit word 0x5 has bits left (0b10 after the first): the next high bit is 0, low word 0x9.
    assert.equal(source.below(2 ** 33), 9);
  });

  test("below(2^53) and belowBig past 2^53 reject values ≥ n", () => {
    // belowBig(2^64 + 1): 65 bits = 1 high bit (from the first word, lowest bit first) + two whole words.
    // High bit 1 with all-ones words is 2^65 − 1 ≥ n: rejected; then high bit 0 with words 0 and 7 is 7.
    const source = scripted([0b01, 0xffffffff, 0xffffffff, 0x0, 0x7]);
    assert.equal(source.belowBig(2n ** 64n + 1n), 7n);
  });

  test("below(1) and belowBig(1n) draw nothing", () => {
    const source = scripted([]);
    assert.equal(source.below(1), 0);
    assert.equal(source.belowBig(1n), 0n);
  });

  test("node:crypto: below(n) is uniform for n = 3, 10, 1000 and 2^40 + 1 (χ², alpha 1e-6)", () => {
    for (const n of [3, 10, 1000]) {
      const counts = new Array<number>(n).fill(0);
      const draws = n * 100;
      for (let i = 0; i < draws; i++) counts[cryptoRandom.below(n)]!++;
      assertChiSquared(counts, new Array<number>(n).fill(1 / n), `below(${n})`);
    }
    // n = 2^40 + 1: eight equal eighths of [0, 2^40) (the one value 2^40 is merged into the last: 2^-40 off).
    const n = 2 ** 40 + 1;
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[Math.min(7, Math.floor(cryptoRandom.below(n) / 2 ** 37))]!++;
    assertChiSquared(counts, new Array<number>(8).fill(1 / 8), "below(2^40 + 1)");
  });

  test("node:crypto: belowBig(3·2^70) is uniform over its thirds, and belowBig(10^30) stays below 10^30", () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[Number(cryptoRandom.belowBig(3n * 2n ** 70n) >> 70n)]!++;
    assertChiSquared(counts, [1 / 3, 1 / 3, 1 / 3], "belowBig(3·2^70)");
    for (let i = 0; i < 1000; i++) {
      const r = cryptoRandom.belowBig(10n ** 30n);
      assert.ok(r >= 0n && r < 10n ** 30n, `${r}`);
    }
  });
});

describe("Bernoulli of a rational", () => {
  test("bernoulliBig past 2^53 compares base-2^32 digits: the first that differs decides", () => {
    const den = 3n * 2n ** 64n; // p = 1/3 + tiny: digits of num/den
    const num = 2n ** 64n + 1n;
    const first = Number(((num << 32n) / den) & 0xffffffffn); // 0x55555555
    assert.equal(first, 0x55555555);
    assert.equal(scripted([first - 1]).bernoulliBig(num, den), true);
    assert.equal(scripted([first + 1]).bernoulliBig(num, den), false);
    // A tie on the first digit: the second digit of num/den is 0x55555555 too, then the remainder decides.
    assert.equal(scripted([first, first - 1]).bernoulliBig(num, den), true);
    assert.equal(scripted([first, first + 1]).bernoulliBig(num, den), false);
    // p = 0 and p = 1 draw nothing.
    assert.equal(scripted([]).bernoulliBig(0n, den), false);
    assert.equal(scripted([]).bernoulliBig(den, den), true);
  });

  test("node:crypto: Bernoulli(p) has probability p, for p = 1/3, 2/7 and (2^64 + 1)/(3·2^64) (Wilson, alpha 1e-6)", () => {
    const n = 20_000;
    const cases: [bigint, bigint][] = [
      [1n, 3n],
      [2n, 7n],
      [2n ** 64n + 1n, 3n * 2n ** 64n],
    ];
    for (const [num, den] of cases) {
      let k = 0;
      for (let i = 0; i < n; i++) if (bernoulli({ num, den })) k++;
      assertProportion(k, n, Number(num) / Number(den), `Bernoulli(${num}/${den})`);
    }
  });

  test("Bernoulli(0) is never true and Bernoulli(1) always", () => {
    for (let i = 0; i < 1000; i++) {
      assert.equal(bernoulli(0), false);
      assert.equal(bernoulli(1), true);
      assert.equal(bernoulli({ num: 2n ** 80n, den: 2n ** 80n }), true);
    }
  });

  test("p outside [0, 1], a zero denominator or a fraction as a number is an invalid_option error", () => {
    assert.throws(() => bernoulli({ num: 4n, den: 3n }), invalidOption("p"));
    assert.throws(() => bernoulli({ num: -1n, den: 3n }), invalidOption("p"));
    assert.throws(() => bernoulli({ num: 1n, den: 0n }), invalidOption("p"));
    assert.throws(() => bernoulli(0.5), /rationalFromNumber/);
    assert.throws(() => bernoulli({ num: 1, den: 2 } as never), invalidOption("p"));
  });
});

describe("uniformBelow", () => {
  test("takes bigint or integer bounds and refuses n < 1 or a fraction", () => {
    assert.equal(uniformBelow(1n), 0n);
    assert.ok(uniformBelow(6) < 6n, "uniformBelow(6)");
    assert.throws(() => uniformBelow(0n), invalidOption("n"));
    assert.throws(() => uniformBelow(2.5), invalidOption("n"));
    assert.throws(() => cryptoRandom.below(0), invalidOption("n"));
    assert.throws(() => cryptoRandom.below(1.5), invalidOption("n"));
    assert.throws(() => cryptoRandom.below(2 ** 53 + 2), invalidOption("n"));
    assert.throws(() => cryptoRandom.belowBig(0n), invalidOption("n"));
  });

  test("bitLength", () => {
    assert.deepEqual([1n, 2n, 3n, 255n, 256n, 2n ** 64n - 1n, 2n ** 64n].map(bitLength), [1, 2, 2, 8, 9, 64, 65]);
  });
});

describe("exact rationals", () => {
  test("rational() reduces and puts the sign on the numerator", () => {
    assert.deepEqual(rational(10, 4), { num: 5n, den: 2n });
    assert.deepEqual(rational(3n, -6n), { num: -1n, den: 2n });
    assert.deepEqual(rational(0, 5), { num: 0n, den: 1n });
    assert.throws(() => rational(1, 0), invalidOption("den"));
    assert.throws(() => rational(1.5, 2), invalidOption("num"));
  });

  test("rationalFromNumber is the double's exact value", () => {
    assert.deepEqual(rationalFromNumber(0.75), { num: 3n, den: 4n });
    assert.deepEqual(rationalFromNumber(-2.5), { num: -5n, den: 2n });
    assert.deepEqual(rationalFromNumber(0.1), { num: 3602879701896397n, den: 2n ** 55n });
    assert.deepEqual(rationalFromNumber(1e20), { num: 100000000000000000000n, den: 1n });
    assert.deepEqual(rationalFromNumber(5e-324), { num: 1n, den: 2n ** 1074n }); // the smallest subnormal
    assert.deepEqual(rationalFromNumber(Math.log(3)), { num: 2473854946935173n, den: 2n ** 51n }); // ln 3 · 2^52 is even
    for (const x of [Math.PI, 1 / 3, 1e-9, 123456.789, Number.MAX_VALUE]) {
      const { num, den } = rationalFromNumber(x);
      assert.equal(Number(num) / Number(den), x, `${x}`); // both parts are exact doubles here
    }
    assert.throws(() => rationalFromNumber(Number.NaN), invalidOption("value"));
    assert.throws(() => rationalFromNumber(Number.POSITIVE_INFINITY), invalidOption("value"));
  });
});

describe("rationalFromDecimal", () => {
  test("is the decimal a number prints as, or a string says, exactly", () => {
    assert.deepEqual(rationalFromDecimal(0.3), { num: 3n, den: 10n });
    assert.deepEqual(rationalFromDecimal(1e-9), { num: 1n, den: 1_000_000_000n });
    assert.deepEqual(rationalFromDecimal("2.50"), { num: 5n, den: 2n });
    assert.deepEqual(rationalFromDecimal("-.125"), { num: -1n, den: 8n });
    assert.deepEqual(rationalFromDecimal("1.5E+3"), { num: 1500n, den: 1n });
    assert.deepEqual(rationalFromDecimal(8), { num: 8n, den: 1n });
    assert.deepEqual(rationalFromDecimal(1e21), { num: 10n ** 21n, den: 1n });
    assert.deepEqual(rationalFromDecimal(0), { num: 0n, den: 1n });
    for (const bad of ["", ".", "1/3", "0x10", "ln 3", Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => rationalFromDecimal(bad), invalidOption("value"), String(bad));
    }
  });
});
