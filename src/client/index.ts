/**
 * `consentgate/client`: what runs on the device. Local differential privacy
 * telemetry with Apple's Hadamard count-mean sketch: `telemetryReport`
 * randomizes one value into one record `{ hash, index, bit }` before anything
 * leaves the device, and the server (src/telemetry/sketch.ts) only sums
 * records and estimates frequencies from the sums.
 *
 * Runs in browsers and in Node ≥ 20 alike: it imports nothing outside this
 * folder (no Node module, no package), and uses only `crypto.getRandomValues`
 * and `TextEncoder` from its host (.dependency-cruiser.cjs and
 * test/telemetry/web-only.test.ts hold it to that).
 */
export { sketchHash } from "./hash.ts";
export type { TelemetryParams } from "./params.ts";
export { type TelemetryRecord, telemetryReport } from "./report.ts";
