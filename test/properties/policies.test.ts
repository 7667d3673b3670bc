/**
 * Property: whatever a policy folder holds (a valid policy mutated at random,
 * split across two files, with keys written twice, broken YAML), loading it
 * for start-up either gives a compiled policy that start-up can use, or fails
 * with `policy_invalid` listing every problem as `file:line:column: path:
 * message`; never another exception, and never a polluted prototype.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import fc from "fast-check";
import YAML from "yaml";
import { isConsentgateError } from "../../src/errors.ts";
import { createConsentgate } from "../../src/index.ts";
import { resolveSchedules } from "../../src/jobs/schedules.ts";
import { compileMinimizer } from "../../src/minimize/index.ts";
import { loadPolicy } from "../../src/policy/load.ts";
import { RUNS, propertyParameters, weirdString } from "../support/arbitraries.ts";
import { scratchFolder } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";

// The insights and telemetry blocks too, so that mutations reach their rules.
const base = {
  ...testPolicy({
    purposes: {
      personalization: {
        insights: {
          popular: {
            key: "itemId",
            epsilon: 1,
            delta: 1e-9,
            maxKeys: 10,
            every: "1d",
            budget: { epsilon: 8, per: "30d" },
          },
        },
      },
    },
    telemetry: {
      "genre-skips": {
        purpose: "analytics",
        epsilon: 4,
        sketch: { hashes: 1024, width: 32768 },
        limit: { reports: 1, per: "1d" },
      },
    },
  }),
  jobs: { purge: "15 * * * *", "compliance-report": "0 3 * * *" },
};

const duration = fc.constantFrom(
  "7d",
  "1mo",
  "3y",
  "24mo",
  "0d",
  "-1d",
  "1.5mo",
  "7 days",
  "1w",
  "99999999999999y",
  "d",
  "7D",
  "1e3d",
  "",
  "30",
  "P7D",
);
const fieldRule = fc.oneof(
  fc.constantFrom("keep", "drop", "hash", "KEEP", "", "bucket"),
  fc.record({ bucket: fc.oneof(fc.integer(), fc.double(), fc.constant("10")) }),
  fc.record({ geohash: fc.integer({ min: -2, max: 20 }) }),
  fc.record({ truncate: fc.constantFrom("day", "hour", "minute", 1) }),
  fc.record({ ip: fc.integer({ min: -8, max: 200 }) }),
  fc.record({ maxLength: fc.oneof(fc.integer(), fc.constant(null)) }),
  fc.record({ bucket: fc.constant(10), ip: fc.constant(24) }),
);
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  weirdString.map((s) => s.slice(0, 200)),
);
const policyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: duration, weight: 3 },
  { arbitrary: fieldRule, weight: 3 },
  {
    arbitrary: fc.constantFrom(
      "opt-in",
      "opt-out",
      "consent",
      "contract",
      "legitimate-interest",
      "reject",
      "allow",
      "EU",
      "US-CA",
      "OTHER",
      "personalization",
      "opt-out-of-sale-or-share",
      "* * * * *",
      "61 * * * *",
      "0 0 31 2 *",
      "@daily",
    ),
    weight: 3,
  },
  { arbitrary: scalar, weight: 3 },
  { arbitrary: fc.array(scalar, { maxLength: 4 }), weight: 1 },
  { arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 3 }), weight: 1 },
);
const newKey = fc.oneof(
  fc.constantFrom(
    "__proto__",
    "constructor",
    "prototype",
    "window",
    "retention",
    "fields",
    "regions",
    "POST /api/x",
    "GET /api/plays",
    "a.b",
    "",
    "x.__proto__",
  ),
  fc.string({ maxLength: 10 }),
);

/** One edit of the parsed policy, at the `pick`-th of its paths. */
const edit = fc.record({
  pick: fc.nat(),
  action: fc.constantFrom("set", "set", "delete", "add"),
  value: policyValue,
  key: newKey,
});
/** One edit of a file's text: syntax the parser must report, a line written twice (a duplicate key in one file). */
const textEdit = fc.record({
  at: fc.nat(),
  action: fc.constantFrom("insert", "cut", "repeat-line", "tab"),
  text: fc.oneof(
    fc.constantFrom(
      ":",
      "- ",
      "&a ",
      "*a",
      "<<: *a",
      "!!binary ",
      "{",
      "]",
      "'",
      '"',
      "\n  ",
      "\t",
      "? ",
      "%YAML 1.1\n---\n",
    ),
    weirdString.map((s) => s.slice(0, 20)),
  ),
});

