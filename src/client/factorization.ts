/**
 * The device's matrix factorization for implicit feedback (plays), pure: the
 * same functions run on the device (recommender.ts), in the benchmark's
 * simulation of many devices (bench/learning.ts) and in the server's tests.
 *
 * The model is implicit ALS (Hu, Koren and Volinsky 2008, "Collaborative
 * Filtering for Implicit Feedback Datasets", ICDM): a user u played item i
 * r_ui times; the preference is p_ui = 1 when r_ui > 0, else 0 (eq. 1), held
 * with confidence c_ui = 1 + α·r_ui (eq. 2); the cost is
 *
 *   Σ_{u,i} c_ui (p_ui − x_uᵀ y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)   (eq. 3)
 *
 * over user vectors x_u and item vectors y_i (the rows of Y). Federated
 * Collaborative Filtering (Ammad-ud-din et al. 2019, arXiv 1901.09888, §3)
 * splits it: the device solves its own x_u exactly (HKV eq. 4) and sends only
 * its part of the item vectors' gradient; the server holds Y and applies the
 * aggregate. Here the device sends the change of Y after a few local gradient
 * steps (the delta), over EVERY item: an unplayed item's row is non-zero too
 * (p_ui = 0 still pulls x_uᵀy_i towards 0), so which items the device played
 * is not written in which rows are zero.
 *
 * Factors cross the wire as base64 of little-endian float32, row-major: item
 * i's vector is at [i·d, (i+1)·d).
 */

/**
 * The item factors Y as the server publishes them: `items` rows of
 * `dimensions` numbers, row-major (item i's vector at [i·d, (i+1)·d)).
 *
 * @example
 * ```ts
 * import { type ItemFactors, decodeFloat32 } from "consentgate/client";
 *
 * const body = (await (await fetch("/privacy/learning/recommender")).json()) as {
 *   items: string[];
 *   dimensions: number;
 *   factors: string;
 * };
 * const model: ItemFactors = {
 *   items: body.items.length,
 *   dimensions: body.dimensions,
 *   factors: decodeFloat32(body.factors, body.items.length * body.dimensions),
 * };
 * ```
 */
export interface ItemFactors {
  /** n, the number of items (rows). */
  items: number;
  /** d, the number of latent dimensions (columns). */
  dimensions: number;
  /** Y, n·d numbers, row-major. */
  factors: ArrayLike<number>;
}

/**
 * How often the device played one item: `item` is the item's row in Y,
 * `count` (r_ui) a number > 0 of plays.
 *
 * @example
 * ```ts
 * import type { ItemPlays } from "consentgate/client";
 *
 * // The device played row 12 three times and row 40 once.
 * const plays: ItemPlays[] = [{ item: 12, count: 3 }, { item: 40, count: 1 }];
 * ```
 */
export interface ItemPlays {
  /** The item's row in Y: an integer in [0, n). */
  item: number;
  /** r_ui: how many times the device played it, > 0. */
  count: number;
}

/**
 * The hyperparameters of implicit ALS and of the device's local training.
 *
 * @example
 * ```ts
 * import type { TrainingOptions } from "consentgate/client";
 *
 * const training: TrainingOptions = {
 *   alpha: 10,
 *   regularization: 0.1,
 *   itemRegularization: 0,
 *   learningRate: 0.05,
 *   epochs: 1,
 * };
 * ```
 */
export interface TrainingOptions {
  /** α of the confidence c_ui = 1 + α·r_ui (HKV eq. 2): ≥ 0. */
  alpha: number;
  /** λ of the user vector's ridge (HKV eq. 3–4): > 0, so the system is always solvable. */
  regularization: number;
  /**
   * λ_Y, the weight of ‖Y‖² in the device's own loss (≥ 0). With the server
   * averaging n devices' deltas, λ_Y = λ / n gives HKV's λ‖Y‖² once for the
   * whole population.
   */
  itemRegularization: number;
  /** γ of the local gradient step Y ← Y − γ·∇_Y J_u (FCF §3): > 0. */
  learningRate: number;
  /** Local epochs: each solves x_u against the local Y, then takes one gradient step; an integer ≥ 1. */
  epochs: number;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Each base64 character's 6-bit value, −1 for a character outside the alphabet. */
const SEXTETS = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) SEXTETS[BASE64.charCodeAt(i)] = i;

