/**
 * One thing wrong with a policy. Problems are collected rather than thrown so
 * that a privacy officer sees every mistake in one run, each pointing at the
 * file and line to fix.
 */

export type PolicyPath = readonly PropertyKey[];

export interface Problem {
  /** Where in the merged policy: ["purposes", "service", "retention"]. Empty for the policy as a whole. */
  readonly path: PolicyPath;
  readonly message: string;
  /** "file:line:column" (or a folder) when already known, e.g. for YAML syntax errors. */
  readonly at?: string;
  /** A missing key or a reference to an unknown name: content of a file that failed to parse might resolve it. */
  readonly needsEveryFile?: boolean;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** purposes.personalization.fields."location.lat", routes."POST /api/plays", regions.EU.countries[2] */
function formatPath(path: PolicyPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else {
      const key = String(segment);
      text += (text === "" ? "" : ".") + (PLAIN_KEY.test(key) ? key : JSON.stringify(key));
    }
  }
  return text;
}

/** `at: path: message`, leaving out whichever of the two is unknown. */
export function formatProblem(problem: Problem, at: string | undefined): string {
  return [at, formatPath(problem.path), problem.message].filter((part) => part !== undefined && part !== "").join(": ");
}

/** A value from a policy file as a message quotes it. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a set of entries";
  return String(value);
}
