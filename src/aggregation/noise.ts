/**
 * The Gaussian mechanism on a round's aggregate, in fixed point so that the
 * noise is the exact discrete Gaussian of src/noise (CKS 2020 Algorithm 3 on
 * node:crypto) rather than a floating-point Gaussian (whose low bits leak the
 * input: Mironov 2012). The steps are those of addDiscreteGaussianNoise's
 * documentation (src/noise/samplers.ts): scale by γ = 2^k, round, add
 * integer noise of σ_int = z·Δ_int, scale back; the ρ spent is computed from
 * the integer sensitivity Δ_int, which includes the rounding, so rounding is
 * accounted rather than ignored.
 */
import { ConsentgateError } from "../errors.ts";
import {
  discreteGaussianSampler,
  discreteGaussianRho,
  cryptoRandom,
  type RandomSource,
  type Rational,
  type RationalInput,
  rationalFromDecimal,
} from "../noise/index.ts";
import { toRational } from "../noise/rational.ts";
import { aggregationError, aggregationSensitivity, type RoundShape } from "./sensitivity.ts";

/** The share of γ·Δ that rounding to integers may add to the sensitivity: γ is chosen so √d ≤ 10^-3·γ·Δ. */
export const ROUNDING_SHARE = 1e-3;

/** How much noise, and where it comes from. */
export interface GaussianNoiseOptions {
  /** Δ, the L2 sensitivity of the float aggregate (sensitivity.ts). */
  readonly sensitivity: number;
  /**
   * z, the noise multiplier: σ = z·Δ. A number is read as the decimal it
   * prints as (rationalFromDecimal: 1.1 is 11/10), which keeps σ² a small
   * exact rational; pass a Rational to be explicit.
   */
  readonly noiseMultiplier: RationalInput | number;
  /** A bound on each coordinate's floating-point error (sensitivity.ts aggregationError); default 0. */
  readonly coordinateError?: number;
  /** The randomness; node:crypto by default. Tests pass a seeded source. */
  readonly source?: RandomSource;
}

/** A noised aggregate and what its release cost. */
export interface NoisyRelease {
  /** The noisy aggregate, in the aggregate's units. */
  readonly values: Float64Array;
  /** ρ, the zCDP of this release (CKS 2020 Theorem 14 on the integer vector), = 1/(2z²). */
  readonly rho: number;
  /** γ = 2^k, the fixed-point scale. */
  readonly gamma: number;
  /** Δ_int, the integer vector's L2 sensitivity: ⌈γ·Δ + √d·(1 + 2γ·error)⌉. */
  readonly integerSensitivity: bigint;
  /** σ_int² = z²·Δ_int², the discrete Gaussian's variance parameter, exactly. */
  readonly sigma2: Rational;
  /** σ in the aggregate's units (σ_int/γ, ≈ z·Δ·(1 + 10^-3)), for reporting. */
  readonly sigma: number;
}

/**
 * The noise multiplier as an exact rational > 0.
 */
function multiplierOf(value: RationalInput | number): Rational {
  const z =
    typeof value === "number" && !Number.isInteger(value)
      ? rationalFromDecimal(value)
      : toRational(value, "addGaussianNoise", "noiseMultiplier");
  if (z.num <= 0n) {
    throw new ConsentgateError("invalid_option", "noiseMultiplier must be > 0", { noiseMultiplier: String(value) });
  }
  return z;
}

