import { ConsentgateError } from "../errors.ts";

export interface BodyLimits {
  /** Levels of nested objects and arrays, the body itself being level 1. */
  readonly maxDepth: number;
  /** Keys of every object and elements of every array the minimizer reads, summed over the body. */
  readonly maxKeys: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = Object.freeze({ maxDepth: 16, maxKeys: 1000 });

export function resolveLimits(limits: Partial<BodyLimits> | undefined): BodyLimits {
  const resolved: BodyLimits = {
    maxDepth: limits?.maxDepth ?? DEFAULT_BODY_LIMITS.maxDepth,
    maxKeys: limits?.maxKeys ?? DEFAULT_BODY_LIMITS.maxKeys,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConsentgateError("invalid_option", `limits.${name} must be a positive integer`);
    }
  }
  return resolved;
}

/**
 * One body's use of the limits. The checks run while the minimizer walks, so
 * a hostile body costs at most `maxKeys` steps before it is refused.
 */
export class Budget {
  private keys = 0;

  constructor(private readonly limits: BodyLimits) {}

  /** Called for every object or array read, at its depth, with its number of keys or elements. */
  enter(depth: number, size: number, field: string | undefined): void {
    if (depth > this.limits.maxDepth) {
      throw new ConsentgateError("invalid_body", `body nests deeper than ${this.limits.maxDepth} levels${at(field)}`, {
        field,
      });
    }
    this.keys += size;
    if (this.keys > this.limits.maxKeys) {
      throw new ConsentgateError("invalid_body", `body has more than ${this.limits.maxKeys} keys${at(field)}`, {
        field,
      });
    }
  }
}

const at = (field: string | undefined) => (field === undefined ? "" : ` (in ${field})`);