/**
 * Base64 (RFC 4648 §4, with padding) of `values` as little-endian float32.
 * Each value is rounded to the nearest float32 (−0 keeps its sign); a value
 * that is not finite, or rounds to ±Infinity, is refused with a RangeError,
 * so the device never sends a NaN or an infinity.
 *
 * @example
 * ```ts
 * import { encodeFloat32 } from "consentgate/client";
 *
 * const delta = encodeFloat32(new Float64Array([0.5, -0.25, 0])); // "AAAAPwAAgL4AAAAA"
 * ```
 */
export function encodeFloat32(values: ArrayLike<number>): string {
  const floats = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    floats[i] = value;
    if (!Number.isFinite(floats[i]!))
      throw new RangeError(`encodeFloat32: value ${i} (${value}) is not a finite float32`);
  }
  return base64(littleEndianBytes(floats));
}

/**
 * The float32 values of `text`, base64 (RFC 4648 §4) of little-endian
 * float32. Throws a TypeError on text that is not canonical padded base64, on
 * a byte count that is not a multiple of 4, on a count other than `length`
 * (when given), and on a NaN or an infinity among the values.
 *
 * @example
 * ```ts
 * import { decodeFloat32 } from "consentgate/client";
 *
 * const values = decodeFloat32("AAAAPwAAgL4AAAAA", 3); // Float32Array [0.5, -0.25, 0]
 * ```
 */
