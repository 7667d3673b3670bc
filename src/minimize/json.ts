import { invalidBody } from "./invalid.ts";
import type { Budget } from "./limits.ts";

/** Keys that could reach or shadow prototypes if copied; never read from a body, never written to an output. */
export const UNSAFE_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** Objects as JSON.parse makes them (or with a null prototype): not arrays, dates, maps or class instances. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A deep copy of JSON data made of fresh plain objects and arrays, so the
 * output shares nothing with the input. Unsafe keys and undefined properties
 * are left out; anything that is not JSON data is refused. `sortKeys` gives
 * equal objects one serialization whatever order their keys came in.
 */
export function copyJson(value: unknown, depth: number, budget: Budget, field: string, sortKeys: boolean): unknown {
  if (typeof value !== "object" || value === null) {
    if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean")
      return value;
    throw invalidBody(field, "JSON data", value);
  }
  if (Array.isArray(value)) {
    budget.enter(depth, value.length, field);
    const copy: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = copyJson(value[i], depth + 1, budget, field, sortKeys);
    return copy;
  }
  if (!isPlainObject(value)) throw invalidBody(field, "JSON data", value);
  const keys = Object.keys(value);
  budget.enter(depth, keys.length, field);
  if (sortKeys) keys.sort();
  const copy: Record<string, unknown> = {};
  for (const key of keys) {
    const item = value[key];
    if (item === undefined || UNSAFE_KEYS.has(key)) continue;
    copy[key] = copyJson(item, depth + 1, budget, field, sortKeys);
  }
  return copy;
}
