/**
 * The exact noise samplers (src/noise/), in samples per second, against
 * node:crypto's randomInt measured in the same run: the cost of one sample
 * as a multiple of the cost of one uniform integer from Node's own API. The
 * scales are those a release or a federated-learning round uses: discrete
 * Laplace of scale maxKeys/epsilon, discrete Gaussian of σ = noise × clip
 * in 2^16 fixed point. "numbers" and "BigInt" say which path of the sampler
 * the parameters take (integers below 2^53, or not).
 */
import { randomInt } from "node:crypto";
import { performance } from "node:perf_hooks";
import {
  addDiscreteGaussianNoise,
  bernoulliExp,
  cryptoRandom,
  discreteGaussianSampler,
  discreteLaplaceSampler,
  rationalFromDecimal,
  rationalFromNumber,
} from "../src/noise/index.ts";
import { fmt, median, table } from "./support.ts";

const ROUNDS = 7;
/** Calls per round: enough for ~10 ms a round on the slowest case. */
const ITERATIONS = 4000;
const VECTOR = 4000;

/** ns per sample of `run` (which returns how many samples it drew), over one round of about ITERATIONS samples. */
function round(run: () => number): number {
  let samples = 0;
  const start = performance.now();
  while (samples < ITERATIONS) samples += run();
  return ((performance.now() - start) * 1e6) / samples;
}

let sink = 0n;
const one = (f: () => bigint | number | boolean) => () => {
  const x = f();
  sink += typeof x === "bigint" ? x : BigInt(Number(x));
  return 1;
};

/** maxKeys / epsilon, exactly, for epsilon read as a decimal (3/10) or as the double's binary value. */
function scale(maxKeys: number, epsilon: number, read: (value: number) => { num: bigint; den: bigint }) {
  const e = read(epsilon);
  return { num: BigInt(maxKeys) * e.den, den: e.num };
}

export async function benchNoise(): Promise<void> {
  const fixed = Array.from({ length: VECTOR }, (_, i) => i - VECTOR / 2);
  const cases: [string, () => number][] = [
    ["crypto.randomInt(1000) (baseline)", one(() => randomInt(1000))],
    ["uniform below 1000 (cryptoRandom.below)", one(() => cryptoRandom.below(1000))],
    ["Bernoulli(exp(-1/2))", one(() => bernoulliExp({ num: 1n, den: 2n }))],
    ["Bernoulli(exp(-7/2))", one(() => bernoulliExp({ num: 7n, den: 2n }))],
    ["discrete Laplace, scale 1 (maxKeys 1, ε 1), numbers", one(discreteLaplaceSampler(1))],
    ["discrete Laplace, scale 10 (maxKeys 10, ε 1), numbers", one(discreteLaplaceSampler(10))],
    [
      "discrete Laplace, scale 10/ε, ε = 0.3 read as 3/10, numbers",
      one(discreteLaplaceSampler(scale(10, 0.3, rationalFromDecimal))),
    ],
    [
      "discrete Laplace, scale 10/ε, ε = 0.3 read as the double (…/2^54), BigInt",
      one(discreteLaplaceSampler(scale(10, 0.3, rationalFromNumber))),
    ],
    ["discrete Laplace, scale 1000, numbers", one(discreteLaplaceSampler(1000))],
    ["discrete Laplace, scale 10·2^60/2^60, BigInt", one(discreteLaplaceSampler({ num: 10n << 60n, den: 1n << 60n }))],
    ["discrete Gaussian, σ² = 1, numbers", one(discreteGaussianSampler(1))],
    ["discrete Gaussian, σ² = 100, numbers", one(discreteGaussianSampler(100))],
    ["discrete Gaussian, σ² = 2^32 (σ = 1 in 2^16 fixed point), BigInt", one(discreteGaussianSampler(2n ** 32n))],
    [
      `addDiscreteGaussianNoise, ${VECTOR} coordinates, σ² = 2^32 (per coordinate)`,
      () => {
        const noisy = addDiscreteGaussianNoise(fixed, 2n ** 32n);
        sink += noisy[0]!;
        return VECTOR;
      },
    ],
  ];
  const runs = cases;
  const samples = new Map<string, number[]>(runs.map(([name]) => [name, []]));
  for (const [, run] of runs) round(run); // warm-up
  // Rounds alternate between cases so that drift on a shared machine hits them all alike.
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, run] of runs) samples.get(name)!.push(round(run));
  }
  if (sink === -1n) console.log("(sink)");
  const ns = new Map([...samples].map(([name, values]) => [name, median(values)]));
  const baseline = ns.get(cases[0]![0])!;
  table(`Noise samplers (median of ${ROUNDS} rounds × ${ITERATIONS} samples; node:crypto source)`, [
    ...[...ns].map(([name, value]) => ({
      case: name,
      "ns/sample": fmt(value, 0),
      "samples/s": fmt(1e9 / value / 1e6, 2) + " M",
      "× randomInt": fmt(value / baseline, 2),
    })),
  ]);
}