/**
 * Adds Gaussian noise of σ = z·Δ to every coordinate of a float aggregate,
 * exactly, in fixed point:
 * 1. γ = 2^k, the smallest power of two with √d ≤ 10^-3·γ·Δ, so rounding
 *    adds at most 0.1% to the sensitivity;
 * 2. x_i = round(γ·v_i) (γ·v_i is exact: γ is a power of two);
 * 3. Δ_int = ⌈γ·Δ + √d·(1 + 2γ·e)⌉: two neighbouring aggregates v, v' whose
 *    computed coordinates are within e of the exact ones round to integers
 *    with |x_i − x'_i| ≤ γ|v_i − v'_i| + 2γe + 1, and the L2 norm of that is
 *    at most γΔ + √d(1 + 2γe) (Minkowski);
 * 4. add N_ℤ(0, σ_int²) with σ_int = z·Δ_int to each x_i (CKS 2020
 *    Algorithm 3 via discreteGaussianSampler), which is ρ = Δ_int²/(2σ_int²)
 *    = 1/(2z²)-zCDP (CKS 2020 Theorem 14);
 * 5. divide by γ.
 * Post-processing (steps 1, 2 and 5 depend on the data only through the
 * integer vector) keeps the guarantee (Bun and Steinke 2016, Lemma 1.8).
 *
 * @example
 * ```ts
 * const release = addGaussianNoise(aggregate, { sensitivity: 0.02, noiseMultiplier: 1 });
 * release.values; // the noisy aggregate
 * release.rho;    // 0.5
 * ```
 */
export function addGaussianNoise(aggregate: ArrayLike<number>, options: GaussianNoiseOptions): NoisyRelease {
  const { sensitivity, coordinateError = 0, source = cryptoRandom } = options;
  if (!(sensitivity > 0) || !Number.isFinite(sensitivity)) {
    throw new ConsentgateError("invalid_option", `sensitivity must be a finite number > 0, got ${sensitivity}`);
  }
  if (!(coordinateError >= 0) || !Number.isFinite(coordinateError)) {
    throw new ConsentgateError("invalid_option", `coordinateError must be finite and ≥ 0, got ${coordinateError}`);
  }
  const z = multiplierOf(options.noiseMultiplier);
  const d = aggregate.length;
  const root = Math.sqrt(d);
  let gamma = 2 ** Math.max(-1000, Math.ceil(Math.log2(root / (ROUNDING_SHARE * sensitivity))));
  while (root > ROUNDING_SHARE * gamma * sensitivity) gamma *= 2;
  const bound = gamma * sensitivity + root * (1 + 2 * gamma * coordinateError);
  // ×(1 + 2^-40) covers the rounding of the bound itself in doubles; an integer sensitivity may only err upward.
  const integer = Math.ceil(bound * (1 + 2 ** -40));
  if (!Number.isSafeInteger(integer)) {
    throw new ConsentgateError("invalid_option", `the fixed-point sensitivity ${integer} is not a safe integer`);
  }
  const integerSensitivity = BigInt(integer);
  const sigma2: Rational = {
    num: z.num * z.num * integerSensitivity * integerSensitivity,
    den: z.den * z.den,
  };
  const noise = discreteGaussianSampler(sigma2, source);
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const scaled = Math.round(aggregate[i]! * gamma);
    if (!Number.isSafeInteger(scaled)) {
      throw new ConsentgateError("invalid_option", `aggregate[${i}] = ${aggregate[i]} does not fit the fixed point`, {
        index: i,
      });
    }
    values[i] = Number(BigInt(scaled) + noise()) / gamma;
  }
  return {
    values,
    rho: discreteGaussianRho({ l2Sensitivity: integerSensitivity, sigma2 }),
    gamma,
    integerSensitivity,
    sigma2,
    sigma: (Number(z.num) / Number(z.den)) * (integer / gamma),
  };
}

/**
 * Noises a round's aggregate for release: the sensitivity and the
 * floating-point error bound of the round's aggregation (sensitivity.ts),
 * then {@link addGaussianNoise}.
 *
 * @example
 * ```ts
 * const aggregate = await aggregateRound({ participants: 100, dimensions, clip: 1, aggregation: "mean", blockSize: 256, readBlock });
 * const { values, rho } = releaseRound(aggregate, { aggregation: "mean", participants: 100, clip: 1, noiseMultiplier: 1 });
 * ```
 */
export function releaseRound(
  aggregate: ArrayLike<number>,
  round: RoundShape & { readonly noiseMultiplier: RationalInput | number; readonly source?: RandomSource },
): NoisyRelease {
  return addGaussianNoise(aggregate, {
    sensitivity: aggregationSensitivity(round),
    coordinateError: aggregationError(round),
    noiseMultiplier: round.noiseMultiplier,
    ...(round.source === undefined ? {} : { source: round.source }),
  });
}
