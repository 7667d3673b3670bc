/**
 * Property: whatever arguments the `consentgate` command line gets, it ends
 * with exit code 0, 1 or 2 and says something (a result on stdout, or why not
 * on stderr); it never throws, and never echoes a database password.
 * Runs through run() in a child process (one for all cases) whose working
 * directory is a scratch folder holding a valid policy folder (`valid`:
 * opening a database costs most of a second, so few cases name it), a broken
 * one, no ./policies, and (on PGlite) the embedded database.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, test } from "node:test";
import fc from "fast-check";
import YAML from "yaml";
import { TEST_SECRET } from "../support/app.ts";
import { RUNS, propertyParameters, weirdString } from "../support/arbitraries.ts";
import { type Cli, cliIn } from "../support/child.ts";
import { type TestDatabase, onPostgres, scratchFolder, testDatabase } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";

const PASSWORD = "pw-9f3kq";

describe(`property: random command lines, ${RUNS} cases, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: TestDatabase | undefined;
  /** The --database values that open a real, migrated database (none on PGlite: the embedded files are the default). */
  let reachable: string[] = [];
  let consentgate: Cli;
  /** The commands' environment: no DATABASE_URL; the secret set, or unset by a case. */
  const env: Record<string, string | undefined> = { DATABASE_URL: undefined, CONSENTGATE_SECRET: TEST_SECRET };
  const cli = (argv: string[]) => consentgate(argv, env);
  before(async () => {
    const scratch = await scratchFolder(suite, "consentgate-cli-prop-");
    await mkdir(path.join(scratch, "valid"));
    await writeFile(path.join(scratch, "valid/policy.yaml"), YAML.stringify(testPolicy()));
    await mkdir(path.join(scratch, "broken"));
    await writeFile(path.join(scratch, "broken/policy.yaml"), "version: 1\npurposes: [\n");
    if (onPostgres) {
      db = await testDatabase(suite);
      reachable = [db.option];
    }
    consentgate = await cliIn(suite, scratch);
    // Migrate once, so that cases reaching the database do not each pay for it.
    const first = await cli(["purge", "--dry-run", "--policies", "valid", ...(db ? ["--database", db.option] : [])]);
    assert.equal(first.code, 0, first.err.join("\n"));
  });

  // Found by the property below: run() rethrew the driver's error, which the bin turns into an unhandled rejection.
  test("a database that cannot be reached: exit 1 with the reason, no exception, no password", async () => {
    const { code, out, err } = await cli([
      "report",
      "EU",
      "--policies",
      "valid",
      "--database",
      `postgres://u:${PASSWORD}@127.0.0.1:1/db`,
    ]);
    assert.equal(code, 1);
    assert.deepEqual(out, []);
    assert.match(err.join("\n"), /^consentgate report: .*ECONNREFUSED/);
    assert.ok(!err.join("\n").includes(PASSWORD));
  });

  test("exit code 0, 1 or 2 with a message; no exception; no password echoed", async () => {
    const database = fc.oneof(
      {
        arbitrary: fc.constantFrom(
          "memory",
          "",
          "garbage",
          "postgres://",
          "postgres://127.0.0.1/db",
          "http://x/y",
          "postgres://u@127.0.0.1/",
          `postgres://u:${PASSWORD}@127.0.0.1:1/db`,
          "postgres://u@127.0.0.1:1/db",
          "postgresql://u@[::1/db",
        ),
        weight: 6,
      },
      { arbitrary: weirdString, weight: 2 },
      { arbitrary: fc.constantFrom(...(reachable.length > 0 ? reachable : ["memory"])), weight: 1 },
    );
    const policies = fc.oneof(
      { arbitrary: fc.constantFrom("valid", "./valid/"), weight: 3 },
      { arbitrary: fc.constantFrom("policies", "broken", "none", "/etc/passwd", ".", ""), weight: 4 },
      { arbitrary: weirdString, weight: 2 },
    );
    const when = fc.oneof(
      fc.constantFrom("2026-11-01", "2026-11-01T00:00:00Z", "yesterday", "", "0", "2026-02-31", "-271821-04-20"),
      weirdString,
    );
    const token = fc.oneof(
      {
        arbitrary: fc.constantFrom(
          "--json",
          "--dry-run",
          "--help",
          "-h",
          "--",
          "-x",
          "--unknown",
          "--json=1",
          "--database",
          "--policies",
          "--from",
          "--to",
          "-",
        ),
        weight: 4,
      },
      { arbitrary: fc.constantFrom("EU", "US-CA", "OTHER", "eu", "XX", "__proto__", "constructor"), weight: 3 },
      { arbitrary: database.map((d) => ["--database", d]), weight: 3 },
      { arbitrary: database.map((d) => [`--database=${d}`]), weight: 1 },
      { arbitrary: policies.map((p) => ["--policies", p]), weight: 3 },
      { arbitrary: when.map((d) => ["--from", d]), weight: 1 },
      { arbitrary: when.map((d) => ["--to", d]), weight: 1 },
      { arbitrary: weirdString, weight: 2 },
    );
    const command = fc.oneof(
      { arbitrary: fc.constantFrom("check", "purge", "report", "verify"), weight: 8 },
      {
        arbitrary: fc.constantFrom(
          "help",
          "--help",
          "-h",
          "",
          "chek",
          "purge ",
          "__proto__",
          "constructor",
          "toString",
        ),
        weight: 2,
      },
      { arbitrary: weirdString, weight: 1 },
    );
    const argv = fc.tuple(command, fc.array(token, { maxLength: 6 })).map(([name, tokens]) => [name, ...tokens.flat()]);

    const started = Date.now();
    const codes = { 0: 0, 1: 0, 2: 0 } as Record<number, number>;
    let ranJobs = 0;
    await fc.assert(
      fc.asyncProperty(argv, fc.boolean(), async (args, withSecret) => {
        env.CONSENTGATE_SECRET = withSecret ? TEST_SECRET : undefined;
        const context = `consentgate ${JSON.stringify(args)} (secret ${withSecret ? "set" : "unset"})`;
        let result: Awaited<ReturnType<typeof cli>>;
        try {
          result = await cli(args);
        } catch (error) {
          throw new Error(`${context} threw: ${(error as Error)?.stack ?? String(error)}`);
        }
        const { code, out, err } = result;
        assert.ok([0, 1, 2].includes(code), `${context}: exit code ${code}`);
        codes[code]!++;
        if (
          code === 0 &&
          ["purge", "report", "verify"].includes(args[0]!) &&
          !args.includes("--help") &&
          !args.includes("-h")
        )
          ranJobs++;
        if (code === 0) assert.ok(out.length > 0, `${context}: exit 0 and nothing said`);
        else
          assert.ok(
            err.some((line) => line.trim() !== ""),
            `${context}: exit ${code} and no reason on stderr`,
          );
        // Only where it is a database option: as a folder or region name (check's positionals, or after "--") it is quoted back like any name.
        const asDatabaseOption = args[0] !== "check" && !args.includes("--");
        if (asDatabaseOption)
          assert.ok(
            ![...out, ...err].some((line) => line.includes(PASSWORD)),
            `${context}: the database password was echoed`,
          );
      }),
      propertyParameters(),
    );
    console.log(
      `# cli: ${RUNS} cases (exit 0/1/2: ${codes[0]}/${codes[1]}/${codes[2]}; ${ranJobs} jobs ran on the database) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });
});