export function decodeFloat32(text: string, length?: number): Float32Array {
  const bytes = fromBase64(text);
  if (bytes.length % 4 !== 0)
    throw new TypeError(`decodeFloat32: ${bytes.length} bytes is not a whole number of float32`);
  if (length !== undefined && bytes.length !== 4 * length)
    throw new TypeError(`decodeFloat32: expected ${length} values, got ${bytes.length / 4}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float32Array(bytes.length / 4);
  for (let i = 0; i < values.length; i++) {
    const value = view.getFloat32(4 * i, true);
    if (!Number.isFinite(value)) throw new TypeError(`decodeFloat32: value ${i} is not finite`);
    values[i] = value;
  }
  return values;
}

/** The float32 values' bytes, little-endian whatever the host's own byte order. */
function littleEndianBytes(floats: Float32Array): Uint8Array {
  const bytes = new Uint8Array(4 * floats.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < floats.length; i++) view.setFloat32(4 * i, floats[i]!, true);
  return bytes;
}

/** RFC 4648 §4 base64 with padding: three bytes to four characters, built in chunks (no btoa or Buffer needed). */
function base64(bytes: Uint8Array): string {
  const chunks: string[] = [];
  const CHUNK = 3 * 4096;
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(bytes.length, start + CHUNK);
    const codes: number[] = [];
    let i = start;
    for (; i + 2 < end; i += 3) {
      const triple = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
      codes.push(
        BASE64.charCodeAt(triple >>> 18),
        BASE64.charCodeAt((triple >>> 12) & 63),
        BASE64.charCodeAt((triple >>> 6) & 63),
        BASE64.charCodeAt(triple & 63),
      );
    }
    if (i < end) {
      // Only the last chunk has a partial triple: CHUNK is a multiple of 3.
      const two = i + 1 < end;
      const triple = (bytes[i]! << 16) | (two ? bytes[i + 1]! << 8 : 0);
      codes.push(
        BASE64.charCodeAt(triple >>> 18),
        BASE64.charCodeAt((triple >>> 12) & 63),
        two ? BASE64.charCodeAt((triple >>> 6) & 63) : 61,
        61,
      );
    }
    chunks.push(String.fromCharCode(...codes));
  }
  return chunks.join("");
}

/** Canonical padded base64 to bytes; anything else (bad length, characters, padding or non-zero pad bits) is a TypeError. */
function fromBase64(text: string): Uint8Array {
  if (typeof text !== "string" || text.length % 4 !== 0)
    throw new TypeError("base64: the length must be a multiple of 4");
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const bytes = new Uint8Array((text.length / 4) * 3 - padding);
  let out = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    let triple = 0;
    for (let j = 0; j < 4; j++) {
      const code = text.charCodeAt(i + j);
      const isPad = code === 61 && last && j >= 4 - padding;
      const sextet = isPad ? 0 : code < 128 ? SEXTETS[code]! : -1;
      if (sextet < 0) throw new TypeError(`base64: invalid character at ${i + j}`);
      triple = (triple << 6) | sextet;
    }
    if (last && padding > 0 && (triple & (padding === 2 ? 0xffff : 0xff)) !== 0)
      throw new TypeError("base64: non-zero bits under the padding");
    bytes[out++] = triple >>> 16;
    if (out < bytes.length) bytes[out++] = (triple >>> 8) & 255;
    if (out < bytes.length) bytes[out++] = triple & 255;
  }
  return bytes;
}

/**
 * YᵀY, the d×d Gram matrix of the item factors (row-major). It is the same
 * for every device that trains on the same Y, so a simulation of many
 * devices computes it once per round and passes it to `solveUserVector` and
 * `localUpdate`.
 *
 * @example
 * ```ts
 * import { gramian } from "consentgate/client";
 *
 * const gram = gramian({ items: 2, dimensions: 2, factors: [1, 0, 1, 2] }); // [2, 2, 2, 4]
 * ```
 */
export function gramian(model: ItemFactors): Float64Array {
  const { items: n, dimensions: d, factors: y } = model;
  assertModel(model);
  const gram = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let a = 0; a < d; a++) {
      const ya = y[row + a]!;
      if (ya === 0) continue;
      for (let b = a; b < d; b++) gram[a * d + b]! += ya * y[row + b]!;
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) gram[a * d + b] = gram[b * d + a]!;
  return gram;
}

/**
 * The device's user vector, exactly: HKV eq. 4 (FCF §3 likewise),
 *
 *   x_u = (YᵀY + Yᵀ(C^u − I)Y + λI)⁻¹ YᵀC^u p(u),
 *
 * where C^u − I and C^u p(u) are non-zero only on the played items
 * (c_ui − 1 = α·r_ui, c_ui·p_ui = 1 + α·r_ui), so the cost past YᵀY is
 * O(|plays|·d² + d³). `gram` is YᵀY when the caller has it already.
 * A device without plays gets the zero vector.
 *
 * @example
 * ```ts
 * import { solveUserVector } from "consentgate/client";
 *
 * const model = { items: 3, dimensions: 2, factors: [1, 0, 0, 1, 0.5, 0.5] };
 * const user = solveUserVector(model, [{ item: 0, count: 4 }], { alpha: 10, regularization: 0.1 });
 * ```
 */
export function solveUserVector(
  model: ItemFactors,
  plays: readonly ItemPlays[],
  options: Pick<TrainingOptions, "alpha" | "regularization">,
  gram: ArrayLike<number> = gramian(model),
): Float64Array {
  const { dimensions: d, factors: y } = model;
  assertModel(model);
  assertPlays(plays, model.items);
  if (!(options.regularization > 0)) throw new RangeError("regularization must be > 0");
  if (!(options.alpha >= 0)) throw new RangeError("alpha must be ≥ 0");
  const matrix = Float64Array.from(gram);
  const right = new Float64Array(d);
  for (let a = 0; a < d; a++) matrix[a * d + a]! += options.regularization;
  for (const { item, count } of plays) {
    const extra = options.alpha * count; // c_ui − 1
    const row = item * d;
    for (let a = 0; a < d; a++) {
      const ya = y[row + a]!;
      right[a]! += (1 + extra) * ya; // c_ui · p_ui · y_i
      const scaled = extra * ya;
      for (let b = 0; b <= a; b++) matrix[a * d + b]! += scaled * y[row + b]!;
    }
  }
  return choleskySolve(matrix, right, d);
}

/**
 * Solves A x = b for a symmetric positive definite A (d×d, row-major; only
 * the lower triangle is read, and A is overwritten by its Cholesky factor).
 * A = YᵀC^uY + λI is positive definite for λ > 0, so the factorization
 * cannot meet a non-positive pivot except through a non-finite input.
 */
function choleskySolve(a: Float64Array, b: Float64Array, d: number): Float64Array {
  for (let j = 0; j < d; j++) {
    let pivot = a[j * d + j]!;
    for (let k = 0; k < j; k++) pivot -= a[j * d + k]! * a[j * d + k]!;
    if (!(pivot > 0)) throw new RangeError("solveUserVector: the system is not positive definite");
    const root = Math.sqrt(pivot);
    a[j * d + j] = root;
    for (let i = j + 1; i < d; i++) {
      let sum = a[i * d + j]!;
      for (let k = 0; k < j; k++) sum -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = sum / root;
    }
  }
  const x = Float64Array.from(b);
  for (let i = 0; i < d; i++) {
    let sum = x[i]!;
    for (let k = 0; k < i; k++) sum -= a[i * d + k]! * x[k]!;
    x[i] = sum / a[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    let sum = x[i]!;
    for (let k = i + 1; k < d; k++) sum -= a[k * d + i]! * x[k]!;
    x[i] = sum / a[i * d + i]!;
  }
  return x;
}

/**
 * The device's own loss for a fixed x_u, as a function of Y (HKV eq. 3
 * restricted to one user, the user's ridge left out since x_u is fixed, and
 * λ_Y‖Y‖² as its share of the item ridge):
 *
 *   J_u(Y) = Σ_i c_ui (p_ui − x_uᵀ y_i)² + λ_Y Σ_i ‖y_i‖².
 *
 * @example
 * ```ts
 * import { deviceLoss } from "consentgate/client";
 *
 * const model = { items: 2, dimensions: 1, factors: [1, 2] };
 * const loss = deviceLoss(model, [0.5], [{ item: 0, count: 1 }], { alpha: 1, itemRegularization: 0 });
 * // 2·(1 − 0.5)² + (0 − 1)² = 1.5
 * ```
 */
export function deviceLoss(
  model: ItemFactors,
  user: ArrayLike<number>,
  plays: readonly ItemPlays[],
  options: Pick<TrainingOptions, "alpha" | "itemRegularization">,
): number {
  const { items: n, dimensions: d, factors: y } = model;
  assertModel(model);
  assertPlays(plays, n);
  const played = playCounts(plays, n);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let score = 0;
    let square = 0;
    for (let a = 0; a < d; a++) {
      score += user[a]! * y[i * d + a]!;
      square += y[i * d + a]! ** 2;
    }
    const count = played[i]!;
    const preference = count > 0 ? 1 : 0;
    loss += (1 + options.alpha * count) * (preference - score) ** 2 + options.itemRegularization * square;
  }
  return loss;
}

/**
 * ∇_Y J_u, over ALL items (n·d, row-major): FCF §3's item gradient for one
 * device,
 *
 *   ∂J_u/∂y_i = −2 c_ui (p_ui − x_uᵀ y_i) x_u + 2 λ_Y y_i,
 *
 * the device's term f(u, i) = c_ui (p_ui − x_uᵀy_i) x_u of FCF's
 * ∂J/∂y_i = −2 Σ_u f(u, i) + 2λ y_i. Unplayed items (c = 1, p = 0) get
 * 2 (x_uᵀ y_i) x_u: dense, whatever the plays.
 *
 * @example
 * ```ts
 * import { itemGradient } from "consentgate/client";
 *
 * const model = { items: 2, dimensions: 1, factors: [1, 2] };
 * const gradient = itemGradient(model, [0.5], [{ item: 0, count: 1 }], { alpha: 1, itemRegularization: 0 });
 * // [−2·2·(1 − 0.5)·0.5, 2·(0.5·2)·0.5] = [−1, 1]
 * ```
 */
export function itemGradient(
  model: ItemFactors,
  user: ArrayLike<number>,
  plays: readonly ItemPlays[],
  options: Pick<TrainingOptions, "alpha" | "itemRegularization">,
): Float64Array {
  const { items: n, dimensions: d, factors: y } = model;
  assertModel(model);
  assertPlays(plays, n);
  const weights = residualWeights(model, user, playCounts(plays, n), options.alpha);
  const gradient = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    for (let a = 0; a < d; a++)
      gradient[i * d + a] = -2 * w * user[a]! + 2 * options.itemRegularization * y[i * d + a]!;
  }
  return gradient;
}

/** w_i = c_ui (p_ui − x_uᵀ y_i) for every item: the gradient is −2 w xᵀ + 2λ_Y Y. */
function residualWeights(
  model: ItemFactors,
  user: ArrayLike<number>,
  played: Float64Array,
  alpha: number,
): Float64Array {
  const { items: n, dimensions: d, factors: y } = model;
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let score = 0;
    for (let a = 0; a < d; a++) score += user[a]! * y[i * d + a]!;
    const count = played[i]!;
    weights[i] = count > 0 ? (1 + alpha * count) * (1 - score) : -score;
  }
  return weights;
}

/**
 * The device's training for one round: from the server's Y, `epochs` times
 * (1) solve x_u against the local Y (HKV eq. 4), (2) take the gradient step
 * Y ← Y − γ ∇_Y J_u (FCF §3); the result is the change of Y (dense, n·d)
 * and the last x_u. Nothing is clipped here (see `clipToNorm`).
 *
 * Each step is Y ← (1 − 2γλ_Y) Y + 2γ w x_uᵀ with w_i = c_ui(p_ui − x_uᵀy_i),
 * a scaling plus a rank-one term, so the local YᵀY of the next epoch follows
 * exactly in O(n·d) instead of O(n·d²):
 * (aY + b w xᵀ)ᵀ(aY + b w xᵀ) = a²YᵀY + ab (s xᵀ + x sᵀ) + b² (wᵀw) x xᵀ, s = Yᵀw.
 * `gram` is the server Y's YᵀY when the caller has it already.
 *
 * @example
 * ```ts
 * import { localUpdate } from "consentgate/client";
 *
 * const model = { items: 3, dimensions: 2, factors: [0.1, 0.2, -0.1, 0.3, 0.2, -0.2] };
 * const { delta, user } = localUpdate(model, [{ item: 1, count: 2 }], {
 *   alpha: 10,
 *   regularization: 0.1,
 *   itemRegularization: 0,
 *   learningRate: 0.05,
 *   epochs: 2,
 * });
 * // delta.length === 6: every item's row, played or not
 * ```
 */
export function localUpdate(
  model: ItemFactors,
  plays: readonly ItemPlays[],
  options: TrainingOptions,
  gram?: ArrayLike<number>,
): { delta: Float64Array; user: Float64Array } {
  const { items: n, dimensions: d } = model;
  assertModel(model);
  assertPlays(plays, n);
  if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new RangeError("epochs must be an integer ≥ 1");
  if (!(options.learningRate > 0)) throw new RangeError("learningRate must be > 0");
  if (!(options.itemRegularization >= 0)) throw new RangeError("itemRegularization must be ≥ 0");
  const played = playCounts(plays, n);
  const local = Float64Array.from(model.factors);
  const localModel = { items: n, dimensions: d, factors: local };
  let localGram = gram === undefined ? gramian(model) : Float64Array.from(gram);
  let user: Float64Array = new Float64Array(d);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    user = solveUserVector(localModel, plays, options, localGram);
    const weights = residualWeights(localModel, user, played, options.alpha);
    const a = 1 - 2 * options.learningRate * options.itemRegularization;
    const b = 2 * options.learningRate;
    const s = new Float64Array(d);
    let ww = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      ww += w * w;
      for (let k = 0; k < d; k++) {
        s[k]! += local[i * d + k]! * w;
        local[i * d + k] = a * local[i * d + k]! + b * w * user[k]!;
      }
    }
    if (epoch + 1 < options.epochs) {
      const next = new Float64Array(d * d);
      for (let p = 0; p < d; p++)
        for (let q = 0; q < d; q++)
          next[p * d + q] =
            a * a * localGram[p * d + q]! +
            a * b * (s[p]! * user[q]! + user[p]! * s[q]!) +
            b * b * ww * user[p]! * user[q]!;
      localGram = next;
    }
  }
  for (let i = 0; i < local.length; i++) local[i] = local[i]! - model.factors[i]!;
  return { delta: local, user };
}

/**
 * The Euclidean norm of `values`, scaled against overflow (the largest
 * magnitude is factored out first).
 *
 * @example
 * ```ts
 * import { l2Norm } from "consentgate/client";
 *
 * l2Norm([3, 4]); // 5
 * ```
 */
export function l2Norm(values: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < values.length; i++) largest = Math.max(largest, Math.abs(values[i]!));
  if (largest === 0 || !Number.isFinite(largest)) return largest;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i]! / largest) ** 2;
  return largest * Math.sqrt(sum);
}

/**
 * Float32 rounding moves each value by at most a relative 2^-24, and so the
 * norm by at most that much: clipping to clip·(1 − 2^-20) keeps the float32
 * values the device sends within `clip` with room for the norm's own rounding.
 */
const FLOAT32_MARGIN = 1 - 2 ** -20;

/**
 * `delta` scaled down to L2 norm at most `clip` (a copy; unchanged when it is
 * within clip already), and its norm before clipping. An all-zero delta stays
 * all-zero (no division by its zero norm). A delta that needs scaling is
 * scaled to just under `clip`, so that it is still within `clip` after
 * `encodeFloat32` rounds it to float32. Throws a RangeError when a value is
 * not finite or `clip` is not a finite number > 0.
 *
 * @example
 * ```ts
 * import { clipToNorm } from "consentgate/client";
 *
 * const { delta, norm } = clipToNorm(new Float64Array([3, 4]), 1); // norm 5, delta ≈ [0.6, 0.8]
 * ```
 */
export function clipToNorm(delta: ArrayLike<number>, clip: number): { delta: Float64Array; norm: number } {
  if (!(clip > 0) || !Number.isFinite(clip)) throw new RangeError(`clip must be a finite number > 0 (got ${clip})`);
  const norm = l2Norm(delta);
  if (!Number.isFinite(norm)) throw new RangeError("clipToNorm: the delta has a value that is not finite");
  const clipped = Float64Array.from(delta);
  const bound = clip * FLOAT32_MARGIN;
  if (norm > bound) {
    const scale = bound / norm;
    for (let i = 0; i < clipped.length; i++) clipped[i] = clipped[i]! * scale;
  }
  return { delta: clipped, norm };
}

/**
 * The k items with the highest score x_uᵀ y_i (HKV §5: items are recommended
 * by predicted preference), best first; ties go to the lower row. Rows in
 * `exclude` (typically what the device played already) are skipped.
 *
 * @example
 * ```ts
 * import { topItems } from "consentgate/client";
 *
 * const model = { items: 3, dimensions: 1, factors: [0.1, 0.9, 0.5] };
 * topItems(model, [1], 2); // [1, 2]
 * topItems(model, [1], 2, new Set([1])); // [2, 0]
 * ```
 */
export function topItems(
  model: ItemFactors,
  user: ArrayLike<number>,
  k: number,
  exclude?: ReadonlySet<number>,
): number[] {
  const { items: n, dimensions: d, factors: y } = model;
  assertModel(model);
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be an integer ≥ 0 (got ${k})`);
  const best: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    if (exclude?.has(i)) continue;
    let score = 0;
    for (let a = 0; a < d; a++) score += user[a]! * y[i * d + a]!;
    if (best.length === k && !(score > scores[k - 1]!)) continue;
    // Insertion into the short sorted list: k is small (a screenful of recommendations).
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && score > scores[at - 1]!) {
      best[at] = best[at - 1]!;
      scores[at] = scores[at - 1]!;
      at--;
    }
    best[at] = i;
    scores[at] = score;
  }
  return best;
}

function assertModel(model: ItemFactors): void {
  const { items, dimensions, factors } = model;
  if (!Number.isInteger(items) || items < 0 || !Number.isInteger(dimensions) || dimensions < 1)
    throw new RangeError("the model needs an integer items ≥ 0 and dimensions ≥ 1");
  if (factors.length !== items * dimensions)
    throw new RangeError(`the model has ${factors.length} factors, not items × dimensions = ${items * dimensions}`);
}

function assertPlays(plays: readonly ItemPlays[], items: number): void {
  const seen = new Set<number>();
  for (const { item, count } of plays) {
    if (!Number.isInteger(item) || item < 0 || item >= items) throw new RangeError(`play of unknown item row ${item}`);
    if (!(count > 0) || !Number.isFinite(count)) throw new RangeError(`play count of row ${item} must be > 0`);
    if (seen.has(item)) throw new RangeError(`row ${item} is listed twice in the plays`);
    seen.add(item);
  }
}

/** r_ui for every row (0 when unplayed). */
function playCounts(plays: readonly ItemPlays[], items: number): Float64Array {
  const counts = new Float64Array(items);
  for (const { item, count } of plays) counts[item] = count;
  return counts;
}