const folderContent = fc.record({
  edits: fc.oneof(
    { arbitrary: fc.constant([]), weight: 1 },
    { arbitrary: fc.array(edit, { minLength: 1, maxLength: 3 }), weight: 3 },
  ),
  split: fc.nat(),
  /** A top-level entry also written in the other file. */
  duplicate: fc.option(fc.nat(), { nil: undefined, freq: 5 }),
  textEdits: fc.oneof(
    { arbitrary: fc.constant([]), weight: 3 },
    { arbitrary: fc.array(textEdit, { minLength: 1, maxLength: 2 }), weight: 1 },
  ),
});

type Tree = Record<string, unknown>;

function paths(value: unknown, at: string[] = []): string[][] {
  if (value === null || typeof value !== "object") return [at];
  return [at, ...Object.keys(value).flatMap((k) => paths((value as Tree)[k], [...at, k]))];
}

function applyEdit(
  tree: Tree,
  { pick, action, value, key }: { pick: number; action: string; value: unknown; key: string },
): void {
  const all = paths(tree).filter((p) => p.length > 0);
  const where = all[pick % all.length]!;
  const parent = where.slice(0, -1).reduce<Tree>((node, k) => node[k] as Tree, tree);
  const last = where.at(-1)!;
  const define = (target: Tree, k: string, v: unknown) =>
    Object.defineProperty(target, k, { value: v, enumerable: true, configurable: true, writable: true });
  // An array's length is not a key a YAML mapping can add: defining it would throw inside the test itself.
  if (action === "add" && Array.isArray(parent) && key === "length") return;
  if (action === "delete") delete parent[last];
  else if (action === "set") define(parent, last, value);
  else if (parent[last] !== null && typeof parent[last] === "object" && !Array.isArray(parent[last]))
    define(parent[last] as Tree, key, value);
  else define(parent, key, value);
}

function applyTextEdit(
  text: string,
  { at, action, text: piece }: { at: number; action: string; text: string },
): string {
  const i = at % (text.length + 1);
  if (action === "insert") return text.slice(0, i) + piece + text.slice(i);
  if (action === "cut") return text.slice(0, i) + text.slice(i + (piece.length || 1));
  const lines = text.split("\n");
  const line = at % lines.length;
  if (action === "tab") lines[line] = `\t${lines[line]}`;
  else lines.splice(line, 0, lines[line]!);
  return lines.join("\n");
}

