/**
 * The public surface, checked on the BUILT package as a host app meets it:
 * `import … from "consentgate"` and `require("consentgate")` resolve through
 * package.json "exports" to dist/, and an editor reads dist/index.d.ts.
 *
 * - The runtime exports are exactly the expected set, the same from ESM and CommonJS.
 * - The exported names (values and types) are exactly the expected set.
 * - Every type reachable from an export (parameters, results, properties) is
 *   either exported or someone else's (Express, CASL, the TypeScript library),
 *   and never a generated Prisma type: renaming a column must not change the API.
 * - Every export has a summary and an `@example`; every member of an exported
 *   interface has a summary; every method of what the gate hands out
 *   (Consentgate, Privacy, StoreAccess) has an `@example`.
 * - Every `@example` and test/api-surface-types.ts compile against dist/.
 * - `consentgate/client` (the device's side, dist/client/) likewise: exactly
 *   its runtime exports and names, each with a summary and an `@example`
 *   that compiles.
 *
 * dist/ comes from `npm run build`. CI builds before it tests, so there a
 * missing or stale dist/ fails this test; elsewhere the test builds first.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import ts from "typescript";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../", import.meta.url));
const dist = join(root, "dist");

/** What `import * as api from "consentgate"` holds at run time. */
const RUNTIME_EXPORTS = ["ConsentgateError", "createConsentgate", "isConsentgateError", "verifySignature"];

/** Every name dist/index.d.ts exports. A new export is a decision: add it here, with its JSDoc. */
const EXPORTS = [
  ...RUNTIME_EXPORTS,
  "ActingAs",
  "Actor",
  "Aggregation",
  "AppAbility",
  "AuditEntry",
  "Choice",
  "ConsentCacheOptions",
  "ComplianceReportResult",
  "ConsentModel",
  "ConsentRecord",
  "Consentgate",
  "ConsentgateErrorDetails",
  "ConsentgateOptions",
  "DataSource",
  "DataSourceFailure",
  "DeadlinesResult",
  "Decision",
  "DecisionSource",
  "Duration",
  "DurationUnit",
  "ErasedCounts",
  "ErasureCertificate",
  "ErasureRetryResult",
  "ErrorCode",
  "FieldRule",
  "GatedModel",
  "GpcMeaning",
  "HttpErrorCode",
  "InsightRelease",
  "Interaction",
  "ReleasedKey",
  "ReleaseResult",
  "InsightsJobResult",
  "InsightView",
  "Insights",
  "TelemetryEstimate",
  "TelemetryFrequencies",
  "JobName",
  "JobResults",
  "Jwks",
  "Learning",
  "LearningJobResult",
  "LearningModel",
  "LearningStatus",
  "LegalBasis",
  "LogRetentionResult",
  "ModelDefinition",
  "ModelView",
  "Logger",
  "OpenApiDocument",
  "OpenApiOptions",
  "Policy",
  "Privacy",
  "PrivacyCenterOptions",
  "PrivacyConsoleOptions",
  "PrismaExtensionOptions",
  "PrismaGateExtension",
  "PrivacyRequestView",
  "Purpose",
  "PurgeCounts",
  "PurgeProgress",
  "PurgeResult",
  "PurgedTable",
  "PublicSigningKey",
  "Receipt",
  "Region",
  "RequestStatus",
  "RequestType",
  "RightsLimitGroup",
  "RightsLimits",
  "Route",
  "RunJob",
  "RunJobOptions",
  "SetupErrorCode",
  "StoreAccess",
  "TelemetryMetric",
  "TrimResult",
  "VerifyResult",
  "WithdrawalAction",
  "WriteMethod",
].sort();

/** What `import * as client from "consentgate/client"` holds at run time: the device's side (src/client/). */
const CLIENT_RUNTIME_EXPORTS = [
  "DEFAULT_TRAINING",
  "LearningError",
  "MAX_PLAYS",
  "clipToNorm",
  "createDeviceRecommender",
  "decodeFloat32",
  "deviceLoss",
  "encodeFloat32",
  "gramian",
  "indexedDbStorage",
  "itemGradient",
  "l2Norm",
  "localUpdate",
  "memoryStorage",
  "sketchHash",
  "solveUserVector",
  "telemetryReport",
  "topItems",
];

