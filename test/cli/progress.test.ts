/**
 * `consentgate purge` over a million expired interactions: a progress bar
 * with rows/s on stderr when stderr is a terminal (a real pseudo-terminal,
 * from util-linux's `script`), and nothing but the summary in a pipe.
 *
 * The million is on PostgreSQL (TEST_DATABASE_URL). On PGlite, a
 * single-threaded database in WebAssembly, the same run takes minutes, so it
 * purges 20 000 rows there (4 statements of 5 000): the bar, the count and
 * the empty table are checked the same way.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { TEST_SECRET } from "../support/app.ts";
import { runFile } from "../support/child.ts";
import { type PersistentDatabase, onPostgres, persistentDatabase, testStore } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { type Scope, suiteScope } from "../support/scope.ts";
import { mkdir, writeFile } from "node:fs/promises";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = path.join(root, "bin", "consentgate.js");
const SCRIPT = "/usr/bin/script";
const ROWS = onPostgres ? 1_000_000 : 20_000;
const TIMEOUT = 180_000;
/** Any ANSI escape sequence: what a bar or a hidden cursor would leave in a pipe. */
const ESCAPE = /\u001b\[/;

describe(`consentgate purge progress on ${onPostgres ? "PostgreSQL" : "PGlite"} (${ROWS} rows)`, () => {
  const suite = suiteScope();
  let db: PersistentDatabase;
  let args: string[];
  const env = {
    CONSENTGATE_SECRET: TEST_SECRET,
    // tsx reads tsconfig.json from the working directory: name the repo's (as runFile does).
    TSX_TSCONFIG_PATH: path.join(root, "tsconfig.json"),
  };
  before(async () => {
    db = await persistentDatabase(suite);
    const policies = path.join(db.directory, "policies");
    await mkdir(policies);
    await writeFile(path.join(policies, "policy.yaml"), JSON.stringify(testPolicy()));
    args = ["purge", "--policies", policies, ...(onPostgres ? ["--database", db.option] : [])];
  });

  test("on a terminal: a bar with rows and rows/s, then the summary; the table is empty", {
    skip: !existsSync(SCRIPT) && `${SCRIPT} (util-linux) is not installed: no pseudo-terminal to run the CLI on`,
  }, async (ctx) => {
    await seedExpired(ctx, db, ROWS);
    const line = [process.execPath, bin, ...args].map(shellQuoted).join(" ");
    // script gives the command a pseudo-terminal for stdin, stdout and stderr, and copies what it shows to ours.
    const { code, output } = await onTerminal(line, db.directory, env);
    assert.equal(code, 0, output);
    const shown = withoutEscapes(output);
    assert.match(shown, new RegExp(`purge \\[[^\\]]*\\] 100% \\| ${ROWS}/${ROWS} rows \\| \\d+ rows/s`), shown);
    assert.match(
      shown,
      new RegExp(`Deleted ${ROWS} interactions and 0 empty windows; logged per region as purge.ran.`),
    );
    assert.match(output, ESCAPE, "a terminal gets the bar's escape codes");
    assert.equal(await interactions(ctx, db), 0);
  });

  test("in a pipe: no progress and no escape codes, only the summary on stdout", async (ctx) => {
    await seedExpired(ctx, db, 2_000);
    const { code, stdout, stderr } = await runFile(bin, args, { cwd: db.directory, env, timeoutMs: TIMEOUT });
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
    assert.doesNotMatch(stdout, ESCAPE);
    assert.deepEqual(stdout.split("\n"), [
      "region  purpose  expired  out of window",
      "------  -------  -------  -------------",
      "EU      service  2000     0",
      "Deleted 2000 interactions and 0 empty windows; logged per region as purge.ran.",
      "",
    ]);
    assert.equal(await interactions(ctx, db), 0);
  });
});

/** `rows` service plays that expired yesterday, 20 (the purpose's window) per subject, written in one statement. */
async function seedExpired(scope: Scope, db: PersistentDatabase, rows: number): Promise<void> {
  const store = await testStore(scope, db);
  try {
    await store.connection.query(`
      INSERT INTO interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", source, "legalBasis", "policyVersion", region)
      SELECT 'bulk-' || (i / 20), 'service', i % 20, i % 20, 'play', '{}'::jsonb,
             now() - interval '8 days', now() - interval '1 day', 'legal-basis', 'contract', 'seeded', 'EU'
      FROM generate_series(0, ${rows - 1}) AS i`);
  } finally {
    // PGlite's files are one process's at a time: the CLI opens them next.
    await store.close();
  }
}

async function interactions(scope: Scope, db: PersistentDatabase): Promise<number> {
  const store = await testStore(scope, db);
  try {
    const [row] = await store.connection.query<{ n: number }>(`SELECT count(*)::int AS n FROM interactions`);
    return row!.n;
  } finally {
    await store.close();
  }
}

function onTerminal(commandLine: string, cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(SCRIPT, ["-qfec", commandLine, "/dev/null"], {
      cwd,
      env: { ...withoutStartupVariables(process.env), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the purge on a terminal did not exit within ${TIMEOUT} ms:\n${output}`));
    }, TIMEOUT);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function withoutStartupVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { DATABASE_URL: _url, CONSENTGATE_SECRET: _secret, DEBUG: _debug, ...rest } = env;
  return rest;
}

/** What a terminal shows of the bar's redraws, as text: escape sequences and carriage returns out. */
function withoutEscapes(text: string): string {
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "\n");
}

function shellQuoted(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
