/**
 * The server's side of Apple's Hadamard count-mean sketch (Apple Differential
 * Privacy Team, "Learning with Privacy at Scale", 2017): sums of the devices'
 * records, and unbiased frequency estimates from those sums. Pure: no
 * database, no clock, no randomness; the caller stores the sums.
 *
 * What the server keeps is only a k×m matrix of integers, S[j][l] = the sum of
 * the `bit`s of every record with hash j and index l: never a record, never
 * anything per subject. Apple's sketch-construction algorithm for HCMS adds
 * k·c_ε·bit to M[j][l] and then multiplies M by H_m^T; both are linear, so
 * M·H_m^T = k·c_ε·(S·H_m), and keeping the integer S instead of the real M
 * loses nothing, stores as plain integers, and lets the transform run in exact
 * integer arithmetic (|(S·H_m)[j][h]| ≤ n < 2^53). The factor k·c_ε is applied
 * once, at estimation.
 *
 * Notation, as in the paper: n reports, k hash functions h_j: D → [0, m),
 * c_ε = (e^ε + 1) / (e^ε − 1), H_m the m×m Sylvester–Hadamard matrix (±1
 * entries, H_m·H_m = m·I), f(d) the number of reports of value d.
 */
import { hadamardEntry, sketchHashes } from "../client/hash.ts";
import { type TelemetryParams, telemetryParamsProblems } from "../client/params.ts";
import type { TelemetryRecord } from "../client/report.ts";
import { ConsentgateError } from "../errors.ts";

/** The largest sketch held in memory: 2^28 cells of 4 bytes (1 GiB). the example in docs/telemetry.md is 2^10 × 2^15 = 2^25. */
export const MAX_CELLS = 2 ** 28;

/** A sketch's shape: k rows (`hashes`) of m cells (`width`). */
export type SketchShape = Pick<TelemetryParams, "hashes" | "width">;

/** The server's whole state for one metric: S[j][l] at `cells[j * width + l]`. */
export interface SketchSums {
  readonly hashes: number;
  readonly width: number;
  /** Row-major k×m sums of ±1 bits; a cell's magnitude is at most the reports it received. */
  readonly cells: Int32Array;
}

/** One non-zero cell of a sketch, as the caller stores it. */
export interface SketchCell {
  hash: number;
  index: number;
  sum: number;
}

/** A candidate value's estimated number of reports, and that estimate's standard error. */
export interface FrequencyEstimate {
  value: string;
  /** f̃(value): unbiased for f(value), the number of reports of this value; may be negative or above n. */
  estimate: number;
  /** √Var[f̃(value)] with the true frequencies replaced by their estimates (see estimateFrequencies). */
  standardError: number;
}

/**
 * One candidate value's estimated frequency in a telemetry metric.
 *
 * @example
 * ```ts
 * import type { TelemetryEstimate } from "consentgate";
 *
 * const plausible = ({ frequency, standardError }: TelemetryEstimate) => frequency > 2 * standardError;
 * ```
 */
export interface TelemetryEstimate {
  /** The candidate, as given. */
  value: string;
  /** The estimated number of reports of this value: unbiased, so it may be negative or above `reports`. */
  frequency: number;
  /** The estimate's standard error (about √n·c_ε, see docs/telemetry.md). */
  standardError: number;
}

/**
 * What `gate.insights.frequencies()` and `GET /admin/telemetry/:metric`
 * answer: how many reports the metric has, and each candidate's estimate.
 *
 * @example
 * ```ts
 * import type { TelemetryFrequencies } from "consentgate";
 *
 * const top = (f: TelemetryFrequencies) => [...f.estimates].sort((a, b) => b.frequency - a.frequency).slice(0, 3);
 * ```
 */
export interface TelemetryFrequencies {
  /** The metric's name in the policy. */
  metric: string;
  /** n, the number of reports received. */
  reports: number;
  /** One estimate per candidate, in the order given. */
  estimates: TelemetryEstimate[];
}

/**
 * An empty sketch of the given shape.
 *
 * @example
 * ```ts
 * const sums = createSketchSums({ hashes: 1024, width: 32768 });
 * addReport(sums, { hash: 3, index: 17, bit: -1 });
 * ```
 */
export function createSketchSums(shape: SketchShape): SketchSums {
  assertShape(shape);
  return { hashes: shape.hashes, width: shape.width, cells: new Int32Array(shape.hashes * shape.width) };
}

/**
 * Rebuilds a sketch from its stored non-zero cells (the inverse of
 * `sketchCells`). A cell given twice, out of range or not an integer is a
 * RangeError: stored sums that do not fit the shape are corrupt, not a
 * client's mistake.
 *
 * @example
 * ```ts
 * const sums = sketchSumsFromCells({ hashes: 1024, width: 32768 }, [{ hash: 3, index: 17, sum: -1 }]);
 * ```
 */
