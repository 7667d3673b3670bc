/**
 * The server's side of the Hadamard count-mean sketch (src/telemetry/sketch.ts):
 * the transform against the matrix product it replaces, the estimator against
 * Apple's algorithm computed the slow way, strict validation of records and of
 * stored sums, and end to end: reports made by the real client function over a
 * known Zipf distribution, estimated by the server, compared with the truth
 * and with the standard errors the server reports.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { describe, test } from "node:test";
import { telemetryReport } from "../../src/client/index.ts";
import { hadamardEntry, sketchHashes } from "../../src/client/hash.ts";
import { isConsentgateError } from "../../src/errors.ts";
import {
  addReport,
  cEpsilon,
  createSketchSums,
  estimateFrequencies,
  fastWalshHadamard,
  MAX_CELLS,
  type SketchSums,
  sketchCells,
  sketchSumsFromCells,
  validateReport,
} from "../../src/telemetry/sketch.ts";
import { Z } from "./stats.ts";

/** A uniform double in [0, 1) from node:crypto, 48 bits. */
const uniform = () => randomInt(2 ** 47) / 2 ** 47 + randomInt(2) / 2 ** 48;

/** n draws from a Zipf(s) distribution over `values` (P(rank r) ∝ r^−s), with their true counts. */
function zipfSample(values: readonly string[], s: number, n: number): { draws: string[]; truth: Map<string, number> } {
  const cumulative: number[] = [];
  let total = 0;
  for (let r = 1; r <= values.length; r++) cumulative.push((total += r ** -s));
  const draws: string[] = [];
  const truth = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const u = uniform() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    const value = values[lo]!;
    draws.push(value);
    truth.set(value, (truth.get(value) ?? 0) + 1);
  }
  return { draws, truth };
}

/**
 * Apple's HCMS server as the paper writes it, in floating point and the slow
 * way: M[j][l] += k·c_ε·ω per record, M ← M·H_m^T by the full matrix product,
 * f̃(d) = m/(m−1) · ((1/k) Σ_j M[j][h_j(d)] − n/m).
 */
function appleReference(
  records: readonly { hash: number; index: number; bit: number }[],
  candidates: readonly string[],
  params: { epsilon: number; hashes: number; width: number },
): number[] {
  const { hashes: k, width: m } = params;
  const c = (Math.exp(params.epsilon) + 1) / (Math.exp(params.epsilon) - 1);
  const sketch = Array.from({ length: k }, () => new Array<number>(m).fill(0));
  for (const { hash, index, bit } of records) sketch[hash]![index]! += k * c * bit;
  const transformed = sketch.map((row) =>
    Array.from({ length: m }, (_, h) => row.reduce((sum, x, l) => sum + x * hadamardEntry(h, l), 0)),
  );
  const n = records.length;
  return candidates.map((d) => {
    const columns = sketchHashes(d, params);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += transformed[j]![columns[j]!]!;
    return (m / (m - 1)) * (sum / k - n / m);
  });
}

describe("fastWalshHadamard", () => {
  test("is the product with Sylvester's H_m, for every power of two up to 512", () => {
    for (let m = 1; m <= 512; m *= 2) {
      const vector = Float64Array.from({ length: m }, () => randomInt(-1000, 1001));
      const expected = Array.from({ length: m }, (_, i) =>
        vector.reduce((sum, x, l) => sum + hadamardEntry(i, l) * x, 0),
      );
      assert.deepEqual(Array.from(fastWalshHadamard(Float64Array.from(vector))), expected, `m = ${m}`);
    }
    assert.deepEqual(Array.from(fastWalshHadamard(Float64Array.of(1, 0, 0, 0))), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(fastWalshHadamard(Float64Array.of(0, 1, 0, 0))), [1, -1, 1, -1]);
    // H·H = m·I: twice is m times the vector.
    const v = Float64Array.from({ length: 64 }, () => randomInt(-5, 6));
    assert.deepEqual(
      Array.from(fastWalshHadamard(fastWalshHadamard(Float64Array.from(v)))),
      Array.from(v, (x) => 64 * x),
    );
    for (const length of [0, 3, 6, 100]) assert.throws(() => fastWalshHadamard(new Float64Array(length)), RangeError);
  });
});

