/**
 * Child Node processes with tsx: for tests that must see a process exit by
 * itself (no handle left open), and for the command line run in a working
 * directory of the test's own (where it looks for ./policies and
 * ./.consentgate), without moving this process's.
 */
import { fork, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli/run.ts";
import { TEST_SECRET } from "./app.ts";
import { type PersistentDatabase, onPostgres, persistentDatabase } from "./database.ts";
import { type Scope, onCleanup } from "./scope.ts";

type ChildResult = { code: number | null; stdout: string; stderr: string };

/** Node with tsx (resolved from this repo, so any working directory works) and `args`; its output once it exits. */
function runChild(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number, what: string) {
  return new Promise<ChildResult>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), ...args], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs an ES module source in a child Node; fails on timeout (an open handle keeps it alive). */
export function runNode(source: string, env: Record<string, string>, timeoutMs: number, cwd = process.cwd()) {
  return runChild(["--input-type=module", "-e", source], cwd, { ...process.env, ...env }, timeoutMs, "child");
}

/** Variables a child inherits from the test run that would change how the example or the CLI starts. */
const STARTUP_VARIABLES = ["DATABASE_URL", "CONSENTGATE_SECRET", "PORT", "DEBUG"];

/**
 * Runs a TypeScript file in a child Node with tsx, as `npm start` or the
 * `consentgate` bin would, in `cwd`. The child sees none of the test run's
 * DATABASE_URL, CONSENTGATE_SECRET, PORT or DEBUG unless `env` sets them.
 * Fails when the child has not exited within `timeoutMs`.
 */
export function runFile(
  file: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd: string; timeoutMs: number },
) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of STARTUP_VARIABLES) delete env[name];
  Object.assign(env, options.env);
  // tsx reads tsconfig.json from the working directory; name the repo's, so that "consentgate"
  // resolves to the source (its "paths") as under `npm start`, whatever `cwd` the test gives.
  env.TSX_TSCONFIG_PATH ??= fileURLToPath(new URL("../../tsconfig.json", import.meta.url));
  return runChild([file, ...args], options.cwd, env, options.timeoutMs, file);
}

export interface CliResult {
  code: number;
  out: string[];
  err: string[];
}

/**
 * One `consentgate` command line run in this process, in its working
 * directory, for commands that open no database: stdout as lines (out) with
 * what is written as it is made appended to them, stderr as lines (err).
 */
export async function cliHere(...argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    write: async (chunk) => void out.push(chunk),
  });
  return { code, out, err };
}

/** Runs one `consentgate` command line; `env` sets (or, given undefined, unsets) variables for it alone. */
export type Cli = (argv: readonly string[], env?: Record<string, string | undefined>) => Promise<CliResult>;

/**
 * `consentgate` commands run through the CLI's run() in a child process whose
 * working directory is `cwd`, one at a time, as in-process run() calls
 * would; the child stops when `scope` ends. A command that throws rejects
 * with the child's stack.
 */
export async function cliIn(scope: Scope, cwd: string): Promise<Cli> {
  const child = fork(new URL("./cli-child.ts", import.meta.url), [], {
    cwd,
    execArgv: ["--import", import.meta.resolve("tsx")],
    serialization: "advanced",
    // Its stdout is this test file's report stream: anything printed there goes to stderr.
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  child.stdout!.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  onCleanup(scope, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.disconnect();
    // Without its channel it has nothing left to do; one that hangs anyway is killed.
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  let queue: Promise<unknown> = Promise.resolve();
  return (argv, env = {}) => {
    const call = queue.then(
      () =>
        new Promise<CliResult>((resolve, reject) => {
          const exited = (code: number | null) =>
            reject(new Error(`the CLI process exited (${code}) during consentgate ${argv.join(" ")}`));
          child.once("exit", exited);
          child.once("message", (answer: CliResult | { threw: string }) => {
            child.off("exit", exited);
            if ("threw" in answer) reject(Object.assign(new Error(answer.threw), { stack: answer.threw }));
            else resolve(answer);
          });
          child.send({ argv: [...argv], env });
        }),
    );
    queue = call.catch(() => {});
    return call;
  };
}

/** An app's database and policy as an operator's terminal sees them (see cliApp). */
export interface CliApp {
  db: PersistentDatabase;
  /** A policy folder holding `policy`. */
  policies: string;
  /** The CLI's arguments naming the database: none for PGlite files, found in its working directory. */
  database: string[];
  /**
   * The commands' environment: the app's secret and no DATABASE_URL. A test
   * may change it for one command and put it back.
   */
  env: Record<string, string | undefined>;
  /** `consentgate …` running in the database's folder, with `env`. */
  cli: (...argv: string[]) => Promise<CliResult>;
}

/**
 * A database that outlives its gates, a policy folder with `policy` in it
 * (JSON is YAML), and the CLI running where the embedded database's files
 * are: what the CLI tests start from. Removed when `scope` ends.
 */
export async function cliApp(scope: Scope, policy: Record<string, unknown>): Promise<CliApp> {
  const db = await persistentDatabase(scope);
  const policies = path.join(db.directory, `policies-${randomUUID().slice(0, 8)}`);
  await mkdir(policies);
  await writeFile(path.join(policies, "policy.yaml"), JSON.stringify(policy));
  const database = onPostgres ? ["--database", db.option] : [];
  const consentgate = await cliIn(scope, db.directory);
  const env: Record<string, string | undefined> = { CONSENTGATE_SECRET: TEST_SECRET, DATABASE_URL: undefined };
  return { db, policies, database, env, cli: (...argv) => consentgate(argv, env) };
}
