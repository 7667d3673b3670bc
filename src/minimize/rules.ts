import type { FieldRule } from "../policy/types.ts";
import { coarsenLocation } from "./geohash.ts";
import { invalidBody } from "./invalid.ts";
import { maskIp } from "./ip.ts";
import { copyJson } from "./json.ts";
import type { Budget } from "./limits.ts";
import type { Pseudonymize } from "./pseudonym.ts";
import { cutCodePoints } from "./text.ts";
import { DAY_MS, HOUR_MS, truncateTimestamp } from "./timestamp.ts";

/** One field's rule, ready to run: the minimized value, or an invalid_body error. `depth` is the value's own level. */
export type Transform = (value: unknown, field: string, depth: number, budget: Budget) => unknown;

/** Why a rule cannot be applied, or undefined when it can. */
export function ruleProblem(rule: FieldRule): string | undefined {
  switch (rule.kind) {
    case "keep":
    case "drop":
    case "hash":
      return undefined;
    case "bucket":
      return Number.isFinite(rule.size) && rule.size > 0 ? undefined : "bucket must be a positive number";
    case "geohash":
      return isIntegerIn(rule.precision, 1, 12) ? undefined : "geohash precision must be an integer from 1 to 12";
    case "truncate":
      return rule.unit === "day" || rule.unit === "hour" ? undefined : 'truncate must be "day" or "hour"';
    case "ip":
      return isIntegerIn(rule.bits, 1, 32) ? undefined : "ip bits must be an integer from 1 to 32";
    case "maxLength":
      return isIntegerIn(rule.length, 1, Number.MAX_SAFE_INTEGER) ? undefined : "maxLength must be a positive integer";
    default:
      // The loader's types promise this cannot happen; a hand-built policy can still get it wrong.
      return `unknown rule "${String((rule as { kind: unknown }).kind)}"`;
  }
}

const isIntegerIn = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max;

export function compileRule(rule: Exclude<FieldRule, { kind: "drop" }>, pseudonymize: Pseudonymize): Transform {
  switch (rule.kind) {
    case "keep":
      return (value, field, depth, budget) => copyJson(value, depth, budget, field, false);
    case "hash":
      return (value, field, depth, budget) => pseudonymize(canonicalText(value, field, depth, budget));
    case "bucket": {
      const { size } = rule;
      return (value, field) => {
        if (typeof value !== "number" || !Number.isFinite(value)) throw invalidBody(field, "a finite number", value);
        // `|| 0` turns -0 into 0, which JSON would print as 0 anyway.
        return Math.floor(value / size) * size || 0;
      };
    }
    case "geohash": {
      const { precision } = rule;
      return (value, field) =>
        coarsenLocation(value, precision) ?? fail(field, "a {lat, lon} in range or a geohash string", value);
    }
    case "truncate": {
      const step = rule.unit === "day" ? DAY_MS : HOUR_MS;
      return (value, field) =>
        truncateTimestamp(value, step) ??
        fail(field, "an ISO-8601 date, or date-time with a time zone, or epoch milliseconds", value);
    }
    case "ip": {
      const bits4 = rule.bits;
      const bits6 = rule.bits * 2;
      return (value, field) =>
        (typeof value === "string" ? maskIp(value, bits4, bits6) : undefined) ??
        fail(field, "an IPv4 or IPv6 address", value);
    }
    case "maxLength": {
      const { length } = rule;
      return (value, field) => {
        if (typeof value !== "string") throw invalidBody(field, "a string", value);
        return cutCodePoints(value, length);
      };
    }
  }
}

/** Strings as they are, numbers and booleans as String() writes them, objects and arrays as key-sorted JSON. */
function canonicalText(value: unknown, field: string, depth: number, budget: Budget): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(copyJson(value, depth, budget, field, true));
}

function fail(field: string, expected: string, value: unknown): never {
  throw invalidBody(field, expected, value);
}
