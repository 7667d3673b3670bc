/**
 * Clipping a device's model update to an L2 norm of at most `clip` (C): the
 * bound every sensitivity in sensitivity.ts starts from. An update u becomes
 * u·min(1, C/‖u‖₂) (Abadi et al. 2016, "Deep Learning with Differential
 * Privacy", Algorithm 1, "clip gradient"; McMahan et al. 2018, "Learning
 * Differentially Private Recurrent Language Models", Algorithm 1, the
 * per-user update clip). The server clips again whatever the device says it
 * did: a device that did not clip must not widen the sensitivity.
 */
import { ConsentgateError } from "../errors.ts";

/**
 * start + Σ u_i² of (a block of) an update, in doubles, added term by term
 * in order: summing an update block by block, each block starting from the
 * sum so far, gives the very double one pass gives, so the clip does not
 * depend on the block size. Squares of float32 values (|u_i| < 2^128) stay
 * finite in a double, so the sum does not overflow for any model size that
 * fits in memory.
 *
 * @example
 * ```ts
 * squaredNorm(Float32Array.of(3, 4));     // 25
 * squaredNorm(Float32Array.of(4), 9);     // 25: the block after [3]
 * ```
 */
export function squaredNorm(update: ArrayLike<number>, start = 0): number {
  let sum = start;
  for (let i = 0; i < update.length; i++) {
    const value = update[i]!;
    sum += value * value;
  }
  return sum;
}

/**
 * ‖u‖₂, the L2 norm of an update.
 *
 * @example
 * ```ts
 * l2Norm(Float32Array.of(3, 4)); // 5
 * ```
 */
export function l2Norm(update: ArrayLike<number>): number {
  return Math.sqrt(squaredNorm(update));
}

/**
 * The factor that clips an update of L2 norm `norm` to at most `clip`:
 * min(1, clip/norm). An update already within the clip, the all-zero one
 * included, keeps its scale 1, so a zero norm is never divided by (Flower's
 * `clip_inputs_inplace`, flwr/common/differential_privacy.py, computes
 * `min(1, clipping_norm / input_norm)` on Python floats, which raises
 * ZeroDivisionError for the all-zero update).
 *
 * @example
 * ```ts
 * clipScale(5, 1);   // 0.2: the update is shrunk to norm 1
 * clipScale(0.5, 1); // 1: already within the clip
 * clipScale(0, 1);   // 1: the all-zero update
 * ```
 */
export function clipScale(norm: number, clip: number): number {
  checkClip(clip);
  if (!(norm >= 0) || !Number.isFinite(norm)) {
    throw new ConsentgateError("invalid_body", `an update's norm must be finite and ≥ 0, got ${norm}`, { norm });
  }
  return norm <= clip ? 1 : clip / norm;
}

/**
 * The update clipped to L2 norm at most `clip`, as a new Float64Array.
 *
 * @example
 * ```ts
 * clipUpdate(Float32Array.of(3, 4), 1); // Float64Array [0.6, 0.8]
 * ```
 */
export function clipUpdate(update: ArrayLike<number>, clip: number): Float64Array {
  const scale = clipScale(l2Norm(update), clip);
  return Float64Array.from(update, (value) => value * scale);
}

/**
 * Throws invalid_option unless the clip is a finite number > 0.
 *
 * @example
 * ```ts
 * checkClip(1);  // fine
 * checkClip(0);  // throws invalid_option
 * ```
 */
export function checkClip(clip: number): void {
  if (!(clip > 0) || !Number.isFinite(clip)) {
    throw new ConsentgateError("invalid_option", `clip must be a finite number > 0, got ${clip}`, { clip });
  }
}
