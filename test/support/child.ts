/**
 * Runs an ES module source in a child Node with tsx, for tests that must see
 * a process exit by itself (no handle left open). Fails on timeout.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export function runNode(source: string, env: Record<string, string>, timeoutMs: number, cwd = process.cwd()) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    // Resolve tsx from this repo, so the child can run in any working directory.
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), "--input-type=module", "-e", source], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child did not exit within ${timeoutMs} ms (an open handle keeps it alive)\n${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Variables a child inherits from the test run that would change how the example or the CLI starts. */
const STARTUP_VARIABLES = ["DATABASE_URL", "CONSENTGATE_SECRET", "PORT", "DEBUG"];

/**
 * Runs a TypeScript file in a child Node with tsx, as `npm start` or the
 * `consentgate` bin would, in `cwd`. The child sees none of the test run's
 * DATABASE_URL, CONSENTGATE_SECRET, PORT or DEBUG unless `env` sets them.
 * Fails when the child has not exited within `timeoutMs`.
 */
export function runFile(file: string, args: readonly string[], options: { env?: Record<string, string>; cwd: string; timeoutMs: number }) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of STARTUP_VARIABLES) delete env[name];
  Object.assign(env, options.env);
  // tsx reads tsconfig.json from the working directory; name the repo's, so that "consentgate"
  // resolves to the source (its "paths") as under `npm start`, whatever `cwd` the test gives.
  env.TSX_TSCONFIG_PATH ??= fileURLToPath(new URL("../../tsconfig.json", import.meta.url));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), file, ...args], { cwd: options.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} did not exit within ${options.timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
