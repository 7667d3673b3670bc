/**
 * The discrete Laplace and discrete Gaussian samplers against their exact
 * distributions (CKS 2020: P(Z = z) ∝ e^{-|z|/t} and ∝ e^{-z²/(2σ²)}), on
 * node:crypto: χ² goodness of fit over the support, P(0), mean and variance
 * against the closed forms, and the privacy property itself on two
 * neighbouring counts. Every check has a computed critical value with
 * false-alarm probability 1e-6 (test/support/statistics.ts), except Google's
 * mean test, which is theirs at 1e-5. Both implementation paths (numbers,
 * BigInt) are sampled on the same parameters.
 *
 * Then parameter checks, and that no sampler ever calls Math.random.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { isConsentgateError } from "../../src/errors.ts";
import {
  addDiscreteGaussianNoise,
  bernoulli,
  bernoulliExp,
  cryptoRandom,
  discreteGaussian,
  discreteGaussianSampler,
  discreteLaplace,
  discreteLaplaceDeltaForThreshold,
  discreteLaplaceSampler,
  discreteLaplaceThreshold,
  laplaceDeltaForThreshold,
  laplaceThreshold,
  type RationalInput,
  rationalFromNumber,
  uniformBelow,
} from "../../src/noise/index.ts";
import { discreteLaplaceBig, gaussianBigSampler, gaussianNumberSampler } from "../../src/noise/samplers.ts";
import {
  ALPHA,
  assertChiSquared,
  assertProportion,
  integerBins,
  moments,
  normalCritical,
} from "../support/statistics.ts";

/** The discrete Laplace of scale λ (CKS 2020): P(z) = (1 − q)/(1 + q)·q^|z|, q = e^{-1/λ}. */
function laplace(lambda: number) {
  const q = Math.exp(-1 / lambda);
  const p0 = (1 - q) / (1 + q);
  return {
    p0,
    pmf: (z: number) => p0 * q ** Math.abs(z),
    variance: (2 * q) / (1 - q) ** 2,
    // E[Z^4], summed: Σ z^4 p0 q^|z| over both signs.
    fourth: sum((z) => 2 * z ** 4 * p0 * q ** z),
  };
}

/** The discrete Gaussian of variance parameter σ² (CKS 2020): P(z) = e^{-z²/(2σ²)} / Σ_y e^{-y²/(2σ²)}. */
function gaussian(sigma2: number) {
  const weight = (z: number) => Math.exp(-(z * z) / (2 * sigma2));
  const normalizer = 1 + sum((z) => 2 * weight(z));
  const pmf = (z: number) => weight(z) / normalizer;
  return { pmf, variance: sum((z) => 2 * z * z * pmf(z)), fourth: sum((z) => 2 * z ** 4 * pmf(z)) };
}

/** Σ_{z ≥ 1} f(z) for a positive f that decreases to nothing. */
function sum(f: (z: number) => number): number {
  let total = 0;
  for (let z = 1; ; z++) {
    const term = f(z);
    total += term;
    if (term === 0 || (term < total * 1e-18 && z > 10)) return total;
  }
}

function draw(n: number, sample: () => bigint): bigint[] {
  return Array.from({ length: n }, sample);
}

/** χ² of the samples against an integer pmf, one bin per integer that expects ≥ 20 samples, tails merged. */
function assertFits(samples: bigint[], pmf: (z: number) => number, label: string): void {
  const { probabilities, bin } = integerBins(pmf, samples.length);
  const observed = new Array<number>(probabilities.length).fill(0);
  for (const z of samples) observed[bin(z)]!++;
  assertChiSquared(observed, probabilities, label);
}

/** The sample variance is within z·√((μ4 − σ⁴)/n) of the variance (its normal approximation). */
function assertVariance(samples: bigint[], variance: number, fourth: number, label: string): void {
  const { mean, variance: observed } = moments(samples);
  const tolerance = normalCritical() * Math.sqrt((fourth - variance ** 2) / samples.length);
  assert.ok(
    Math.abs(observed - variance) <= tolerance,
    `${label}: variance ${observed}, expected ${variance} ± ${tolerance} (mean ${mean})`,
  );
}

const invalidOption = (name: string) => (error: unknown) =>
  isConsentgateError(error, "invalid_option") && (error.details as { parameter?: string }).parameter === name;