export function sketchSumsFromCells(shape: SketchShape, cells: Iterable<SketchCell>): SketchSums {
  const sums = createSketchSums(shape);
  const seen = new Set<number>();
  for (const { hash, index, sum } of cells) {
    if (!isIndex(hash, sums.hashes) || !isIndex(index, sums.width))
      throw new RangeError(`stored cell (${hash}, ${index}) is outside the ${sums.hashes}×${sums.width} sketch`);
    if (!Number.isInteger(sum) || sum !== (sum | 0))
      throw new RangeError(`stored cell sum ${sum} is not a 32-bit integer`);
    const at = hash * sums.width + index;
    if (seen.has(at)) throw new RangeError(`stored cell (${hash}, ${index}) is given twice`);
    seen.add(at);
    sums.cells[at] = sum;
  }
  return sums;
}

/**
 * The non-zero cells of a sketch, row by row: what the caller stores (zero
 * cells are implied).
 *
 * @example
 * ```ts
 * for (const { hash, index, sum } of sketchCells(sums)) rows.push([metric, hash, index, sum]);
 * ```
 */
export function* sketchCells(sums: SketchSums): Generator<SketchCell> {
  for (let at = 0; at < sums.cells.length; at++) {
    const sum = sums.cells[at]!;
    if (sum !== 0) yield { hash: Math.floor(at / sums.width), index: at % sums.width, sum };
  }
}

/**
 * Checks one record as a device sent it and returns it typed: a plain object
 * with exactly the keys `hash` (an integer in [0, k)), `index` (an integer in
 * [0, m)) and `bit` (the number 1 or −1). Anything else is refused with
 * ConsentgateError `invalid_body` (400), every problem in `details.problems`:
 * a record the sketch cannot hold would bias every estimate.
 *
 * @example
 * ```ts
 * const record = validateReport(req.body, { hashes: 1024, width: 32768 }); // throws invalid_body
 * await cells.increment(metric, record.hash, record.index, record.bit);
 * ```
 */
export function validateReport(record: unknown, shape: SketchShape): TelemetryRecord {
  assertShape(shape);
  if (typeof record !== "object" || record === null || Array.isArray(record))
    throw new ConsentgateError("invalid_body", "a telemetry report must be an object { hash, index, bit }", {
      problems: ["the report is not an object"],
    });
  const problems: string[] = [];
  const { hash, index, bit } = record as Record<string, unknown>;
  const extra = Object.keys(record).filter((key) => key !== "hash" && key !== "index" && key !== "bit");
  if (extra.length > 0) problems.push(`unexpected keys: ${extra.join(", ")}`);
  if (!isIndex(hash, shape.hashes))
    problems.push(`hash must be an integer in [0, ${shape.hashes}) (got ${show(hash)})`);
  if (!isIndex(index, shape.width))
    problems.push(`index must be an integer in [0, ${shape.width}) (got ${show(index)})`);
  if (bit !== 1 && bit !== -1) problems.push(`bit must be 1 or -1 (got ${show(bit)})`);
  if (problems.length > 0)
    throw new ConsentgateError("invalid_body", `invalid telemetry report: ${problems.join("; ")}`, { problems });
  return { hash: hash as number, index: index as number, bit: bit as 1 | -1 };
}

/**
 * Adds one device's record to the sums (Apple's HCMS sketch construction,
 * kept as integers: S[j][l] += bit). Validates it first (`validateReport`:
 * ConsentgateError `invalid_body` on anything but a well-formed record of this
 * shape); the sums are untouched when it throws.
 *
 * @example
 * ```ts
 * const sums = createSketchSums({ hashes: 1024, width: 32768 });
 * addReport(sums, req.body); // ConsentgateError invalid_body (400) when the body is not a record
 * reports += 1;
 * ```
 */
export function addReport(sums: SketchSums, record: unknown): void {
  const { hash, index, bit } = validateReport(record, sums);
  const at = hash * sums.width + index;
  const next = sums.cells[at]! + bit;
  // 2^31 reports in one cell: out of reach in practice, but a silent wrap would corrupt every estimate.
  if (next !== (next | 0)) throw new RangeError(`sketch cell (${hash}, ${index}) would overflow a 32-bit integer`);
  sums.cells[at] = next;
}

