/**
 * Bernoulli(exp(-x)) is exact: with a source that enumerates every possible
 * draw, the probability that the sampler answers true is computed with no
 * sampling error and compared with e^{-x} computed in exact rational
 * arithmetic. Both paths (numbers below 2^53, BigInt above) are walked on the
 * same x, and the switch between them halfway through one sample too. What
 * is left uncertain is only the mass of the branches cut below 2^-cutoff,
 * which each case bounds and prints.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bernoulliExp1Big,
  bernoulliExp1Number,
  bernoulliExpBig,
  bernoulliExpMinusOne,
  bernoulliExpNumber,
} from "../../src/noise/samplers.ts";
import type { RandomSource } from "../../src/noise/random.ts";
import { enumerateOutcomes, expNegInterval, ONE, toFloat } from "../support/enumerate-source.ts";

/**
 * Asserts that P(sample() = true), known to lie in [lower, lower + slack],
 * is within that slack of e^{-num/den}, and that the slack is below maxSlack.
 */
function assertExpNeg(
  sample: (source: RandomSource) => boolean,
  num: bigint,
  den: bigint,
  cutoffBits: number,
  maxSlack: number,
): void {
  const { mass, cut, leaves } = enumerateOutcomes(sample, cutoffBits);
  const lower = mass.get(true) ?? 0n;
  const upper = lower + cut + BigInt(leaves); // each leaf was rounded down by less than one unit
  const [lo, hi] = expNegInterval(num, den);
  const label = `exp(-${num}/${den}) = ${toFloat(lo)}: enumerated [${toFloat(lower)}, ${toFloat(upper)}]`;
  assert.ok(lower <= hi && lo <= upper, `${label} does not contain it`);
  assert.ok(Number(upper - lower) / Number(ONE) < maxSlack, `${label}: the cut mass is not below ${maxSlack}`);
  // And the answers are a distribution: the mass of false closes it to 1 within the same slack.
  const total = lower + (mass.get(false) ?? 0n);
  assert.ok(total <= ONE && ONE <= total + cut + BigInt(leaves), `${label}: the outcomes do not sum to 1`);
}

describe("Bernoulli(exp(-x)) has probability exactly e^{-x} (CKS 2020 Algorithm 1)", () => {
  test("Bernoulli(exp(-1))", () => {
    assertExpNeg(bernoulliExpMinusOne, 1n, 1n, 96, 1e-25);
  });

  // x in [0, 1]: one chain of Bernoulli(x/k) (OpenDP's exp1 test points, and denominators that are not
  // powers of two, some prime).
  const unit: [bigint, bigint][] = [
    [0n, 1n],
    [1n, 8n],
    [1n, 4n],
    [1n, 2n],
    [3n, 4n],
    [1n, 1n],
    [1n, 3n],
    [12_345n, 1_000_003n],
    [65_536n, 65_537n],
  ];
  for (const [num, den] of unit) {
    test(`x = ${num}/${den}, on numbers and on BigInt`, () => {
      assertExpNeg((s) => bernoulliExp1Number(s, Number(num), Number(den)), num, den, 96, 1e-25);
      assertExpNeg((s) => bernoulliExp1Big(s, num, den), num, den, 96, 1e-25);
      assertExpNeg((s) => bernoulliExpNumber(s, Number(num), Number(den)), num, den, 96, 1e-25);
      assertExpNeg((s) => bernoulliExpBig(s, num, den), num, den, 96, 1e-25);
    });
  }

  // x > 1: ⌈x⌉ − 1 factors e^{-1} and one for the rest. Each e^{-1} that comes out true does so along
  // several paths, so the tree grows as (paths)^⌈x⌉: the cut is coarser for larger x.
  const above: [bigint, bigint, number, number][] = [
    [3n, 2n, 80, 1e-20],
    [2n, 1n, 80, 1e-20],
    [9n, 4n, 64, 1e-15],
    [7n, 2n, 48, 1e-10],
  ];
  for (const [num, den, cutoff, slack] of above) {
    test(`x = ${num}/${den}, on numbers and on BigInt`, () => {
      assertExpNeg((s) => bernoulliExpNumber(s, Number(num), Number(den)), num, den, cutoff, slack);
      assertExpNeg((s) => bernoulliExpBig(s, num, den), num, den, cutoff, slack);
    });
  }

  test("denominators past 2^53: x = 2^60/(2^60 + 1) and 3·2^70/(2^71 + 7), on BigInt", () => {
    const cases: [bigint, bigint][] = [
      [2n ** 60n, 2n ** 60n + 1n],
      [3n * 2n ** 70n, 2n ** 71n + 7n],
    ];
    for (const [num, den] of cases) assertExpNeg((s) => bernoulliExpBig(s, num, den), num, den, 80, 1e-20);
  });

  test("a chain that passes 2^53 halfway (den·k > 2^53 from k = 3) hands over to BigInt at the same step", () => {
    const den = 2 ** 52;
    const num = den - 1;
    const seen: bigint[] = [];
    // Record the Bernoulli denominators the sampler asks for: 2^52, 2^53 in numbers, then 3·2^52 in BigInt.
    assertExpNeg(
      (s) =>
        bernoulliExp1Number(
          {
            ...s,
            bernoulli: (p, q) => (seen.push(BigInt(q)), s.bernoulli(p, q)),
            bernoulliBig: (p, q) => (seen.push(q), s.bernoulliBig(p, q)),
          },
          num,
          den,
        ),
      BigInt(num),
      BigInt(den),
      96,
      1e-25,
    );
    assert.ok(seen.includes(3n * 2n ** 52n), "the chain never reached k = 3");
  });
});
