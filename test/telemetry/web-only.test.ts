/**
 * `consentgate/client` runs in browsers: src/client/ imports nothing outside
 * itself and needs nothing from its host but `crypto.getRandomValues` and
 * `TextEncoder`. Checked twice: statically (every import of every file is one
 * of its siblings; .dependency-cruiser.cjs says the same in CI), and by
 * running it in a bare JavaScript realm (node:vm) that has only those two
 * globals — no process, Buffer, require, fetch or timers — where an import of
 * anything but a sibling fails to link.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { sketchHash } from "../../src/client/index.ts";

const folder = fileURLToPath(new URL("../../src/client/", import.meta.url));
const files = readdirSync(folder).filter((name) => name.endsWith(".ts"));

/** Links the client's modules in a realm with only crypto and TextEncoder, and makes a report there. */
const SANDBOX = `
import vm from "node:vm";
import { readFileSync } from "node:fs";
const sources = JSON.parse(readFileSync(0, "utf8"));
const context = vm.createContext({ crypto: globalThis.crypto, TextEncoder: globalThis.TextEncoder });
const modules = new Map(
  Object.entries(sources).map(([name, code]) => [name, new vm.SourceTextModule(code, { identifier: name, context })]),
);
const index = modules.get("index.ts");
await index.link((specifier, referencing) => {
  const module = specifier.startsWith("./") ? modules.get(specifier.slice(2)) : undefined;
  if (!module) throw new Error(referencing.identifier + " imports " + specifier);
  return module;
});
await index.evaluate();
const api = index.namespace;
const params = { epsilon: 4, hashes: 1024, width: 32768 };
const reports = Array.from({ length: 200 }, () => api.telemetryReport("jazz", params));
const globals = vm.runInContext(
  "[typeof process, typeof Buffer, typeof require, typeof fetch, typeof setTimeout, typeof window]",
  context,
);
console.log(JSON.stringify({ names: Object.keys(api).sort(), reports, hash: api.sketchHash("jazz", 5, 32768), globals }));
`;

describe("src/client is web-only", () => {
  test("every import of every file is a sibling in src/client", () => {
    assert.ok(files.includes("index.ts"));
    for (const name of files) {
      const { importedFiles } = ts.preProcessFile(readFileSync(join(folder, name), "utf8"), true, true);
      for (const { fileName } of importedFiles) {
        assert.match(fileName, /^\.\/[\w-]+\.ts$/, `${name} imports ${fileName}`);
        assert.ok(existsSync(join(folder, fileName)), `${name} imports ${fileName}, which is not in src/client`);
      }
    }
  });

  test("it links and runs in a realm that has only crypto and TextEncoder", async () => {
    const sources = Object.fromEntries(
      files.map((name) => {
        const source = readFileSync(join(folder, name), "utf8");
        const { outputText } = ts.transpileModule(source, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
          fileName: name,
        });
        return [name, outputText];
      }),
    );
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        process.execPath,
        ["--experimental-vm-modules", "--no-warnings", "--input-type=module", "-e", SANDBOX],
        { env: { ...process.env, NODE_OPTIONS: "" }, timeout: 30_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
      child.stdin!.end(JSON.stringify(sources));
    });
    const result = JSON.parse(stdout) as {
      names: string[];
      reports: { hash: number; index: number; bit: number }[];
      hash: number;
      globals: string[];
    };
    assert.deepEqual(result.globals, ["undefined", "undefined", "undefined", "undefined", "undefined", "undefined"]);
    // The same exports as the module loaded here (test/api-surface.test.ts pins the list itself).
    assert.deepEqual(result.names, Object.keys(await import("../../src/client/index.ts")));
    assert.equal(result.hash, sketchHash("jazz", 5, 32768), "the same hash family in the sandbox as here");
    for (const { hash, index, bit } of result.reports) {
      assert.ok(Number.isInteger(hash) && hash >= 0 && hash < 1024);
      assert.ok(Number.isInteger(index) && index >= 0 && index < 32768);
      assert.ok(bit === 1 || bit === -1);
    }
    assert.ok(new Set(result.reports.map((r) => r.index)).size > 150, "the reports are random");
  });
});
