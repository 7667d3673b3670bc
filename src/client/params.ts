/**
 * The parameters of a Hadamard count-mean sketch, shared by the device
 * (report.ts) and the server's estimator (src/telemetry/sketch.ts), so that
 * both refuse the same values for the same reasons.
 */

/**
 * One metric's sketch parameters: the policy's `telemetry.<metric>` block
 * (`epsilon` and `sketch: { hashes, width }`). The device and the server must
 * use the same three numbers.
 *
 * @example
 * ```ts
 * import type { TelemetryParams } from "consentgate/client";
 *
 * // the genre-skips metric of docs/policy-reference.md.
 * const params: TelemetryParams = { epsilon: 4, hashes: 1024, width: 32768 };
 * ```
 */
export interface TelemetryParams {
  /** ε of the local differential privacy each report has on its own: a finite number > 0. */
  epsilon: number;
  /** k, the number of hash functions (rows of the sketch): an integer in [1, 2^31]. */
  hashes: number;
  /** m, the width of each row: a power of two in [2, 2^31]. */
  width: number;
}

/** Largest k and m: indexes stay below 2^31, so 32-bit bit operations on them never see a sign bit. */
export const MAX_HASHES = 2 ** 31;
export const MAX_WIDTH = 2 ** 31;

/** What is wrong with `params`, one sentence each; empty when nothing is. */
export function telemetryParamsProblems(params: unknown): string[] {
  if (typeof params !== "object" || params === null) return ["params must be an object { epsilon, hashes, width }"];
  const { epsilon, hashes, width } = params as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof epsilon !== "number" || !Number.isFinite(epsilon) || epsilon <= 0)
    problems.push(`epsilon must be a finite number > 0 (got ${String(epsilon)})`);
  if (!Number.isInteger(hashes) || (hashes as number) < 1 || (hashes as number) > MAX_HASHES)
    problems.push(`hashes must be an integer in [1, 2^31] (got ${String(hashes)})`);
  if (!isPowerOfTwo(width) || (width as number) < 2 || (width as number) > MAX_WIDTH)
    problems.push(`width must be a power of two in [2, 2^31] (got ${String(width)})`);
  return problems;
}

/** Throws a RangeError naming every problem of `params`. */
export function assertTelemetryParams(params: unknown): asserts params is TelemetryParams {
  const problems = telemetryParamsProblems(params);
  if (problems.length > 0) throw new RangeError(`invalid telemetry params: ${problems.join("; ")}`);
}

function isPowerOfTwo(x: unknown): boolean {
  if (!Number.isInteger(x) || (x as number) < 1) return false;
  // Exact for every integer below 2^53: halve while even.
  let v = x as number;
  while (v % 2 === 0) v /= 2;
  return v === 1;
}
