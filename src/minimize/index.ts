import { ConsentgateError } from "../errors.ts";
import type { FieldRule } from "../policy/types.ts";
import { invalidBody } from "./invalid.ts";
import { isPlainObject, UNSAFE_KEYS } from "./json.ts";
import { Budget, type BodyLimits, resolveLimits } from "./limits.ts";
import { pseudonymizer, type Pseudonymize } from "./pseudonym.ts";
import { compileRule, ruleProblem, type Transform } from "./rules.ts";

export { DEFAULT_BODY_LIMITS, type BodyLimits } from "./limits.ts";
export { PSEUDONYM_PREFIX } from "./pseudonym.ts";

/** A purpose's minimizer: the body reduced to the fields the purpose lists, each transformed by its rule. */
export type Minimizer = (body: unknown) => Record<string, unknown>;

export interface MinimizerOptions {
  /** Key of the `hash` rule's HMAC. */
  hashKey: string | Buffer;
  limits?: Partial<BodyLimits>;
}

/** One key of an object level and what becomes of its value. */
interface FieldNode {
  readonly key: string;
  readonly path: string;
  readonly transform: Transform;
}

/** Paths as written, before their rules are compiled; a segment with both a rule and children is refused. */
interface Draft {
  rule?: FieldRule;
  path: string;
  children: Map<string, Draft>;
}

/**
 * Compiles a purpose's field rules once into a closure: the paths become a
 * tree walked by key lookups, so a call reads only the listed fields (and the
 * insides of values a rule takes whole) and never parses a path.
 * Throws policy_invalid when the rules cannot be applied.
 */
export function compileMinimizer(fields: Readonly<Record<string, FieldRule>>, options: MinimizerOptions): Minimizer {
  const limits = resolveLimits(options.limits);
  const roots = buildNodes(draftTree(fields), pseudonymizer(options.hashKey));
  return (body) => {
    if (!isPlainObject(body)) throw new ConsentgateError("invalid_body", "body must be a JSON object");
    return pick(body, roots, 1, new Budget(limits), undefined) ?? {};
  };
}

function draftTree(fields: Readonly<Record<string, FieldRule>>): Map<string, Draft> {
  const root: Draft = { path: "", children: new Map() };
  const problems: string[] = [];
  for (const [path, rule] of Object.entries(fields)) {
    const segments = path.split(".");
    if (segments.some((segment) => segment === "" || UNSAFE_KEYS.has(segment))) {
      problems.push(`field "${path}": segments must be non-empty and not __proto__, constructor or prototype`);
      continue;
    }
    const problem = ruleProblem(rule);
    if (problem) problems.push(`field "${path}": ${problem}`);
    let draft = root;
    for (const segment of segments) {
      let child = draft.children.get(segment);
      if (!child)
        draft.children.set(
          segment,
          (child = { path: draft === root ? segment : `${draft.path}.${segment}`, children: new Map() }),
        );
      draft = child;
    }
    draft.rule = rule;
  }
  forEachDraft(root.children, (draft) => {
    // "device: keep" with "device.os: hash" could mean either; refusing it keeps every field's fate obvious.
    if (draft.rule && draft.children.size > 0)
      problems.push(`field "${draft.path}" has a rule and so do fields inside it`);
  });
  if (problems.length > 0)
    throw new ConsentgateError("policy_invalid", `field rules: ${problems.join("; ")}`, { problems });
  return root.children;
}

function forEachDraft(level: Map<string, Draft>, visit: (draft: Draft) => void): void {
  for (const draft of level.values()) {
    visit(draft);
    forEachDraft(draft.children, visit);
  }
}

/** The nodes of one level; drops, and objects holding only drops, are left out so they are never read. */
function buildNodes(level: Map<string, Draft>, pseudonymize: Pseudonymize): FieldNode[] {
  const nodes: FieldNode[] = [];
  for (const [key, draft] of level) {
    const { rule } = draft;
    if (rule) {
      if (rule.kind !== "drop") nodes.push({ key, path: draft.path, transform: compileRule(rule, pseudonymize) });
      continue;
    }
    const children = buildNodes(draft.children, pseudonymize);
    if (children.length > 0) nodes.push({ key, path: draft.path, transform: branch(children) });
  }
  return nodes;
}

function branch(children: readonly FieldNode[]): Transform {
  return (value, field, depth, budget) => {
    if (!isPlainObject(value)) throw invalidBody(field, "an object", value);
    return pick(value, children, depth, budget, field);
  };
}

/** The listed fields of one object level; undefined when none is present, so empty objects are not stored. */
function pick(
  source: Record<string, unknown>,
  nodes: readonly FieldNode[],
  depth: number,
  budget: Budget,
  field: string | undefined,
): Record<string, unknown> | undefined {
  budget.enter(depth, Object.keys(source).length, field);
  let out: Record<string, unknown> | undefined;
  for (const node of nodes) {
    if (!Object.hasOwn(source, node.key)) continue;
    const value = source[node.key];
    if (value === null || value === undefined) continue;
    const result = node.transform(value, node.path, depth + 1, budget);
    if (result !== undefined) (out ??= {})[node.key] = result;
  }
  return out;
}