/** Every name dist/client/index.d.ts exports. */
const CLIENT_EXPORTS = [
  ...CLIENT_RUNTIME_EXPORTS,
  "ContributionResult",
  "DeviceRecommender",
  "FetchLike",
  "ItemFactors",
  "ItemPlays",
  "RecommenderOptions",
  "RecommenderStorage",
  "TelemetryParams",
  "TelemetryRecord",
  "TrainingOptions",
].sort();

/** The objects the gate hands out: each of their methods needs an example of its own. */
const HANDED_OUT = new Set(["Consentgate", "Insights", "Learning", "Privacy", "StoreAccess"]);

/**
 * When the sources of dist/ last changed: src/ and the Prisma schema. Not
 * src/generated/, which any `prisma generate` rewrites with the same content.
 */
function sourcesChanged(): number {
  let newest = statSync(join(root, "prisma", "schema.prisma")).mtimeMs;
  for (const entry of readdirSync(join(root, "src"), { withFileTypes: true, recursive: true })) {
    const file = join(entry.parentPath, entry.name);
    if (entry.isFile() && !file.startsWith(join(root, "src", "generated")))
      newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

/** Why dist/ cannot be tested as it is, or undefined when it is built from the current sources. */
function distProblem(): string | undefined {
  const index = join(dist, "index.d.ts");
  if (!existsSync(index) || !existsSync(join(dist, "index.js"))) return "dist/ is missing";
  if (statSync(index).mtimeMs < sourcesChanged()) return "dist/ is older than src/";
  return undefined;
}

before(async () => {
  const problem = distProblem();
  if (problem === undefined) return;
  assert.ok(!process.env.CI, `${problem}: CI must run \`npm run build\` before \`npm test\``);
  await run("npm", ["run", "build"], { cwd: root, timeout: 300_000 });
  assert.equal(distProblem(), undefined, "`npm run build` did not bring dist/ up to date");
});

describe("runtime exports", () => {
  /** Runs a script in a fresh app whose node_modules/consentgate is this package, with plain Node (no tsx). */
  async function inHostApp(type: "module" | "commonjs", source: string): Promise<unknown> {
    const dir = await mkdtemp(join(tmpdir(), "consentgate-surface-"));
    try {
      await mkdir(join(dir, "node_modules"));
      await symlink(root, join(dir, "node_modules", "consentgate"), "dir");
      await writeFile(join(dir, "package.json"), JSON.stringify({ name: "host", private: true, type }));
      await writeFile(join(dir, "main.js"), source);
      const env = { ...process.env, NODE_OPTIONS: "" };
      const { stdout } = await run(process.execPath, ["main.js"], { cwd: dir, env, timeout: 60_000 });
      return JSON.parse(stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const describeExports = "Object.fromEntries(Object.keys(api).sort().map((name) => [name, typeof api[name]]))";

  test('import * from "consentgate" gives exactly the runtime exports', async () => {
    const esm = await inHostApp(
      "module",
      `import * as api from "consentgate";\nconsole.log(JSON.stringify(${describeExports}));`,
    );
    assert.deepEqual(esm, {
      ConsentgateError: "function",
      createConsentgate: "function",
      isConsentgateError: "function",
      verifySignature: "function",
    });
    assert.deepEqual(Object.keys(esm as object), RUNTIME_EXPORTS);
  });

  test('require("consentgate") gives the same', async () => {
    const cjs = await inHostApp(
      "commonjs",
      `const api = require("consentgate");\nconsole.log(JSON.stringify(${describeExports}));`,
    );
    assert.deepEqual(cjs, {
      ConsentgateError: "function",
      createConsentgate: "function",
      isConsentgateError: "function",
      verifySignature: "function",
    });
  });

  test('"consentgate/client" gives exactly the client\'s runtime exports, from ESM and CommonJS', async () => {
    const constants: Record<string, string> = { DEFAULT_TRAINING: "object", MAX_PLAYS: "number" };
    const expected = Object.fromEntries(CLIENT_RUNTIME_EXPORTS.map((name) => [name, constants[name] ?? "function"]));
    const esm = await inHostApp(
      "module",
      `import * as api from "consentgate/client";\nconsole.log(JSON.stringify(${describeExports}));`,
    );
    assert.deepEqual(esm, expected);
    assert.deepEqual(Object.keys(esm as object), CLIENT_RUNTIME_EXPORTS);
    const cjs = await inHostApp(
      "commonjs",
      `const api = require("consentgate/client");\nconsole.log(JSON.stringify(${describeExports}));`,
    );
    assert.deepEqual(cjs, expected);
  });
});

describe("declarations", () => {
  let program: ts.Program;
  let surface: ReturnType<typeof walkSurface>;

  before(() => {
    program = ts.createProgram([join(dist, "index.d.ts")], COMPILER_OPTIONS);
    surface = walkSurface(program, join(dist, "index.d.ts"));
  });

  test("dist/index.d.ts exports exactly the public names", () => {
    assert.deepEqual(surface.exports, EXPORTS);
  });

  test("every type an export uses is exported too, and none is a generated Prisma type", () => {
    assert.deepEqual(surface.generated, [], "generated Prisma types in the public API");
    assert.deepEqual(surface.unexported, [], "types a host meets but cannot import");
  });

  test("every export and every member has a summary; exports and the gate's methods have an @example", () => {
    assert.deepEqual(surface.undocumented, []);
    assert.deepEqual(surface.withoutExample, []);
  });

  test("every @example, and test/api-surface-types.ts, compile against the built package", async () => {
    assert.ok(surface.examples.length >= EXPORTS.length, `only ${surface.examples.length} examples`);
    const problems = await compileExamples(program, surface.examples, "api-examples", [
      join(root, "test", "api-surface-types.ts"),
    ]);
    assert.deepEqual(problems, []);
  });
});

describe("declarations of consentgate/client", () => {
  let program: ts.Program;
  let surface: ReturnType<typeof walkSurface>;

  before(() => {
    program = ts.createProgram([join(dist, "client", "index.d.ts")], COMPILER_OPTIONS);
    surface = walkSurface(program, join(dist, "client", "index.d.ts"));
  });

  test("dist/client/index.d.ts exports exactly the client's names, each documented with an @example", () => {
    assert.deepEqual(surface.exports, CLIENT_EXPORTS);
    assert.deepEqual(surface.unexported, [], "types a host meets but cannot import");
    assert.deepEqual(surface.undocumented, []);
    assert.deepEqual(surface.withoutExample, []);
  });

  test('every @example compiles against the built package, importing "consentgate/client"', async () => {
    assert.ok(surface.examples.length >= CLIENT_EXPORTS.length, `only ${surface.examples.length} examples`);
    assert.deepEqual(await compileExamples(program, surface.examples, "client-examples"), []);
  });
});

/**
 * Compiles each example as a module of its own (so examples may await at the
 * top level and declare the same names), with GLOBALS and `extra` files,
 * inside the package so that "consentgate" resolves by self-reference to
 * dist/ and "express" to our node_modules. Returns the problems found in
 * them and in our declarations.
 */
async function compileExamples(
  program: ts.Program,
  examples: readonly { name: string; code: string }[],
  folder: string,
  extra: readonly string[] = [],
): Promise<string[]> {
  const dir = join(root, "test-artifacts", folder);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const files = [join(dir, "globals.d.ts"), ...extra];
  await writeFile(files[0]!, GLOBALS);
  for (const [i, example] of examples.entries()) {
    const file = join(dir, `${String(i).padStart(3, "0")}-${example.name.replace(/[^A-Za-z0-9]+/g, "-")}.ts`);
    await writeFile(file, `${example.code}\nexport {};\n`);
    files.push(file);
  }
  const compiled = ts.createProgram(files, COMPILER_OPTIONS, undefined, program);
  const ours = compiled
    .getSourceFiles()
    .filter((f) => files.includes(resolve(f.fileName)) || isOurDeclaration(f.fileName));
  const problems = ours.flatMap((f) => [...compiled.getSyntacticDiagnostics(f), ...compiled.getSemanticDiagnostics(f)]);
  const resolved = ts.resolveModuleName("consentgate", files[0]!, COMPILER_OPTIONS, ts.sys).resolvedModule
    ?.resolvedFileName;
  assert.equal(resolved && resolve(resolved), join(dist, "index.d.ts"), '"consentgate" does not resolve to dist/');
  return problems.map(formatDiagnostic);
}

/** What an example may take as given, as hono's examples take `app`. */
const GLOBALS = `import type { Consentgate } from "consentgate";
import type { Express } from "express";
import type { PrismaClient } from "../../examples/music-app/generated/prisma/client.ts";
declare global {
  /** The gate createConsentgate() returned. */
  var gate: Consentgate;
  /** The host's own Prisma client (the example app's schema: Listener, Like, Playlist, PlaylistTrack). */
  var prisma: PrismaClient;
  /** The host's Express app. */
  var app: Express;
}
export {};
`;

const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2023.d.ts"],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  types: ["node"],
  noEmit: true,
  // The examples' host client is the example app's generated one, which is TypeScript.
  allowImportingTsExtensions: true,
  // Diagnostics are asked for file by file below: ours only, including our declarations.
  skipLibCheck: false,
};

const isOurDeclaration = (fileName: string) => {
  const file = resolve(fileName);
  return file.startsWith(dist) && !file.startsWith(join(dist, "generated")) && file.endsWith(".d.ts");
};

function formatDiagnostic(d: ts.Diagnostic): string {
  const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : undefined;
  const where = d.file ? `${relative(root, d.file.fileName)}:${line ?? "?"}: ` : "";
  const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
  // An example's file is generated: show its code, which the message's line number refers to.
  const example = d.file && resolve(d.file.fileName).startsWith(join(root, "test-artifacts"));
  return `${where}${text}${example ? `\n${d.file!.text}` : ""}`;
}

/**
 * Walks every type reachable from dist/index.d.ts's exports: through
 * properties, call signatures, index signatures, unions, type arguments of
 * the TypeScript library's generics (Promise, Record, …). It stops at other
 * packages' types (Express, CASL), which are theirs to document.
 */
function walkSurface(program: ts.Program, indexFile: string) {
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(indexFile);
  assert.ok(index, `${indexFile} is not in the program`);
  const module = checker.getSymbolAtLocation(index);
  assert.ok(module, "dist/index.d.ts is not a module");
  const aliased = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exportSymbols = checker.getExportsOfModule(module);
  const exported = new Set(exportSymbols.map(aliased));

  const unexported = new Set<string>();
  const generated = new Set<string>();
  const undocumented = new Set<string>();
  const withoutExample = new Set<string>();
  const examples: { name: string; code: string }[] = [];
  const withExamples = new Set<ts.Node>();

  type Origin = "ours" | "generated" | "lib" | "other";
  const origin = (decl: ts.Node): Origin => {
    const file = decl.getSourceFile();
    const name = resolve(file.fileName);
    if (name.startsWith(join(dist, "generated")) || /[/\\]@?prisma[/\\]/.test(name)) return "generated";
    if (name.startsWith(dist)) return "ours";
    return program.isSourceFileDefaultLibrary(file) ? "lib" : "other";
  };
  const hasSummary = (s: ts.Symbol) => ts.displayPartsToString(s.getDocumentationComment(checker)).trim().length > 0;
  const collectExamples = (s: ts.Symbol, name: string): boolean => {
    const tags = s.getJsDocTags(checker).filter((t) => t.name === "example");
    const decl = s.declarations?.[0];
    if (decl && !withExamples.has(decl)) {
      withExamples.add(decl);
      for (const [i, tag] of tags.entries()) {
        const text = ts.displayPartsToString(tag.text);
        const code = /```(?:ts|typescript)?\n([\s\S]*?)```/.exec(text)?.[1] ?? text;
        examples.push({ name: `${name}${i ? `-${i}` : ""}`, code });
      }
    }
    return tags.length > 0;
  };
  const isNamed = (d: ts.Node) =>
    ts.isInterfaceDeclaration(d) || ts.isTypeAliasDeclaration(d) || ts.isClassDeclaration(d) || ts.isEnumDeclaration(d);

  /**
   * The interface, class or alias a member is declared in (through nested
   * object literals), and whether it must have a summary: members of
   * interfaces and classes, and of object literals that are an interface
   * member's type (`StoreAccess.consents.history`), not the arms of a union.
   */
  function owner(member: ts.Node): { name: string; needsSummary: boolean } | undefined {
    let node: ts.Node = member.parent;
    const needsSummary =
      ts.isInterfaceDeclaration(node) ||
      ts.isClassDeclaration(node) ||
      (ts.isTypeLiteralNode(node) && ts.isPropertySignature(node.parent));
    while (node && !isNamed(node)) node = node.parent;
    const name = node && (node as ts.InterfaceDeclaration).name?.text;
    return name ? { name, needsSummary } : undefined;
  }

  const seen = new Set<ts.Type>();
  function visitType(type: ts.Type, via: string): void {
    if (seen.has(type)) return;
    seen.add(type);
    const named = type.aliasSymbol ?? (type.flags & ts.TypeFlags.Object ? type.getSymbol() : undefined);
    const decl = named?.declarations?.[0];
    if (named && decl) {
      const from = origin(decl);
      if (from === "generated") {
        generated.add(`${named.name} (in ${via})`);
        return;
      }
      if (from === "other") return;
      if (from === "lib") {
        const args = type.aliasSymbol
          ? type.aliasTypeArguments
          : isReference(type)
            ? checker.getTypeArguments(type)
            : undefined;
        for (const arg of args ?? []) visitType(arg, via);
        // Library generics stop here, except instantiated mapped types (Record<K, V>), which are structure.
        if (!(type.aliasSymbol && type.flags & ts.TypeFlags.Object)) return;
      }
      if (from === "ours" && isNamed(decl) && !exported.has(named)) unexported.add(`${named.name} (in ${via})`);
    }
    if (type.flags & ts.TypeFlags.UnionOrIntersection) {
      for (const t of (type as ts.UnionOrIntersectionType).types) visitType(t, via);
      return;
    }
    if (type.flags & ts.TypeFlags.IndexedAccess) {
      visitType((type as ts.IndexedAccessType).objectType, via);
      visitType((type as ts.IndexedAccessType).indexType, via);
      return;
    }
    if (type.flags & ts.TypeFlags.TypeParameter) {
      const constraint = checker.getBaseConstraintOfType(type);
      if (constraint) visitType(constraint, via);
      return;
    }
    if (!(type.flags & ts.TypeFlags.Object)) return;
    if (isReference(type) && checker.isTupleType(type)) {
      for (const arg of checker.getTypeArguments(type)) visitType(arg, via);
      return;
    }
    const where = named && decl && isNamed(decl) ? named.name : via;
    for (const property of checker.getPropertiesOfType(type)) visitMember(property, where);
    for (const kind of [ts.SignatureKind.Call, ts.SignatureKind.Construct]) {
      for (const signature of checker.getSignaturesOfType(type, kind)) visitSignature(signature, where);
    }
    for (const info of checker.getIndexInfosOfType(type)) visitType(info.type, where);
  }

  function visitSignature(signature: ts.Signature, via: string): void {
    for (const parameter of signature.typeParameters ?? []) visitType(parameter, via);
    for (const parameter of signature.getParameters()) visitType(checker.getTypeOfSymbol(parameter), via);
    visitType(signature.getReturnType(), via);
    const predicate = checker.getTypePredicateOfSignature(signature);
    if (predicate?.type) visitType(predicate.type, via);
  }

  function visitMember(member: ts.Symbol, via: string): void {
    const decl = member.valueDeclaration ?? member.declarations?.[0];
    if (member.name.startsWith("#") || member.name.startsWith("__")) return;
    const type = checker.getTypeOfSymbol(member);
    if (decl && origin(decl) === "ours") {
      const own = owner(decl);
      const name = `${own?.name ?? via}.${member.name}`;
      if (own?.needsSummary && !hasSummary(member)) undocumented.add(name);
      const callable = checker.getSignaturesOfType(checker.getNonNullableType(type), ts.SignatureKind.Call).length > 0;
      if (!collectExamples(member, name) && callable && own && HANDED_OUT.has(own.name)) withoutExample.add(name);
    }
    visitType(type, `${via}.${member.name}`);
  }

  for (const symbol of exportSymbols) {
    const target = aliased(symbol);
    if (!hasSummary(target)) undocumented.add(symbol.name);
    if (!collectExamples(target, symbol.name)) withoutExample.add(symbol.name);
    if (target.flags & ts.SymbolFlags.Type) visitType(checker.getDeclaredTypeOfSymbol(target), symbol.name);
    if (target.flags & ts.SymbolFlags.Value) visitType(checker.getTypeOfSymbol(target), symbol.name);
  }

  const sorted = (set: Set<string>) => [...set].sort();
  return {
    exports: exportSymbols.map((s) => s.name).sort(),
    unexported: sorted(unexported),
    generated: sorted(generated),
    undocumented: sorted(undocumented),
    withoutExample: sorted(withoutExample),
    examples,
  };
}

function isReference(type: ts.Type): type is ts.TypeReference {
  return (
    (type.flags & ts.TypeFlags.Object) !== 0 && ((type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) !== 0
  );
}
