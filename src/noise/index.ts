/**
 * Differential-privacy noise: exact samplers on a cryptographic source and
 * the partition-selection threshold. A leaf of the layer order (it imports
 * nothing of src/ but errors.ts), so every layer that releases numbers can
 * use it.
 */
export { bernoulli, byteSource, cryptoRandom, type RandomSource, uniformBelow } from "./random.ts";
export { type Rational, type RationalInput, rational, rationalFromDecimal, rationalFromNumber } from "./rational.ts";
export {
  addDiscreteGaussianNoise,
  bernoulliExp,
  discreteGaussian,
  discreteGaussianSampler,
  discreteLaplace,
  discreteLaplaceSampler,
} from "./samplers.ts";
export {
  discreteLaplaceDeltaForThreshold,
  discreteLaplaceTail,
  discreteLaplaceThreshold,
  laplaceDeltaForThreshold,
  laplaceThreshold,
  type PartitionNoise,
  type PartitionSelection,
  perPartitionDelta,
} from "./threshold.ts";
export { composeRho, type DiscreteGaussianRelease, discreteGaussianRho, zcdpToEpsilon } from "./zcdp.ts";
