/**
 * The robust and plain aggregators of a federated round, coordinate by
 * coordinate over the participants' clipped updates: the mean (FedAvg with
 * equal weights, McMahan et al. 2017), the coordinate-wise median (Yin et al.
 * 2018, "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
 * Rates", Definition 1) and the trimmed mean (Yin et al. 2018, Definition 2),
 * each as Flower computes it (adap/flower, src/py/flwr/server/strategy/
 * aggregate.py: `aggregate_median` is `np.median` over the clients' axis,
 * which averages the two middle values of an even count;
 * `aggregate_trimmed_avg` calls `_trim_mean`, which cuts
 * `int(proportiontocut * nobs)` values from each end and averages the rest).
 */
import { ConsentgateError } from "../errors.ts";

/** How a round combines its participants' updates. */
export type Aggregation = "mean" | "median" | "trimmed-mean";

/** The aggregations, in the order docs list them. */
export const AGGREGATIONS: readonly Aggregation[] = ["mean", "median", "trimmed-mean"];

/**
 * k = ⌊trim·n⌋, the number of values the trimmed mean cuts from each end
 * (Flower's `_trim_mean`: `lowercut = int(proportiontocut * nobs)`, the
 * product in doubles, truncated). At least one value must remain, so
 * n − 2k ≥ 1; Flower raises only when k > n − k and returns NaN (the mean of
 * nothing) when k = n − k, which is refused here.
 *
 * @example
 * ```ts
 * trimCount(10, 0.1); // 1
 * trimCount(10, 0.25); // 2
 * ```
 */
export function trimCount(participants: number, trim: number): number {
  if (!Number.isSafeInteger(participants) || participants < 1) {
    throw new ConsentgateError("invalid_option", `participants must be an integer ≥ 1, got ${participants}`, {
      participants,
    });
  }
  if (!(trim >= 0 && trim < 0.5)) {
    throw new ConsentgateError("invalid_option", `trim must be in [0, 0.5), got ${trim}`, { trim });
  }
  const cut = Math.floor(trim * participants);
  if (participants - 2 * cut < 1) {
    throw new ConsentgateError("invalid_option", `trim ${trim} of ${participants} participants leaves no value`, {
      trim,
      participants,
    });
  }
  return cut;
}

/**
 * The mean of one coordinate's values.
 *
 * @example
 * ```ts
 * mean(Float64Array.of(0.2, 1, 0.5)); // 0.5666…
 * ```
 */
export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/** The mean of sorted[from, to), to > from. */
function windowMean(sorted: Float64Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += sorted[i]!;
  return sum / (to - from);
}

/**
 * The median of one coordinate's values, as numpy's `median`: the middle
 * value of an odd count, the mean of the two middle values of an even one.
 * Sorts `values` in place.
 *
 * @example
 * ```ts
 * median(Float64Array.of(0.2, 1, 0.5));    // 0.5
 * median(Float64Array.of(0.2, 1, 0.5, 4)); // 0.75
 * ```
 */
export function median(values: Float64Array): number {
  values.sort();
  const n = values.length;
  const half = n >> 1;
  return n % 2 === 1 ? values[half]! : (values[half - 1]! + values[half]!) / 2;
}

/**
 * The trimmed mean of one coordinate's values: sorted, k = ⌊trim·n⌋ cut
 * from each end ({@link trimCount}), the rest averaged. Sorts `values` in
 * place.
 *
 * @example
 * ```ts
 * trimmedMean(Float64Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 100), 0.1); // 5.5 (1 and 100 cut)
 * ```
 */
export function trimmedMean(values: Float64Array, trim: number): number {
  const cut = trimCount(values.length, trim);
  values.sort();
  return windowMean(values, cut, values.length - cut);
}

/**
 * Aggregates a block of coordinates: `columns[p][j]` is participant p's
 * (clipped) value of the block's coordinate j, for j < `length`; the result's
 * j is the aggregate of the participants' values of coordinate j. Trim is
 * read only by the trimmed mean.
 *
 * @example
 * ```ts
 * const block = [Float64Array.of(0.2, 1), Float64Array.of(1, 2), Float64Array.of(0.5, 3)];
 * aggregateBlock("median", block, 2); // Float64Array [0.5, 2]
 * ```
 */
export function aggregateBlock(
  aggregation: Aggregation,
  columns: readonly ArrayLike<number>[],
  length: number,
  trim = 0,
): Float64Array {
  const n = columns.length;
  const cut = aggregation === "trimmed-mean" ? trimCount(n, trim) : 0;
  if (n < 1) throw new ConsentgateError("invalid_option", "a round needs at least one participant");
  const result = new Float64Array(length);
  const coordinate = new Float64Array(n);
  for (let j = 0; j < length; j++) {
    for (let p = 0; p < n; p++) coordinate[p] = columns[p]![j]!;
    if (aggregation === "mean") result[j] = mean(coordinate);
    else if (aggregation === "median") result[j] = median(coordinate);
    else {
      coordinate.sort();
      result[j] = windowMean(coordinate, cut, n - cut);
    }
  }
  return result;
}