describe("discrete Laplace (CKS 2020 Algorithm 2)", () => {
  test("the closed forms: scale 1 has P(0) = 0.462117 and variance 1.841347, scale 2 has P(0) = 0.244919", () => {
    assert.equal(laplace(1).p0.toFixed(6), "0.462117");
    assert.equal(laplace(1).variance.toFixed(6), "1.841347");
    assert.equal(laplace(2).p0.toFixed(6), "0.244919");
    // The summed second moment agrees with the closed form: the pmf used below is the distribution's.
    assert.ok(Math.abs(sum((z) => 2 * z * z * laplace(2).pmf(z)) - laplace(2).variance) < 1e-12, "summed variance");
  });

  for (const scale of [1, 2]) {
    test(`scale ${scale}, 125 000 samples: P(0), variance, and Google's mean test`, () => {
      const n = 125_000;
      const { p0, variance, fourth } = laplace(scale);
      const samples = draw(n, discreteLaplaceSampler(scale));
      assertProportion(samples.filter((z) => z === 0n).length, n, p0, `P(0) at scale ${scale}`);
      assertVariance(samples, variance, fourth, `scale ${scale}`);
      // go/noise/laplace_noise_test.go TestLaplaceStatistics: the mean of 125 000 samples within
      // 4.41717·√(variance/n), the 1 − 1e-5/2 normal quantile (false alarm 1e-5).
      const { mean } = moments(samples);
      assert.ok(Math.abs(mean) < 4.41717 * Math.sqrt(variance / n), `mean ${mean} at scale ${scale}`);
      assertFits(samples, laplace(scale).pmf, `discrete Laplace, scale ${scale}`);
    });
  }

  const scales: [string, RationalInput, number][] = [
    ["1/2", { num: 1n, den: 2n }, 0.5],
    ["5/2", { num: 5n, den: 2n }, 2.5],
    ["10 (maxKeys 10, epsilon 1)", 10, 10],
    ["maxKeys 3 / epsilon 0.3, from the double 0.3", divide(3n, rationalFromNumber(0.3)), 3 / 0.3],
  ];
  for (const [label, scale, lambda] of scales) {
    test(`scale ${label}: χ² over the support (50 000 samples)`, () => {
      assertFits(draw(50_000, discreteLaplaceSampler(scale)), laplace(lambda).pmf, `discrete Laplace, scale ${label}`);
    });
  }

  test("the BigInt path has the same distribution: scale 3/1 and 5/2 forced onto it, and 10·2^60/2^60", () => {
    assertFits(
      draw(30_000, () => discreteLaplaceBig(cryptoRandom, 1n, 3n)),
      laplace(3).pmf,
      "BigInt path, scale 3",
    );
    assertFits(
      draw(30_000, () => discreteLaplaceBig(cryptoRandom, 2n, 5n)),
      laplace(2.5).pmf,
      "BigInt path, scale 5/2",
    );
    const big = { num: 10n * 2n ** 60n, den: 2n ** 60n };
    assertFits(
      draw(20_000, () => discreteLaplace(big)),
      laplace(10).pmf,
      "scale 10·2^60/2^60",
    );
  });

  test("empirical epsilon: on neighbouring counts 0 and 1, every output's log frequency ratio is within ε plus sampling error", () => {
    // Scale 1/ε noise on a count of sensitivity 1 is ε-DP: P(c + Z = o) / P(c' + Z = o) ≤ e^ε for |c − c'| ≤ 1,
    // with equality for every o outside [c, c']. Checked per output with ≥ 1000 samples on both sides; each
    // log ratio's standard error is √(1/n₀ + 1/n₁), and the critical value is Bonferroni-split over the outputs.
    const check = (epsilon: number, scale: RationalInput, n: number) => {
      const sample = discreteLaplaceSampler(scale);
      const counts = [new Map<bigint, number>(), new Map<bigint, number>()];
      for (const [c, map] of counts.entries()) {
        for (let i = 0; i < n; i++) {
          const o = BigInt(c) + sample();
          map.set(o, (map.get(o) ?? 0) + 1);
        }
      }
      const outputs = [...counts[0]!.keys()].filter(
        (o) => (counts[0]!.get(o) ?? 0) >= 1000 && (counts[1]!.get(o) ?? 0) >= 1000,
      );
      const z = normalCritical(ALPHA / outputs.length);
      let worst = 0;
      for (const o of outputs) {
        const [n0, n1] = [counts[0]!.get(o)!, counts[1]!.get(o)!];
        const excess = Math.abs(Math.log(n0 / n1)) - epsilon - z * Math.sqrt(1 / n0 + 1 / n1);
        worst = Math.max(worst, excess);
      }
      return { outputs: outputs.length, worst };
    };
    for (const [epsilon, scale] of [
      [1, 1],
      [0.5, 2],
    ] as const) {
      const { outputs, worst } = check(epsilon, scale, 200_000);
      assert.ok(outputs >= 8, `only ${outputs} outputs with enough samples`);
      assert.ok(worst <= 0, `ε = ${epsilon}: a log ratio exceeds ε by ${worst} beyond sampling error`);
    }
    // The check has power: half the noise (scale 1/2 claimed as ε = 1) is caught.
    assert.ok(check(1, { num: 1n, den: 2n }, 200_000).worst > 0, "scale 1/2 passed as ε = 1");
  });
});