/**
 * The fast Walsh–Hadamard transform, in place: `values` becomes H_m · values
 * (H_m Sylvester-ordered, as hadamardEntry defines it), in m·log2(m)
 * additions, for a length m that is a power of two. H_m is symmetric, so this
 * is also values · H_m^T, the row transform of Apple's sketch construction.
 * Exact on integers while every partial sum stays below 2^53.
 *
 * @example
 * ```ts
 * fastWalshHadamard(Float64Array.of(1, 0, 0, 0)); // Float64Array [1, 1, 1, 1]
 * ```
 */
export function fastWalshHadamard(values: Float64Array): Float64Array {
  const m = values.length;
  if (m === 0 || (m & (m - 1)) !== 0) throw new RangeError(`the length must be a power of two (got ${m})`);
  // H_2h = [[H_h, H_h], [H_h, −H_h]]: at each level, pairs half a block apart become (a + b, a − b).
  for (let half = 1; half < m; half *= 2) {
    for (let block = 0; block < m; block += 2 * half) {
      for (let i = block; i < block + half; i++) {
        const a = values[i]!;
        const b = values[i + half]!;
        values[i] = a + b;
        values[i + half] = a - b;
      }
    }
  }
  return values;
}

/**
 * Estimates how many of the n reports carry each candidate value, with a
 * standard error: Apple's HCMS server side.
 *
 * The estimate (the paper's count-mean-sketch estimator over the transformed
 * HCMS sketch):
 *
 *   f̃(d) = m/(m−1) · ( (1/k) Σ_j M_H[j][h_j(d)] − n/m ),   M_H = k·c_ε·S·H_m^T
 *        = m/(m−1) · ( c_ε · Σ_j (S·H_m)[j][h_j(d)] − n/m ).
 *
 * It is unbiased over the devices' randomness and the (random) hash
 * functions: a report of d' adds, in expectation over j, l and the flip,
 * 1{h_j(d') = h_j(d)} averaged over j, which is 1 for d' = d and 1/m
 * otherwise; the n/m and m/(m−1) undo that collision mass.
 *
 * The variance, derived here from the algorithm's definition (each report
 * contributes Y = c_ε · bit · H_m[l][h_j(d)] ∈ {±c_ε}, independent across
 * reports, with mean p = the fraction of the k hash functions under which its
 * value collides with d; then the law of total variance over random hash
 * functions, pairwise independent across values):
 *
 *   Var[f̃(d)] = (m/(m−1))² · ( n·c_ε² − f(d) − (n − f(d)) · (1 + (m−1)/k) / m² )
 *             + Σ_{d' ≠ d} f(d')² / (k·(m−1)).
 *
 * The first line is the devices' randomization noise (≈ n·c_ε², the leading
 * term: each report is one ±c_ε coin); the second is hash collisions with
 * other values, which falls with k·m. The standard error plugs estimates in
 * for the unknown frequencies: f(d) ← f̃(d) clamped to [0, n] in the first
 * line, and in the second Σ f(d')² over the other distinct candidates,
 * estimated from their f̃(d')² less what their own errors add to those
 * squares (see the code). Values outside the candidate list are not seen:
 * with a heavy value left out, the collision term is underestimated (it is
 * small next to n·c_ε² unless k·m is small against the heavy values' share
 * of n). And a candidate whose k columns all coincide with a heavy value's
 * (probability m^−k) cannot be told apart from it by any estimator: it gets
 * that value's estimate, and a standard error that believes it.
 *
 * Cost: computing the k hashes of each candidate, then per row either the
 * fast Walsh–Hadamard transform (m·log2 m) or, when the row has few non-zero
 * cells, the Hadamard sums at the candidates' columns directly (non-zero cells
 * × candidates), whichever is cheaper; rows without reports cost a scan.
 * Both give the same integers. O(k·m·log m) at worst, as the paper has it.
 *
 * `n` is the number of reports added: it must be an integer ≥ Σ|S| with the
 * parity of ΣS (every report moves the total by ±1), or the sums are not
 * those of n reports (RangeError). Candidates must be well-formed strings.
 *
 * @example
 * ```ts
 * const params = { epsilon: 4, hashes: 1024, width: 32768 };
 * const sums = createSketchSums(params);
 * for (const record of received) addReport(sums, record);
 * for (const { value, estimate, standardError } of estimateFrequencies(sums, received.length, ["jazz", "rock"], params))
 *   console.log(value, Math.round(estimate), "±", Math.round(1.96 * standardError));
 * ```
 */
