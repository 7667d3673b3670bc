/**
 * The device's side of Apple's Hadamard count-mean sketch: one value in, one
 * randomized record { hash, index, bit } out, which is all the server ever
 * sees of the value.
 */
import { hadamardEntry, sketchHash } from "./hash.ts";
import { assertTelemetryParams, type TelemetryParams } from "./params.ts";
import { RandomWords, signFlip, uniformInt } from "./random.ts";

/**
 * One report, as the device sends it (`POST /telemetry/:metric`): the row
 * `hash` (j in [0, k)), the column `index` (l in [0, m)) and the randomized
 * sign `bit` of the one-hot vector's Hadamard coefficient there.
 *
 * @example
 * ```ts
 * import { type TelemetryRecord, telemetryReport } from "consentgate/client";
 *
 * const record: TelemetryRecord = telemetryReport("jazz", { epsilon: 4, hashes: 1024, width: 32768 });
 * await fetch("/privacy/telemetry/genre-skips", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify(record),
 * });
 * ```
 */
export interface TelemetryRecord {
  /** j: which of the k hash functions the device picked, uniformly. */
  hash: number;
  /** l: which Hadamard coefficient the device sends, uniformly in [0, m). */
  index: number;
  /** The coefficient's sign, flipped with probability 1 / (e^ε + 1). */
  bit: 1 | -1;
}

/**
 * Randomizes `value` on the device into one Hadamard count-mean-sketch record:
 * Apple's A_client-HCMS (Apple Differential Privacy Team, "Learning with
 * Privacy at Scale", 2017), step by step:
 *
 * 1. j uniform in [0, k) (`hash`);
 * 2. v = the one-hot vector of length m with v[h_j(value)] = 1 (h_j: see
 *    `sketchHash`);
 * 3. l uniform in [0, m) (`index`);
 * 4. w = H_m · v, so w_l = H_m[l][h_j(value)] = ±1 (H_m the Sylvester–Hadamard
 *    matrix, entries ±1); only w_l is computed, never the vector;
 * 5. `bit` = b · w_l, with b = −1 with probability 1 / (e^ε + 1), else +1.
 *
 * Each output (j, l, bit) has probability (1/(k·m)) · e^ε / (e^ε + 1) or
 * (1/(k·m)) · 1 / (e^ε + 1) whatever the value, so the report is ε-locally
 * differentially private; the flip is sampled exactly (random.ts), so that
 * ratio is exactly e^ε for the ε given, not up to rounding.
 *
 * Synchronous: the hash is a plain-JavaScript SHA-256 and the randomness
 * comes from `crypto.getRandomValues`, both available in every browser and in
 * Node ≥ 20 without imports. Throws a RangeError on bad params and a
 * TypeError when `value` is not a well-formed string.
 *
 * @example
 * ```ts
 * import { telemetryReport } from "consentgate/client";
 *
 * // In the browser, after the listener skipped a genre: one report, sent as it is.
 * const params = { epsilon: 4, hashes: 1024, width: 32768 }; // the policy's telemetry.genre-skips
 * const { hash, index, bit } = telemetryReport("jazz", params);
 * await fetch("/privacy/telemetry/genre-skips", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ hash, index, bit }),
 *   keepalive: true,
 * });
 * ```
 */
export function telemetryReport(value: string, params: TelemetryParams): TelemetryRecord {
  assertTelemetryParams(params);
  const random = new RandomWords();
  try {
    const hash = uniformInt(params.hashes, random);
    const column = sketchHash(value, hash, params.width);
    const index = uniformInt(params.width, random);
    const coefficient = hadamardEntry(index, column);
    const bit = signFlip(params.epsilon, random) ? -coefficient : coefficient;
    return { hash, index, bit: bit as 1 | -1 };
  } finally {
    random.wipe();
  }
}
