/**
 * Federated learning's server-side mathematics, pure: clipping updates,
 * aggregating them (mean, coordinate-wise median, trimmed mean) block by
 * block, their sensitivities, and the exact discrete Gaussian release of the
 * aggregate with the ρ it spends. The learning job (src/learning) reads the
 * updates and keeps the ledger; everything here is arithmetic.
 */
export { AGGREGATIONS, type Aggregation, aggregateBlock, mean, median, trimCount, trimmedMean } from "./aggregators.ts";
export { clipScale, clipUpdate, l2Norm, squaredNorm } from "./clip.ts";
export {
  addGaussianNoise,
  type GaussianNoiseOptions,
  type NoisyRelease,
  releaseRound,
  ROUNDING_SHARE,
} from "./noise.ts";
export { aggregateRound, type ReadBlock, type RoundInput } from "./round.ts";
export { aggregationError, aggregationSensitivity, aggregationWindow, type RoundShape } from "./sensitivity.ts";