export function estimateFrequencies(
  sums: SketchSums,
  n: number,
  candidates: readonly string[],
  params: TelemetryParams,
): FrequencyEstimate[] {
  const problems = telemetryParamsProblems(params);
  if (problems.length > 0) throw new RangeError(`invalid telemetry params: ${problems.join("; ")}`);
  if (params.hashes !== sums.hashes || params.width !== sums.width)
    throw new RangeError(
      `the sums are a ${sums.hashes}×${sums.width} sketch, the params say ${params.hashes}×${params.width}`,
    );
  assertCount(sums, n);
  const { hashes: k, width: m } = sums;
  const columns = candidates.map((value) => sketchHashes(value, sums));

  // acc[c] = Σ_j (S·H_m)[j][h_j(candidate c)], an exact integer.
  const acc = new Float64Array(candidates.length);
  const row = new Float64Array(m);
  const nonZero = new Int32Array(m);
  const log2m = Math.log2(m);
  for (let j = 0; j < k; j++) {
    const offset = j * m;
    let count = 0;
    for (let l = 0; l < m; l++) if (sums.cells[offset + l] !== 0) nonZero[count++] = l;
    if (count === 0) continue;
    if (count * candidates.length <= m * log2m) {
      // Sparse row: Σ_l S[j][l] · H[l][h] over the non-zero l only.
      for (let c = 0; c < candidates.length; c++) {
        const h = columns[c]![j]!;
        let total = 0;
        for (let i = 0; i < count; i++) {
          const l = nonZero[i]!;
          total += sums.cells[offset + l]! * hadamardEntry(l, h);
        }
        acc[c]! += total;
      }
    } else {
      for (let l = 0; l < m; l++) row[l] = sums.cells[offset + l]!;
      fastWalshHadamard(row);
      for (let c = 0; c < candidates.length; c++) acc[c]! += row[columns[c]![j]!]!;
    }
  }

  const c = cEpsilon(params.epsilon);
  const scale = m / (m - 1);
  const estimates = Array.from(acc, (sum) => scale * (c * sum - n / m));
  // The randomization's variance (first line of Var[f̃(d)] above), with f(d) ← f̃(d) clamped to [0, n].
  const noise = estimates.map((estimate) => {
    const f = Math.min(Math.max(estimate, 0), n);
    return scale ** 2 * (n * c * c - f - ((n - f) * (1 + (m - 1) / k)) / (m * m));
  });
  // The collision term needs Σ f(d')² over the other values. Over the distinct candidates, with q = 1/(k(m−1)) and
  // T = Σ f(c)²: E[f̃(c)²] = f(c)² + noise(c) + q·(T − f(c)²), so Σ (f̃(c)² − noise(c)) estimates T·(1 + (D−1)q)
  // without bias, and then each f(c)² is (f̃(c)² − noise(c) − q·T) / (1 − q). Squaring the estimates alone would
  // count every candidate's own error as frequency: n·c_ε² each, or more where collisions dominate.
  const q = 1 / (k * (m - 1));
  const excess = new Map<string, number>();
  candidates.forEach((value, i) => excess.set(value, estimates[i]! ** 2 - noise[i]!));
  let sum = 0;
  for (const x of excess.values()) sum += x;
  const total = Math.max(sum / (1 + (excess.size - 1) * q), 0);

  return candidates.map((value, i) => {
    const own = (excess.get(value)! - q * total) / (1 - q);
    const variance = Math.max(noise[i]!, 0) + q * Math.max(total - own, 0);
    return { value, estimate: estimates[i]!, standardError: Math.sqrt(variance) };
  });
}

/** c_ε = (e^ε + 1) / (e^ε − 1), through expm1 so that a small ε keeps its digits. */
export function cEpsilon(epsilon: number): number {
  const e = Math.expm1(epsilon);
  return (e + 2) / e;
}

function assertShape(shape: SketchShape): void {
  const problems = telemetryParamsProblems({ epsilon: 1, hashes: shape.hashes, width: shape.width });
  if (problems.length > 0) throw new RangeError(`invalid sketch shape: ${problems.join("; ")}`);
  if (shape.hashes * shape.width > MAX_CELLS)
    throw new RangeError(`a ${shape.hashes}×${shape.width} sketch has more than 2^28 cells`);
}

/** n must be a count of reports these sums could come from. */
function assertCount(sums: SketchSums, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer (got ${n})`);
  let total = 0;
  let magnitude = 0;
  for (let at = 0; at < sums.cells.length; at++) {
    const sum = sums.cells[at]!;
    total += sum;
    magnitude += Math.abs(sum);
  }
  if (magnitude > n) throw new RangeError(`the sums need at least ${magnitude} reports, but n is ${n}`);
  if ((n - total) % 2 !== 0) throw new RangeError(`n = ${n} reports cannot sum to ${total}: the parity differs`);
}

function isIndex(x: unknown, size: number): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x < size;
}

function show(x: unknown): string {
  return typeof x === "string" ? JSON.stringify(x) : String(x);
}
