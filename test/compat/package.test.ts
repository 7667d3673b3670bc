/**
 * The package as a newcomer meets it: a copy of the repository with its
 * dependencies installed (node_modules, the generated Prisma client) but no
 * dist/, as after a clone whose build never ran.
 *
 * - `npx consentgate check policies`, as the README and policies/policy.yaml
 *   say, runs inside it (it used to answer "consentgate: not found").
 * - `npm pack` builds (package.json "prepare"), so a tarball, or an install
 *   from a path or git, holds dist/ and a `consentgate` bin that runs.
 *
 * npm runs with a cache of its own (nothing read from or left in the user's
 * ~/.npm/_npx) and offline: a package's own bin needs no registry.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** What a clone holds that packing and the CLI read (tests, benchmarks and dist/ left out). */
const CHECKOUT = ["package.json", "README.md", "tsconfig.json", "prisma.config.ts", "bin", "prisma", "policies", "src"];

describe("a checkout that was never built", () => {
  let scratch: string;
  let checkout: string;
  let env: NodeJS.ProcessEnv;
  const run = (command: string, args: string[], cwd: string, timeout: number, more: NodeJS.ProcessEnv = {}) =>
    promisify(execFile)(command, args, { cwd, env: { ...env, ...more }, timeout, maxBuffer: 16 * 1024 * 1024 });

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "consentgate-package-"));
    checkout = path.join(scratch, "consentgate");
    await mkdir(checkout);
    for (const entry of CHECKOUT) await cp(path.join(root, entry), path.join(checkout, entry), { recursive: true });
    await symlink(path.join(root, "node_modules"), path.join(checkout, "node_modules"), "dir");
    env = {
      ...process.env,
      npm_config_cache: path.join(scratch, "npm-cache"),
      npm_config_offline: "true",
      npm_config_ignore_scripts: "false",
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
      npm_config_audit: "false",
      NODE_OPTIONS: "",
    };
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  test("`npx consentgate check policies` runs inside it", async () => {
    // npx installs the checkout into its cache and links its bin. With scripts on, that install
    // runs "prepare" (a full build, half a minute); the bin must not depend on it, so here it is skipped.
    const { stdout } = await run("npx", ["consentgate", "check", "policies"], checkout, 120_000, {
      npm_config_ignore_scripts: "true",
    }).then(
      (result) => result,
      (error: { stdout?: string; stderr?: string; message: string }) =>
        assert.fail(`npx consentgate failed: ${error.stderr || error.message}`),
    );
    assert.match(
      stdout,
      /^Policy 2026-11-01 is valid: 5 purposes, 5 regions, 3 routes, 1 release, 1 federated model\.$/m,
    );
  });

  test("`npm pack` builds: the tarball holds dist/ and a consentgate bin that runs from it", async () => {
    const packed = path.join(scratch, "packed");
    await mkdir(packed);
    await run("npm", ["pack", "--pack-destination", packed], checkout, 300_000);
    const tarball = (await readdir(packed)).find((name) => name.endsWith(".tgz"));
    assert.ok(tarball, `no tarball in ${packed}`);
    const { stdout: listing } = await run("tar", ["-tzf", path.join(packed, tarball)], packed, 30_000);
    const files = new Set(listing.split("\n").filter(Boolean));
    for (const file of [
      "package/dist/index.js",
      "package/dist/index.d.ts",
      "package/dist/cli/main.js",
      "package/bin/consentgate.js",
      "package/prisma/migrations/0001_init/migration.sql",
    ]) {
      assert.ok(files.has(file), `${file} is not in the tarball`);
    }
    assert.ok(![...files].some((file) => file.startsWith("package/src/")), "the sources stay out: the bin runs dist/");

    // Installed from the tarball: the bin runs the build (its dependencies are the repository's own).
    await run("tar", ["-xzf", path.join(packed, tarball), "-C", packed], packed, 30_000);
    const installed = path.join(packed, "package");
    await symlink(path.join(root, "node_modules"), path.join(installed, "node_modules"), "dir");
    const { stdout } = await run(
      process.execPath,
      [path.join(installed, "bin", "consentgate.js"), "check", path.join(installed, "policies")],
      packed,
      60_000,
    );
    assert.match(stdout, /^Policy 2026-11-01 is valid/m);
  });
});