describe("estimateFrequencies computes Apple's estimator", () => {
  const params = { epsilon: 1.5, hashes: 4, width: 64 };
  const values = ["jazz", "rock", "folk", "soul", "punk"];

  test("the same numbers as the paper's algorithm done the slow way, on sparse and on full rows", () => {
    for (const n of [20, 3000]) {
      const sums = createSketchSums(params);
      const records = Array.from({ length: n }, () => telemetryReport(values[randomInt(values.length)]!, params));
      for (const record of records) addReport(sums, record);
      const candidates = [...values, "absent", "jazz"];
      const expected = appleReference(records, candidates, params);
      const got = estimateFrequencies(sums, n, candidates, params);
      assert.deepEqual(
        got.map((e) => e.value),
        candidates,
      );
      for (const [i, e] of got.entries()) {
        assert.ok(Math.abs(e.estimate - expected[i]!) <= 1e-9 * (1 + Math.abs(expected[i]!)), `n = ${n}, ${e.value}`);
        assert.ok(e.standardError > 0 && Number.isFinite(e.standardError));
      }
    }
  });

  test("the transform and the direct sums over non-zero cells give the same integers", () => {
    // One candidate favours the direct sums on every row; a thousand favour the transform.
    const sums = createSketchSums(params);
    for (let i = 0; i < 2000; i++) addReport(sums, telemetryReport(values[i % values.length]!, params));
    const many = [...values, ...Array.from({ length: 1000 }, (_, i) => `other-${i}`)];
    const all = estimateFrequencies(sums, 2000, many, params);
    for (const [i, value] of values.entries()) {
      const [alone] = estimateFrequencies(sums, 2000, [value], params);
      assert.equal(alone!.estimate, all[i]!.estimate, value);
    }
  });

  test("no reports: every estimate is 0 with standard error 0", () => {
    const sums = createSketchSums(params);
    assert.deepEqual(estimateFrequencies(sums, 0, ["jazz"], params), [
      { value: "jazz", estimate: 0, standardError: 0 },
    ]);
    assert.deepEqual(estimateFrequencies(sums, 0, [], params), []);
  });

  test("c_ε = (e^ε + 1)/(e^ε − 1), also for a small ε", () => {
    assert.ok(Math.abs(cEpsilon(Math.log(3)) - 2) < 1e-15);
    assert.ok(Math.abs(cEpsilon(4) - (Math.exp(4) + 1) / (Math.exp(4) - 1)) < 1e-15);
    // 2/ε + ε/6 + O(ε³): (e^ε − 1) computed directly would lose half the digits here.
    assert.ok(Math.abs(cEpsilon(1e-8) - (2e8 + 1e-8 / 6)) / 2e8 < 1e-15);
  });
});

