/**
 * `consentgate/client`: what runs on the device.
 *
 * - Local differential privacy telemetry with Apple's Hadamard count-mean
 *   sketch: `telemetryReport` randomizes one value into one record
 *   `{ hash, index, bit }` before anything leaves the device, and the server
 *   (src/telemetry/sketch.ts) only sums records and estimates frequencies
 *   from the sums.
 * - Federated learning of a recommender (implicit-feedback matrix
 *   factorization): `createDeviceRecommender` keeps the plays and the user
 *   vector on the device, recommends on the device, and contributes only a
 *   clipped, dense change of the item factors to each learning round; the
 *   pure functions it is built from (factorization.ts) are exported too.
 *
 * Runs in browsers and in Node ≥ 20 alike: it imports nothing outside this
 * folder (no Node module, no package), and uses only `crypto.getRandomValues`,
 * `TextEncoder`, and for the recommender `fetch`, `structuredClone` and (when
 * asked) `indexedDB` from its host (.dependency-cruiser.cjs and
 * test/telemetry/web-only.test.ts hold it to that).
 */
export {
  clipToNorm,
  decodeFloat32,
  deviceLoss,
  encodeFloat32,
  gramian,
  type ItemFactors,
  type ItemPlays,
  itemGradient,
  l2Norm,
  localUpdate,
  solveUserVector,
  type TrainingOptions,
  topItems,
} from "./factorization.ts";
export { sketchHash } from "./hash.ts";
export type { TelemetryParams } from "./params.ts";
export {
  type ContributionResult,
  createDeviceRecommender,
  DEFAULT_TRAINING,
  type DeviceRecommender,
  type FetchLike,
  LearningError,
  MAX_PLAYS,
  type RecommenderOptions,
} from "./recommender.ts";
export { type TelemetryRecord, telemetryReport } from "./report.ts";
export { indexedDbStorage, memoryStorage, type RecommenderStorage } from "./storage.ts";