describe("discrete Gaussian (CKS 2020 Algorithm 3)", () => {
  const variances: [string, RationalInput, number][] = [
    ["1", 1, 1],
    ["9/4", { num: 9n, den: 4n }, 2.25],
    ["10", 10, 10],
    ["100", 100, 100],
    ["0.1 (the double)", rationalFromNumber(0.1), 0.1],
  ];
  for (const [label, sigma2, value] of variances) {
    test(`σ² = ${label}: χ² over the support and the variance (50 000 samples)`, () => {
      const samples = draw(50_000, discreteGaussianSampler(sigma2));
      const { pmf, variance, fourth } = gaussian(value);
      assertFits(samples, pmf, `discrete Gaussian, σ² = ${label}`);
      assertVariance(samples, variance, fourth, `σ² = ${label}`);
    });
  }

  test("σ² = 1, 125 000 samples: P(0) = 1/Σ_z e^{-z²/2} = 0.398942, as the Laplace's P(0) is tested", () => {
    // Σ_z e^{-z²/2} = 1 + 2(e^{-1/2} + e^{-2} + e^{-9/2} + …) = 2.506628 = √(2π)(1 + 2e^{-2π²} + …) (Poisson summation),
    // so P(0) agrees with the continuous density at 0, 1/√(2π) = 0.3989423, to 6 digits.
    const p0 = gaussian(1).pmf(0);
    assert.equal(p0.toFixed(6), "0.398942");
    const n = 125_000;
    const samples = draw(n, discreteGaussianSampler(1));
    assertProportion(samples.filter((z) => z === 0n).length, n, p0, "P(0) at σ² = 1");
  });

  test("both paths agree: σ² = 9/4 and 100 on numbers and forced onto BigInt", () => {
    for (const [a, b] of [
      [9n, 4n],
      [100n, 1n],
    ] as const) {
      const { pmf } = gaussian(Number(a) / Number(b));
      assertFits(draw(30_000, gaussianNumberSampler(a, b, cryptoRandom)), pmf, `numbers, σ² = ${a}/${b}`);
      assertFits(draw(30_000, gaussianBigSampler(a, b, cryptoRandom)), pmf, `BigInt, σ² = ${a}/${b}`);
    }
  });

  test("σ² = 2^32 (σ = 65536, a fixed-point scale of 2^16): binned χ², mean and variance (30 000 samples)", () => {
    const sigma = 2 ** 16;
    const samples = draw(30_000, discreteGaussianSampler(2n ** 32n));
    // 12 bins of width σ/2 over ±3σ, plus the two tails; each bin's probability summed over its integers.
    const { pmf, variance, fourth } = gaussian(sigma * sigma);
    const edges = Array.from({ length: 13 }, (_, i) => (i - 6) * (sigma / 2));
    const inside = edges.slice(0, -1).map((from, i) => {
      let p = 0;
      for (let z = from; z < edges[i + 1]!; z++) p += pmf(z);
      return p;
    });
    const tail = (1 - inside.reduce((a, b) => a + b, 0)) / 2;
    const observed = new Array<number>(14).fill(0);
    for (const z of samples) {
      const x = Number(z);
      observed[x < edges[0]! ? 0 : x >= edges[12]! ? 13 : 1 + Math.floor((x - edges[0]!) / (sigma / 2))]!++;
    }
    assertChiSquared(observed, [tail, ...inside, tail], "discrete Gaussian, σ = 2^16");
    const { mean } = moments(samples);
    assert.ok(Math.abs(mean) <= normalCritical() * Math.sqrt(variance / samples.length), `mean ${mean}`);
    assertVariance(samples, variance, fourth, "σ = 2^16");
  });

  test("addDiscreteGaussianNoise adds independent noise to each coordinate and keeps the vector's length", () => {
    const values = Array.from({ length: 40_000 }, (_, i) => (i % 2 === 0 ? i : BigInt(-i)));
    const noisy = addDiscreteGaussianNoise(values, 4);
    assert.equal(noisy.length, values.length);
    const noise = noisy.map((x, i) => x - BigInt(values[i]!));
    assertFits(noise, gaussian(4).pmf, "vector noise, σ² = 4");
    assert.throws(() => addDiscreteGaussianNoise([1, 2.5], 4), invalidOption("values[1]"));
    assert.throws(() => addDiscreteGaussianNoise([1n], 0), invalidOption("sigma2"));
  });
});