describe("validation", () => {
  const shape = { hashes: 8, width: 16 };

  test("a record must be exactly { hash, index, bit } in range: invalid_body (400) naming every problem", () => {
    const bad: [unknown, RegExp][] = [
      [null, /not an object/],
      ["{}", /not an object/],
      [[0, 0, 1], /not an object/],
      [{ hash: 0, index: 0 }, /bit must be 1 or -1 \(got undefined\)/],
      [{ hash: 0, index: 0, bit: 0 }, /bit/],
      [{ hash: 0, index: 0, bit: 2 }, /bit/],
      [{ hash: 0, index: 0, bit: "1" }, /bit must be 1 or -1 \(got "1"\)/],
      [{ hash: 0, index: 0, bit: true }, /bit/],
      [{ hash: -1, index: 0, bit: 1 }, /hash must be an integer in \[0, 8\)/],
      [{ hash: 8, index: 0, bit: 1 }, /hash/],
      [{ hash: 1.5, index: 0, bit: 1 }, /hash/],
      [{ hash: "1", index: 0, bit: 1 }, /hash/],
      [{ hash: Number.NaN, index: 0, bit: 1 }, /hash/],
      [{ hash: 0, index: 16, bit: 1 }, /index must be an integer in \[0, 16\)/],
      [{ hash: 0, index: -0.5, bit: 1 }, /index/],
      [{ hash: 0, index: 0, bit: 1, value: "jazz" }, /unexpected keys: value/],
    ];
    const sums = createSketchSums(shape);
    for (const [record, problem] of bad) {
      assert.throws(
        () => addReport(sums, record),
        (e) => isConsentgateError(e, "invalid_body") && e.status === 400 && problem.test(String(e.details.problems)),
        JSON.stringify(record),
      );
    }
    assert.ok(
      sums.cells.every((x) => x === 0),
      "nothing was added",
    );
    assert.throws(
      () => validateReport({ hash: 9, index: 99, bit: 0, extra: 1 }, shape),
      (e) => isConsentgateError(e, "invalid_body") && e.details.problems?.length === 4,
    );
    assert.deepEqual(validateReport({ bit: -1, index: 15, hash: 7 }, shape), { hash: 7, index: 15, bit: -1 });
  });

  test("records add up as integers in their cell; stored cells round-trip", () => {
    const sums = createSketchSums(shape);
    addReport(sums, { hash: 2, index: 3, bit: 1 });
    addReport(sums, { hash: 2, index: 3, bit: 1 });
    addReport(sums, { hash: 7, index: 15, bit: -1 });
    addReport(sums, { hash: 0, index: 0, bit: 1 });
    addReport(sums, { hash: 0, index: 0, bit: -1 });
    const cells = [...sketchCells(sums)];
    assert.deepEqual(cells, [
      { hash: 2, index: 3, sum: 2 },
      { hash: 7, index: 15, sum: -1 },
    ]);
    assert.deepEqual(sketchSumsFromCells(shape, cells), sums);
    const estimate = (s: SketchSums) => estimateFrequencies(s, 5, ["a", "b"], { epsilon: 2, ...shape });
    assert.deepEqual(estimate(sketchSumsFromCells(shape, cells)), estimate(sums));
  });

  test("stored cells that do not fit the shape are refused", () => {
    for (const cells of [
      [{ hash: 8, index: 0, sum: 1 }],
      [{ hash: 0, index: 16, sum: 1 }],
      [{ hash: 0, index: 0, sum: 0.5 }],
      [{ hash: 0, index: 0, sum: 2 ** 31 }],
      [
        { hash: 1, index: 1, sum: 1 },
        { hash: 1, index: 1, sum: 1 },
      ],
    ])
      assert.throws(() => sketchSumsFromCells(shape, cells), RangeError, JSON.stringify(cells));
  });

  test("n must be a count of reports these sums can come from, and params must match the sums", () => {
    const params = { epsilon: 2, ...shape };
    const sums = sketchSumsFromCells(shape, [
      { hash: 1, index: 1, sum: 3 },
      { hash: 2, index: 2, sum: -2 },
    ]);
    assert.equal(estimateFrequencies(sums, 5, ["a"], params).length, 1);
    assert.equal(estimateFrequencies(sums, 7, ["a"], params).length, 1);
    assert.throws(() => estimateFrequencies(sums, 4, ["a"], params), /at least 5 reports/);
    assert.throws(() => estimateFrequencies(sums, 6, ["a"], params), /parity/);
    assert.throws(() => estimateFrequencies(sums, -1, ["a"], params), RangeError);
    assert.throws(() => estimateFrequencies(sums, 5.5, ["a"], params), RangeError);
    assert.throws(() => estimateFrequencies(sums, 5, ["a"], { ...params, width: 32 }), /8×16 sketch/);
    assert.throws(() => estimateFrequencies(sums, 5, ["a"], { ...params, epsilon: 0 }), /epsilon/);
    assert.throws(() => estimateFrequencies(sums, 5, ["\uD800"], params), TypeError);
    assert.throws(() => createSketchSums({ hashes: 2 ** 14, width: 2 ** 15 }), /2\^28 cells/);
    assert.equal(MAX_CELLS, 2 ** 28);
    assert.throws(() => createSketchSums({ hashes: 3, width: 12 }), /width/);
  });
});

