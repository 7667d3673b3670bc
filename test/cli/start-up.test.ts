/**
 * The `consentgate` bin when the database cannot be used: a held lock, a
 * server that refuses, a database that does not exist, a secret that is not
 * the app's. One line with the code and what to check, exit code 1, no stack
 * trace. The bin runs as a child process, in a scratch working directory
 * (where it finds the embedded database when none is named).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runFile } from "../support/child.ts";
import { type TestDatabase, onPostgres, testDatabase } from "../support/database.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = path.join(root, "src", "cli", "main.ts");
const policies = ["--policies", path.join(root, "policies")];
const TIMEOUT = 90_000;
const SECRET_A = "cli-secret-a-cli-secret-a-cli-secret-a";
const SECRET_B = "cli-secret-b-cli-secret-b-cli-secret-b";

/** The one line the bin printed, after checking it printed exactly one and no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  return lines[0]!;
}

describe(`consentgate when it cannot open the database, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  let scratch: string;
  let db: TestDatabase | undefined;
  let n = 0;
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "consentgate-cli-start-"));
    if (onPostgres) db = await testDatabase();
  });
  after(async () => {
    await db?.drop();
    await rm(scratch, { recursive: true, force: true });
  });
  async function folder(): Promise<string> {
    const dir = path.join(scratch, `run-${++n}`);
    await mkdir(dir);
    return dir;
  }
  const consentgate = (args: string[], cwd: string, env: Record<string, string> = {}) =>
    runFile(bin, args, { cwd, env, timeoutMs: TIMEOUT });

  test("the embedded database held by another process: the code, the owner, and --database or DATABASE_URL", async () => {
    const cwd = await folder();
    await mkdir(path.join(cwd, ".consentgate"));
    // This test process is alive and is not the child: to the child, the database is another process's.
    await writeFile(path.join(cwd, ".consentgate", "pgdata.lock"), String(process.pid));
    const { code, stderr } = await consentgate(["purge", ...policies], cwd, { CONSENTGATE_SECRET: SECRET_A });
    assert.equal(code, 1, stderr);
    const line = oneLine(stderr);
    assert.match(
      line,
      new RegExp(`^consentgate purge: invalid_option: the embedded database in .* is open in process ${process.pid}`),
    );
    assert.match(line, /--database postgres/);
    assert.match(line, /DATABASE_URL/);
    assert.doesNotMatch(line, /database: "postgres/, "no code option: the person reading this is not writing code");
  });

  test("a server that refuses connections: the code, the database without its password, and what to check", async () => {
    const { code, stderr } = await consentgate(
      ["report", "EU", ...policies, "--database", "postgres://app:hunter2@127.0.0.1:1/app"],
      await folder(),
    );
    assert.equal(code, 1, stderr);
    const line = oneLine(stderr);
    assert.match(
      line,
      /^consentgate report: database_unavailable: cannot open the database postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/app: .*ECONNREFUSED/,
    );
    assert.ok(!line.includes("hunter2"));
  });

  test("a database that does not exist on the server", {
    skip: !onPostgres && "needs a PostgreSQL server",
  }, async () => {
    const missing = new URL(process.env.TEST_DATABASE_URL!);
    missing.pathname = "/consentgate_no_such_database";
    const { code, stderr } = await consentgate(
      ["report", "EU", ...policies, "--database", missing.toString()],
      await folder(),
    );
    assert.equal(code, 1, stderr);
    assert.match(
      oneLine(stderr),
      /^consentgate report: database_unavailable: .*consentgate_no_such_database.*does not exist/,
    );
  });

  // That the app's own secret still opens the database after a refusal is test/store/secret-fingerprint.test.ts's.
  test("a secret that is not the app's is refused by purge and verify", async () => {
    // The app's database: PGlite files in the working directory, or the test's PostgreSQL database.
    const cwd = await folder();
    const database = db ? ["--database", db.option] : [];
    const first = await consentgate(["purge", ...policies, ...database], cwd, { CONSENTGATE_SECRET: SECRET_A });
    assert.equal(first.code, 0, first.stderr);

    for (const command of [["purge"], ["verify", "EU"]]) {
      const wrong = await consentgate([...command, ...policies, ...database], cwd, { CONSENTGATE_SECRET: SECRET_B });
      assert.equal(wrong.code, 1, wrong.stderr);
      assert.equal(wrong.stdout, "", "nothing done under the wrong key");
      assert.match(
        oneLine(wrong.stderr),
        new RegExp(`^consentgate ${command[0]}: secret_mismatch: .*check CONSENTGATE_SECRET`),
      );
    }
  });
});
