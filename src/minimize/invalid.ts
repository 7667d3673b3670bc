import { ConsentgateError } from "../errors.ts";

/**
 * The error for a value that does not fit its field's rule. The message names
 * the field and the kind of value, never the value itself: bodies carry
 * personal data and error messages end up in logs.
 */
export function invalidBody(field: string, expected: string, value: unknown): ConsentgateError {
  return new ConsentgateError("invalid_body", `${field}: expected ${expected}, got ${kindOf(value)}`, { field });
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "object":
      return "an object";
    case "string":
      return "a string";
    case "number":
      return Number.isFinite(value) ? "a number" : String(value);
    case "boolean":
      return "a boolean";
    default:
      return typeof value;
  }
}
