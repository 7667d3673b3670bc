/**
 * Exact rationals for the noise samplers: a numerator and a denominator in
 * BigInt. The samplers take their parameters (a probability, exp(-x)'s x, a
 * scale, a variance) as rationals so that no parameter is ever rounded: a
 * sampler driven by a rounded parameter is the floating-point failure of
 * Mironov 2012 ("On significance of the least significant bits for
 * differential privacy") in another place.
 */
import { ConsentgateError } from "../errors.ts";

/**
 * An exact rational number num/den. The samplers accept it as given (they do
 * not reduce it); {@link rational} and {@link rationalFromNumber} build
 * reduced ones with den > 0.
 *
 * @example
 * ```ts
 * const tenth: Rational = { num: 1n, den: 10n };
 * discreteLaplace(tenth); // scale exactly 1/10
 * ```
 */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

/**
 * What the samplers accept where they need a rational: a {@link Rational}, or
 * an integer (a bigint, or a number that is a safe integer). A number with a
 * fraction is refused rather than rounded: convert it on purpose with
 * {@link rationalFromNumber}.
 *
 * @example
 * ```ts
 * const inputs: RationalInput[] = [3, 3n, { num: 7n, den: 2n }, rationalFromNumber(0.5)];
 * ```
 */
export type RationalInput = Rational | bigint | number;

/**
 * The error every sampler and threshold raises for a bad parameter: a
 * ConsentgateError with code `invalid_option` (a misuse of the API, never a
 * client's fault), naming the function and the parameter in `details`.
 */
export function invalidParameter(fn: string, parameter: string, problem: string): ConsentgateError {
  return new ConsentgateError("invalid_option", `${fn}: ${parameter} ${problem}`, { function: fn, parameter });
}

/** A bigint from an integer input, or the invalid_option error. */
export function toInteger(value: unknown, fn: string, parameter: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw invalidParameter(fn, parameter, `must be an integer (a bigint or a safe integer), got ${describe(value)}`);
}

/** The checked rational of an input; den > 0 afterwards (the sign moves to num). Not reduced. */
export function toRational(value: unknown, fn: string, parameter: string): Rational {
  if (typeof value === "bigint" || typeof value === "number") {
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw invalidParameter(
        fn,
        parameter,
        `must be an integer or a Rational { num, den }, got ${describe(value)} (convert it with rationalFromNumber)`,
      );
    }
    return { num: BigInt(value), den: 1n };
  }
  if (typeof value !== "object" || value === null) {
    throw invalidParameter(fn, parameter, `must be a Rational { num, den }, got ${describe(value)}`);
  }
  const { num, den } = value as { num?: unknown; den?: unknown };
  if (typeof num !== "bigint" || typeof den !== "bigint") {
    throw invalidParameter(
      fn,
      parameter,
      `must have bigint num and den, got { num: ${describe(num)}, den: ${describe(den)} }`,
    );
  }
  if (den === 0n) throw invalidParameter(fn, parameter, "has a zero denominator");
  return den < 0n ? { num: -num, den: -den } : { num, den };
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return String(value);
  if (value === null) return "null";
  return typeof value;
}

/** The greatest common divisor of |a| and |b| (gcd(0, 0) = 0). */
export function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * The rational num/den, reduced to lowest terms with a positive denominator.
 *
 * @example
 * ```ts
 * rational(10, 4); // { num: 5n, den: 2n }
 * rational(3n);    // { num: 3n, den: 1n }
 * ```
 */
export function rational(num: bigint | number, den: bigint | number = 1n): Rational {
  const n = toInteger(num, "rational", "num");
  const d = toInteger(den, "rational", "den");
  if (d === 0n) throw invalidParameter("rational", "den", "must not be zero");
  const g = gcd(n, d) || 1n;
  const sign = d < 0n ? -1n : 1n;
  return { num: (sign * n) / g, den: (sign * d) / g };
}

const FLOAT = new Float64Array(1);
const FLOAT_BITS = new BigUint64Array(FLOAT.buffer);

/**
 * The exact value of a finite double as a reduced rational. Every double is a
 * dyadic rational m·2^e, so nothing is rounded: 0.1 becomes
 * 3602879701896397/36028797018963968, the value the double really holds.
 * For a value a person wrote in decimal (a policy's epsilon), use
 * {@link rationalFromDecimal}, which gives 3/10 for 0.3.
 *
 * @example
 * ```ts
 * rationalFromNumber(0.75); // { num: 3n, den: 4n }
 * rationalFromNumber(1e-9); // the double nearest 1e-9, exactly
 * ```
 */
export function rationalFromNumber(value: number): Rational {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw invalidParameter("rationalFromNumber", "value", `must be a finite number, got ${describe(value)}`);
  }
  if (Number.isSafeInteger(value)) return { num: BigInt(value), den: 1n };
  // IEEE 754 binary64: sign, 11 exponent bits, 52 fraction bits.
  FLOAT[0] = value;
  const bits = FLOAT_BITS[0]!;
  const negative = bits >> 63n === 1n;
  const exponentField = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & 0xfffffffffffffn;
  // Normal numbers have the implicit leading 1; subnormals (exponent field 0) do not.
  let mantissa = exponentField === 0 ? fraction : fraction | (1n << 52n);
  let exponent = (exponentField === 0 ? 1 : exponentField) - 1075; // value = mantissa · 2^exponent
  while (exponent < 0 && (mantissa & 1n) === 0n) {
    mantissa >>= 1n;
    exponent++;
  }
  const num = exponent >= 0 ? mantissa << BigInt(exponent) : mantissa;
  const den = exponent >= 0 ? 1n : 1n << BigInt(-exponent);
  return { num: negative ? -num : num, den };
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

/**
 * The exact rational a decimal says: "0.3" (or the number 0.3, read as the
 * shortest decimal that prints as it, which is what a YAML file or a config
 * wrote) is 3/10, "1e-9" is 1/10^9. This is the value a policy's epsilon
 * means, and its small numerator and denominator keep the samplers on their
 * fast path, where {@link rationalFromNumber}(0.3) would give
 * 5404319552844595/2^54.
 *
 * @example
 * ```ts
 * rationalFromDecimal(0.3);     // { num: 3n, den: 10n }
 * rationalFromDecimal("2.50");  // { num: 5n, den: 2n }
 * rationalFromDecimal(1e-9);    // { num: 1n, den: 1000000000n }
 * ```
 */
export function rationalFromDecimal(value: number | string): Rational {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw invalidParameter("rationalFromDecimal", "value", `must be finite, got ${value}`);
  }
  const text = typeof value === "number" ? String(value) : value.trim();
  const match = typeof text === "string" ? DECIMAL.exec(text) : null;
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) {
    throw invalidParameter("rationalFromDecimal", "value", `must be a decimal number, got ${describe(value)}`);
  }
  const [, sign, whole, fraction = "", exponentText = "0"] = match;
  const exponent = Number(exponentText) - fraction.length;
  if (Math.abs(exponent) > 100_000) throw invalidParameter("rationalFromDecimal", "value", "has too large an exponent");
  let num = BigInt(`${whole}${fraction}` || "0");
  let den = 1n;
  if (exponent >= 0) num *= 10n ** BigInt(exponent);
  else den = 10n ** BigInt(-exponent);
  if (sign === "-") num = -num;
  const g = gcd(num, den) || 1n;
  return { num: num / g, den: den / g };
}
