/**
 * `npm start` when it cannot start: one line on stderr saying what to change,
 * exit code 1, no stack trace, and nothing left holding the embedded database.
 * The example runs as a child process, as `npm start` runs it, in a scratch
 * folder of its own (where it keeps its embedded database and its key).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runFile } from "../support/child.ts";
import { type TestDatabase, onPostgres, testDatabase } from "../support/database.ts";

const server = fileURLToPath(new URL("../../examples/music-app/server.ts", import.meta.url));
const TIMEOUT = 90_000;

/** The one line the example printed, after checking it printed exactly one and no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  return lines[0]!;
}

describe(`npm start when it cannot start, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  let scratch: string;
  let n = 0;
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "consentgate-start-"));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });
  /** A fresh working directory for one start of the example. */
  async function folder(): Promise<string> {
    const dir = path.join(scratch, `run-${++n}`);
    await mkdir(dir);
    return dir;
  }

  test("a port already in use: exit 1 naming the port and PORT, with the gate closed first", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    const port = (holder.address() as AddressInfo).port;
    let db: TestDatabase | undefined;
    try {
      db = onPostgres ? await testDatabase() : undefined;
      const cwd = await folder();
      const env: Record<string, string> = { PORT: String(port), ...(db ? { DATABASE_URL: db.option } : {}) };
      const { code, stdout, stderr } = await runFile(server, [], { cwd, env, timeoutMs: TIMEOUT });
      assert.equal(code, 1, stderr);
      assert.doesNotMatch(stdout, /listening/);
      const line = oneLine(stderr);
      assert.match(line, new RegExp(`port ${port} is already in use`));
      assert.match(line, /PORT=\d+ npm start/);
      if (!db)
        assert.equal(
          existsSync(path.join(cwd, ".consentgate", "pgdata.lock")),
          false,
          "the embedded database's lock was released",
        );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
      await db?.drop();
    }
  });

  test("the embedded database held by another process: the code, the owner, and what to set instead", async () => {
    const cwd = await folder();
    await mkdir(path.join(cwd, ".consentgate"));
    // This test process is alive and is not the child: to the child, the database is another process's.
    await writeFile(path.join(cwd, ".consentgate", "pgdata.lock"), String(process.pid));
    const { code, stderr } = await runFile(server, [], { cwd, timeoutMs: TIMEOUT });
    assert.equal(code, 1, stderr);
    const line = oneLine(stderr);
    assert.match(
      line,
      new RegExp(
        `^music app: cannot start: invalid_option: the embedded database in .* is open in process ${process.pid}`,
      ),
    );
    assert.match(line, /DATABASE_URL=postgres/);
  });

  test("a database that refuses connections: the code, the database without its password, and what to check", async () => {
    const cwd = await folder();
    const { code, stderr } = await runFile(server, [], {
      cwd,
      env: { DATABASE_URL: "postgres://app:hunter2@127.0.0.1:1/app" },
      timeoutMs: TIMEOUT,
    });
    assert.equal(code, 1, stderr);
    const line = oneLine(stderr);
    assert.match(
      line,
      /^music app: cannot start: database_unavailable: cannot open the database postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/app: .*ECONNREFUSED/,
    );
    assert.match(line, /DATABASE_URL/);
    assert.ok(!line.includes("hunter2"));
  });
});