describe("end to end: the real client, a Zipf population, the server's estimates", () => {
  test("50 000 reports: every estimate within 6 standard errors, and the standard errors are the spread", () => {
    const params = { epsilon: 2, hashes: 128, width: 1024 };
    const run = randomInt(1_000_000);
    const present = Array.from({ length: 100 }, (_, r) => `song-${run}-${r}`);
    const absent = Array.from({ length: 1000 }, (_, r) => `unplayed-${run}-${r}`);
    const n = 50_000;
    const { draws, truth } = zipfSample(present, 0.99, n);
    const sums = createSketchSums(params);
    for (const value of draws) addReport(sums, telemetryReport(value, params));

    const estimates = estimateFrequencies(sums, n, [...present, ...absent], params);
    const z = estimates.map((e) => (e.estimate - (truth.get(e.value) ?? 0)) / e.standardError);
    // 1100 candidates, P(|N(0,1)| > 6) = 2·10^-9 each: a false alarm about once in 500 000 runs.
    const worst = Math.max(...z.map(Math.abs));
    assert.ok(worst <= 6, `an estimate is ${worst.toFixed(2)} standard errors from the truth`);

    // The standard errors are the spread: mean z² is 1 within Z standard deviations of its own (√(2/N) for normal z).
    const meanSquare = z.reduce((s, x) => s + x * x, 0) / z.length;
    assert.ok(Math.abs(meanSquare - 1) <= Z * Math.sqrt(2 / z.length), `mean z² = ${meanSquare}`);
    const meanZ = z.reduce((s, x) => s + x, 0) / z.length;
    assert.ok(Math.abs(meanZ) <= Z / Math.sqrt(z.length), `mean z = ${meanZ}: biased`);

    // Not vacuous: the most played song is estimated to within a tenth, and the noise is n·c_ε²'s.
    const top = estimates[0]!;
    assert.ok(top.standardError < truth.get(present[0]!)! / 10);
    const leading = Math.sqrt(n) * cEpsilon(params.epsilon) * (1024 / 1023);
    assert.ok(Math.abs(estimates.at(-1)!.standardError / leading - 1) < 0.01);
  });

  test("unbiased (issue 16): 100 000 devices with known frequencies over 20 values, every estimate within 4 standard errors", () => {
    // The case. A fixed distribution: value r (1..19) with weight 1/r, and a 20th that nobody reports; the
    // frequencies are exact counts, not a sample of them, so the truth is known. Names are new in every run, so
    // their hash columns (and collisions) are a fresh draw: the estimator is unbiased over the devices' coins and
    // the hash functions together. P(|N(0,1)| > 4) = 6.3e-5, so with 20 candidates this fails by chance in about
    // 20 × 6.3e-5 = 1.3e-3 of runs, far more often than the 6-standard-error check above; the issue asks for 4.
    //
    // k = 64, m = 1024 instead of the documented example's 1024 × 32768, to run in seconds: unbiasedness does not depend on
    // k or m (the m/(m−1)·(… − n/m) correction removes the collision mass for every m), and k·m only sets the
    // collision term of the variance, Σ f(d')²/(k(m−1)), which the standard error includes (here ≈ 1.3·10^9 /
    // 65 472 ≈ 2·10^4 beside n·c_ε² ≈ 1.1·10^5). The same client, addReport and estimator run; with ~1 560
    // reports per row the rows are dense, so estimation takes the transform path (at 1024 × 32768, ~100 per row,
    // it would take the direct sums, which the test of the two paths above shows give the same integers).
    const params = { epsilon: 4, hashes: 64, width: 1024 };
    const n = 100_000;
    const run = randomInt(1_000_000);
    const values = Array.from({ length: 20 }, (_, r) => `genre-${run}-${r + 1}`);
    const weights = values.map((_, r) => (r < 19 ? 1 / (r + 1) : 0));
    const total = weights.reduce((a, b) => a + b, 0);
    const frequencies = weights.map((w) => Math.floor((n * w) / total));
    frequencies[0]! += n - frequencies.reduce((a, b) => a + b, 0);
    const sums = createSketchSums(params);
    for (const [i, value] of values.entries()) {
      for (let device = 0; device < frequencies[i]!; device++) addReport(sums, telemetryReport(value, params));
    }

    const estimates = estimateFrequencies(sums, n, values, params);
    assert.equal(frequencies[19], 0);
    for (const [i, { value, estimate, standardError }] of estimates.entries()) {
      const z = (estimate - frequencies[i]!) / standardError;
      assert.ok(
        Math.abs(z) <= 4,
        `${value}: estimate ${estimate.toFixed(0)} for ${frequencies[i]}, ${z.toFixed(2)} SE`,
      );
    }
    // Not vacuous: the band is the devices' noise and a little collision, not wide. The devices' noise is
    // (m/(m−1))²·(n·c_ε² − f(d)) to within 1/m² terms (≈ 328² for a rare value, 282² for the top one, which is
    // 28 % of the reports); the collision term adds ~10 % at most here.
    const c = cEpsilon(params.epsilon);
    for (const [i, { value, standardError }] of estimates.entries()) {
      const devices = (1024 / 1023) * Math.sqrt(n * c * c - frequencies[i]!);
      assert.ok(standardError >= 0.95 * devices && standardError <= 1.3 * devices, `${value}: SE ${standardError}`);
    }
    assert.ok(4 * estimates[0]!.standardError < frequencies[0]! / 10, "the top value is estimated to a few per cent");
  });

  test("the collision term: a small sketch and one heavy value, whose collisions are most of the error", () => {
    // k·m = 128 against one value that every report holds: an absent value's error is mostly how many of its 8
    // columns it shares with the heavy one, variance n²/(k(m−1)) ≈ 8.3·10^5 against n·c_ε² ≈ 1.1·10^4 for the
    // devices' noise. (k = 8 keeps a collision in every row, which no estimate can tell apart, at 16^-8.)
    const params = { epsilon: 4, hashes: 8, width: 16 };
    const run = randomInt(1_000_000);
    const n = 10_000;
    const sums = createSketchSums(params);
    for (let i = 0; i < n; i++) addReport(sums, telemetryReport(`heavy-${run}`, params));
    const absent = Array.from({ length: 3000 }, (_, r) => `absent-${run}-${r}`);
    const estimates = estimateFrequencies(sums, n, [`heavy-${run}`, ...absent], params);
    const z2 = estimates.slice(1).map((e) => (e.estimate / e.standardError) ** 2);
    const mean = z2.reduce((s, x) => s + x, 0) / z2.length;
    const sd = Math.sqrt(z2.reduce((s, x) => s + (x - mean) ** 2, 0) / (z2.length - 1));
    // z² is far from χ²₁ here (a few collision counts), so its spread is measured, not assumed.
    assert.ok(sd < 5, `sd of z² = ${sd}: the check below would be vacuous`);
    assert.ok(Math.abs(mean - 1) <= (Z * sd) / Math.sqrt(z2.length), `mean z² = ${mean} (sd ${sd})`);
    // Without the collision term the standard error would be about √(n·c_ε²) ≈ 100, not ≈ 900.
    assert.ok(estimates[1]!.standardError > 5 * Math.sqrt(n) * cEpsilon(params.epsilon));
  });
});