describe("parameters", () => {
  test("negative x, scales and variances ≤ 0, zero denominators and fractions as numbers are invalid_option errors", () => {
    assert.throws(() => bernoulliExp(-1), invalidOption("x"));
    assert.throws(() => bernoulliExp({ num: 1n, den: -2n }), invalidOption("x")); // = −1/2
    assert.throws(() => discreteLaplace(0), invalidOption("scale"));
    assert.throws(() => discreteLaplace(-3n), invalidOption("scale"));
    assert.throws(() => discreteLaplace({ num: 1n, den: 0n }), invalidOption("scale"));
    assert.throws(() => discreteLaplace(0.5), /rationalFromNumber/);
    assert.throws(() => discreteLaplace("1" as never), invalidOption("scale"));
    assert.throws(() => discreteLaplaceSampler(0), invalidOption("scale"));
    assert.throws(() => discreteGaussian(0), invalidOption("sigma2"));
    assert.throws(() => discreteGaussian({ num: -4n, den: 1n }), invalidOption("sigma2"));
    assert.throws(() => discreteGaussianSampler(2.5), invalidOption("sigma2"));
  });

  test("x = 0 is always true; exp(-x) for a huge x is essentially always false", () => {
    for (let i = 0; i < 1000; i++) assert.equal(bernoulliExp(0), true);
    let trues = 0;
    for (let i = 0; i < 1000; i++) if (bernoulliExp(2n ** 80n)) trues++;
    assert.equal(trues, 0);
  });
});

describe("randomness comes only from node:crypto", () => {
  test("every sampler and threshold runs with Math.random made to throw", () => {
    const original = Math.random;
    Math.random = () => {
      throw new Error("Math.random was called");
    };
    try {
      for (let i = 0; i < 2000; i++) {
        uniformBelow(10n ** 20n);
        bernoulli({ num: 1n, den: 3n });
        bernoulli({ num: 2n ** 64n + 1n, den: 3n * 2n ** 64n });
        bernoulliExp({ num: 7n, den: 2n });
        discreteLaplace(10);
        discreteLaplace({ num: 10n * 2n ** 60n, den: 2n ** 60n });
        discreteGaussian(100);
        discreteGaussian(2n ** 32n);
      }
      addDiscreteGaussianNoise([1, 2, 3], 4);
      const p = { l0: 10, lInf: 1, epsilon: 1, delta: 1e-9 };
      laplaceThreshold(p);
      laplaceDeltaForThreshold(p, 230);
      discreteLaplaceDeltaForThreshold(p, discreteLaplaceThreshold(p));
    } finally {
      Math.random = original;
    }
  });

  test("no source file of src/noise/ mentions Math.random outside comments", () => {
    const folder = new URL("../../src/noise/", import.meta.url);
    const files = readdirSync(folder).filter((name) => name.endsWith(".ts"));
    assert.ok(files.length >= 4, `files: ${files}`);
    for (const name of files) {
      const code = readFileSync(new URL(name, folder), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      assert.doesNotMatch(code, /Math\s*(\.|\[\s*["'`])\s*random/, name);
    }
  });
});

/** n / x for a positive integer n and a rational x. */
function divide(n: bigint, x: { num: bigint; den: bigint }) {
  return { num: n * x.den, den: x.num };
}
