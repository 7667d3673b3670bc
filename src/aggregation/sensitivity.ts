/**
 * The L2 sensitivity of each aggregator: how far, in L2, the aggregate of a
 * round's n clipped updates (each ‖u‖₂ ≤ C) can move when one participant's
 * update is replaced by another (replace-one adjacency: a round closes at a
 * fixed count n, so n is public and neighbouring rounds differ in one
 * update, not in their size). The Gaussian mechanism's noise is scaled to
 * it (noise.ts).
 *
 * Derivation. Let one participant's update change from a to b, so
 * ‖a − b‖₂ ≤ ‖a‖₂ + ‖b‖₂ ≤ 2C, and per coordinate j it moves from a_j to b_j.
 * - Mean: the aggregate moves by (b − a)/n, so Δ₂ = 2C/n (Dwork and Roth
 *   2014, the Gaussian mechanism's ℓ2 sensitivity; attained by a = C·e₁,
 *   b = −C·e₁).
 * - Trimmed mean with k = ⌊trim·n⌋ cut from each end: per coordinate it is
 *   (1/(n−2k))·Σ_{i=k+1}^{n−k} x_(i), a window of the order statistics. Let
 *   one value rise from a_j to b_j (a fall is symmetric): every order
 *   statistic x_(i) is non-decreasing in each value, and their total, the
 *   sum of all values, rises by exactly b_j − a_j; so the sum over any set of
 *   positions rises by at least 0 and at most b_j − a_j. The coordinate
 *   moves by at most |b_j − a_j|/(n−2k), and over all coordinates
 *   ‖Δ‖₂ ≤ ‖b − a‖₂/(n−2k) ≤ 2C/(n−2k). Attained: the other participants put
 *   k values at −C, k at +C and n−2k−1 at 0 on coordinate 1; a = C·e₁ then
 *   sits in the window as C, b = −C·e₁ as −C.
 * - Median: numpy's median is the trimmed mean with the largest cut that
 *   leaves the middle: k = (n−1)/2 for odd n, window 1, Δ₂ = 2C; k = n/2 − 1
 *   for even n, window 2 (the mean of the two middle values), Δ₂ = C.
 *   Attained the same way. The median's sensitivity does not shrink with n:
 *   its robustness costs privacy noise.
 * All three are checked, and shown nearly attained, by a property test
 * (test/aggregation/sensitivity.test.ts).
 */
import { ConsentgateError } from "../errors.ts";
import { type Aggregation, trimCount } from "./aggregators.ts";
import { checkClip } from "./clip.ts";

/** A round's shape, as sensitivity needs it. */
export interface RoundShape {
  /** How the updates are combined. */
  readonly aggregation: Aggregation;
  /** n, the number of updates the round closes at (public). */
  readonly participants: number;
  /** C, the L2 norm every update is clipped to. */
  readonly clip: number;
  /** The trimmed mean's fraction cut from each end (only read for "trimmed-mean"). */
  readonly trim?: number;
}

/**
 * The number of values in the window each aggregator averages, per
 * coordinate: n for the mean, n − 2⌊trim·n⌋ for the trimmed mean, 1 or 2 for
 * the median of an odd or even n. The sensitivity is 2C over it.
 *
 * @example
 * ```ts
 * aggregationWindow({ aggregation: "median", participants: 10, clip: 1 }); // 2
 * ```
 */
export function aggregationWindow(round: RoundShape): number {
  const n = round.participants;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConsentgateError("invalid_option", `participants must be an integer ≥ 1, got ${n}`, { participants: n });
  }
  if (round.aggregation === "mean") return n;
  if (round.aggregation === "median") return n % 2 === 1 ? 1 : 2;
  if (round.aggregation === "trimmed-mean") return n - 2 * trimCount(n, round.trim ?? 0);
  throw new ConsentgateError("invalid_option", `unknown aggregation ${String(round.aggregation)}`, {
    aggregation: round.aggregation,
  });
}

/**
 * Δ₂, the L2 sensitivity of the round's aggregate under replace-one
 * adjacency: 2C/n (mean), 2C/(n − 2⌊trim·n⌋) (trimmed mean), 2C for an odd
 * and C for an even count (median). See the derivation above.
 *
 * @example
 * ```ts
 * aggregationSensitivity({ aggregation: "mean", participants: 100, clip: 1 });                     // 0.02
 * aggregationSensitivity({ aggregation: "trimmed-mean", participants: 100, clip: 1, trim: 0.1 }); // 2/80
 * aggregationSensitivity({ aggregation: "median", participants: 100, clip: 1 });                   // 1
 * ```
 */
export function aggregationSensitivity(round: RoundShape): number {
  checkClip(round.clip);
  return (2 * round.clip) / aggregationWindow(round);
}

/**
 * A bound on how far each coordinate of the aggregate computed in doubles
 * can be from the exact aggregate of the exactly clipped updates: n·C·2^-50.
 * Clipping rounds each value by at most 2u·C (u = 2^-53), which moves any of
 * the three aggregates by at most that; summing m ≤ n values of magnitude ≤ C
 * errs by at most (m−1)·u·m·C (Higham 2002, "Accuracy and Stability of
 * Numerical Algorithms", eq. 4.4), n·u·C once divided by m; the division and
 * the median's halving round once more. 2^-50 = 8u covers the sum of these.
 * The fixed-point step (noise.ts) adds it to the rounding's sensitivity, so
 * floating point never widens the privacy guarantee.
 *
 * @example
 * ```ts
 * aggregationError({ aggregation: "mean", participants: 1000, clip: 1 }); // ≈ 8.9e-13
 * ```
 */
export function aggregationError(round: RoundShape): number {
  checkClip(round.clip);
  return round.participants * round.clip * 2 ** -50;
}
