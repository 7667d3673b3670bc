/**
 * The sketch's hash family h_0 … h_{k−1}: value → [0, m), and the Hadamard
 * matrix's entries. The device uses them to build a report and the server to
 * read the sketch back (src/telemetry/sketch.ts imports this module), so the
 * definition below is the protocol: a client written in another language must
 * compute exactly this.
 *
 *   h_j(value) = BE32(SHA-256(BE32(j) ‖ UTF-8(value))[0..4]) mod m
 *
 * BE32(j) is j as four big-endian bytes; UTF-8(value) the value's UTF-8
 * bytes, as given (no Unicode normalization: "é" precomposed and decomposed
 * are two values); the first four bytes of the digest, read as a big-endian
 * unsigned 32-bit integer, taken modulo m. m is a power of two no larger than
 * 2^31, so it divides 2^32 and the remainder is exactly uniform when the
 * digest's bits are. The analysis of Apple's sketch (Learning with Privacy at
 * Scale, 2017) takes the k hash functions as independent random functions;
 * SHA-256 with the index j as a prefix is the usual stand-in for that (a
 * random oracle), and the estimator's unbiasedness and the collision term of
 * its variance (src/telemetry/sketch.ts) rest on it.
 *
 * A value with an unpaired surrogate has no UTF-8 form; TextEncoder would
 * silently write U+FFFD for it, merging it with other values, so it is refused.
 */
import type { TelemetryParams } from "./params.ts";
import { sha256Words } from "./sha256.ts";

const SURROGATE = /[\uD800-\uDFFF]/;
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const encoder = new TextEncoder();

/** The UTF-8 bytes of `value`; a TypeError when it is not a string or holds an unpaired surrogate. */
export function utf8(value: unknown): Uint8Array {
  if (typeof value !== "string") throw new TypeError(`a telemetry value must be a string (got ${typeof value})`);
  // Most values have no surrogate at all; the lookbehind search runs only on those that do.
  if (SURROGATE.test(value) && UNPAIRED_SURROGATE.test(value))
    throw new TypeError("a telemetry value must be well-formed UTF-16 (unpaired surrogate)");
  return encoder.encode(value);
}

/**
 * h_j(value): the column of row `hash` that `value` sets in the sketch (see
 * the definition at the top of this file). `hash` is an integer in
 * [0, 2^32); `width` a power of two in [2, 2^31].
 *
 * @example
 * ```ts
 * import { sketchHash } from "consentgate/client";
 *
 * // A client written in another language checks its own hash family against these values.
 * const column = sketchHash("jazz", 0, 32768); // an integer in [0, 32768)
 * ```
 */
export function sketchHash(value: string, hash: number, width: number): number {
  return sketchColumns(utf8(value), hash, hash + 1, width)[0]!;
}

/** h_j(value) for every j in [0, hashes): the columns one value sets, one per row (the server reads these). */
export function sketchHashes(value: string, params: Pick<TelemetryParams, "hashes" | "width">): Uint32Array {
  return sketchColumns(utf8(value), 0, params.hashes, params.width);
}

/** h_j for j in [from, to), over a value already encoded; the message buffer is reused across j. */
function sketchColumns(bytes: Uint8Array, from: number, to: number, width: number): Uint32Array {
  if (!Number.isInteger(from) || from < 0 || !Number.isInteger(to) || to > 2 ** 32 || to < from)
    throw new RangeError(`hash index out of range: [${from}, ${to})`);
  const message = new Uint8Array(4 + bytes.length);
  message.set(bytes, 4);
  const view = new DataView(message.buffer);
  const columns = new Uint32Array(to - from);
  for (let j = from; j < to; j++) {
    view.setUint32(0, j);
    // width divides 2^32: each residue is hit by exactly 2^32 / width of the 2^32 words, so no value is favoured.
    columns[j - from] = sha256Words(message)[0]! % width;
  }
  return columns;
}

/**
 * The entry H_m[row][column] of the m×m Sylvester–Hadamard matrix
 * (H_1 = [1], H_2m = [[H_m, H_m], [H_m, −H_m]]), with rows and columns
 * numbered from 0: (−1) to the number of bits that `row` and `column` share.
 * Both must be below 2^31.
 */
export function hadamardEntry(row: number, column: number): 1 | -1 {
  let x = row & column;
  // The parity of x's set bits, folded down into the lowest bit.
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  x ^= x >>> 2;
  x ^= x >>> 1;
  return x & 1 ? -1 : 1;
}
