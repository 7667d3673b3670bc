/**
 * loadPolicy: read, validate and compile a policy, or fail with every
 * problem at once, each as `file:line:column: path: message`.
 */
import { ConsentgateError } from "../errors.ts";
import { compilePolicy } from "./compile.ts";
import { formatProblem } from "./problem.ts";
import { checkRelations } from "./relations.ts";
import { validatePolicy } from "./schema.ts";
import { readPolicyFolder, sourceFromObject } from "./source.ts";
import type { Policy } from "./types.ts";

/**
 * `source` is a folder whose *.yaml / *.yml files are merged, or an already
 * parsed policy object (its problems then name paths only).
 * Throws ConsentgateError `policy_invalid` with `details.problems`.
 */
export async function loadPolicy(source: string | Record<string, unknown>): Promise<Policy> {
  const input = typeof source === "string" ? await readPolicyFolder(source) : sourceFromObject(source);
  if (input.data === undefined) throw invalid(input.problems.map((problem) => formatProblem(problem, problem.at)));
  const validated = validatePolicy(input.data);
  const problems = [...input.problems, ...validated.problems, ...checkRelations(input.data)]
    .filter((problem) => input.complete || !problem.needsEveryFile)
    .map((problem) => ({ at: problem.at ?? input.locate(problem.path), problem }))
    .sort((a, b) => compareLocations(a.at, b.at))
    .map(({ at, problem }) => formatProblem(problem, at));
  if (validated.value === undefined || problems.length > 0) throw invalid(problems);
  return compilePolicy(validated.value, input.files);
}

function invalid(problems: string[]): ConsentgateError {
  return new ConsentgateError("policy_invalid", `policy is invalid:\n${problems.join("\n")}`, { problems });
}

/** File order, then line and column as numbers, so that problems read top to bottom; unplaced ones first. */
function compareLocations(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  const [fileA = "", lineA = 0, columnA = 0] = splitLocation(a);
  const [fileB = "", lineB = 0, columnB = 0] = splitLocation(b);
  return fileA < fileB ? -1 : fileA > fileB ? 1 : lineA - lineB || columnA - columnB;
}

function splitLocation(at: string): [string, number, number] {
  const found = /^(.*):(\d+):(\d+)$/.exec(at);
  return found ? [found[1] ?? "", Number(found[2]), Number(found[3])] : [at, 0, 0];
}