describe(`property: random policy folders, ${RUNS} cases`, () => {
  const suite = suiteScope();
  let root: string;
  before(async () => {
    root = await scratchFolder(suite, "consentgate-policy-prop-");
  });

  // Found by the property below: merging files read `data["__proto__"]` (Object.prototype) and wrote the file's entries onto it.
  test("a policy file with a top-level __proto__ entry is refused at start-up and pollutes nothing", async () => {
    const folder = path.join(root, "proto");
    mkdirSync(folder);
    writeFileSync(
      path.join(folder, "policy.yaml"),
      `${YAML.stringify(base)}__proto__:\n  polluted: true\n  window: 1\n`,
    );
    await assert.rejects(createConsentgate({ policies: folder, database: "memory" }), (error: unknown) => {
      assert.ok(isConsentgateError(error, "policy_invalid"), String(error));
      assert.ok(
        error.details.problems?.some((p) => p.startsWith(`${folder}/policy.yaml:`) && p.includes("__proto__")),
        error.details.problems?.join("\n"),
      );
      return true;
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype.polluted was set");
    assert.equal(Object.hasOwn(Object.prototype, "window"), false);
  });

  // Found by the property below: these passed the loader and failed later in start-up with no file or line.
  for (const [name, change, expected] of [
    [
      "a field named prototype",
      (p: Tree) =>
        Object.assign((p.purposes as Record<string, Tree>).service!.fields as Tree, { "device.prototype": "keep" }),
      /policy\.yaml:\d+:\d+: purposes\.service\.fields\."device\.prototype": .*prototype/,
    ],
    [
      "a rule on a field and on a field inside it",
      (p: Tree) =>
        Object.assign((p.purposes as Record<string, Tree>).personalization!.fields as Tree, { device: "keep" }),
      /policy\.yaml:\d+:\d+: purposes\.personalization\.fields\.device: has a rule and so do fields inside it/,
    ],
    [
      "a cron expression no job runner accepts",
      (p: Tree) => Object.assign(p.jobs as Tree, { purge: "0 0 31 2 *" }),
      /policy\.yaml:\d+:\d+: jobs\.purge: "0 0 31 2 \*" is not a schedule/,
    ],
  ] as const) {
    test(`${name} is refused at start-up with its file and line`, async () => {
      const folder = path.join(root, name.replaceAll(" ", "-"));
      mkdirSync(folder);
      const policy = structuredClone(base) as Tree;
      change(policy);
      writeFileSync(path.join(folder, "policy.yaml"), YAML.stringify(policy));
      await assert.rejects(createConsentgate({ policies: folder, database: "memory" }), (error: unknown) => {
        assert.ok(isConsentgateError(error, "policy_invalid"), String(error));
        assert.ok(
          error.details.problems?.some((p) => expected.test(p)),
          error.details.problems?.join("\n"),
        );
        return true;
      });
    });
  }

  test("a compiled policy start-up can use, or policy_invalid with located problems", async () => {
    let n = 0;
    let valid = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(folderContent, async ({ edits, split, duplicate, textEdits }) => {
        const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).join();
        const folder = path.join(root, String(++n));
        const tree = structuredClone(base) as Tree;
        for (const e of edits) applyEdit(tree, e);
        // Top-level keys go to a.yaml or b.yaml by the bits of `split`; one may be written in both.
        const files: Record<string, Tree> = { "a.yaml": {}, "b.yaml": {} };
        Object.keys(tree).forEach((k, i) =>
          Object.defineProperty(files[(split >> i) & 1 ? "b.yaml" : "a.yaml"]!, k, {
            value: tree[k],
            enumerable: true,
          }),
        );
        const keys = Object.keys(tree);
        if (duplicate !== undefined && keys.length > 0) {
          const k = keys[duplicate % keys.length]!;
          const other = k in files["a.yaml"]! ? "b.yaml" : "a.yaml";
          Object.defineProperty(files[other]!, k, { value: tree[k], enumerable: true });
        }
        const texts = Object.entries(files).map(
          ([name, content]) => [name, YAML.stringify(content)] as [string, string],
        );
        for (const e of textEdits) texts[e.at % 2]![1] = applyTextEdit(texts[e.at % 2]![1], e);
        mkdirSync(folder);
        for (const [name, text] of texts) writeFileSync(path.join(folder, name), text);
        const context = texts.map(([name, text]) => `--- ${name}\n${text.slice(0, 1500)}`).join("\n");

        try {
          const policy = await loadPolicy(folder);
          // What start-up does next with the policy, before it opens the database.
          resolveSchedules(policy);
          for (const purpose of Object.values(policy.purposes))
            compileMinimizer(purpose.fields, { hashKey: "property-test-key" });
          valid++;
        } catch (error) {
          if (!isConsentgateError(error, "policy_invalid"))
            throw new Error(`not policy_invalid: ${String((error as Error)?.stack ?? error)}\n${context}`);
          const problems = error.details.problems ?? [];
          assert.ok(problems.length > 0, `policy_invalid without problems\n${context}`);
          const located = new RegExp(`^${escape(folder)}(/[ab]\\.yaml:\\d+:\\d+)?: \\S`);
          for (const problem of problems)
            assert.match(problem, located, `a problem without file:line: ${problem}\n${context}`);
        } finally {
          rmSync(folder, { recursive: true, force: true });
        }
        assert.equal(
          Object.getOwnPropertyNames(Object.prototype).join(),
          prototypeKeys,
          `Object.prototype changed: ${Object.getOwnPropertyNames(Object.prototype).join()}\n${context}`,
        );
      }),
      propertyParameters(),
    );
    console.log(`# policies: ${RUNS} cases (${valid} valid) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (RUNS >= 1000) assert.ok(valid > 0 && valid < RUNS, "the generator should give both valid and invalid policies");
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
