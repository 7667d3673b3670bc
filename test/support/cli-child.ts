/**
 * The child end of cliIn() (child.ts): runs `consentgate` commands through
 * run(), one message at a time, in the working directory it was started in.
 * Each message may set or unset environment variables for its command only.
 */
import { run } from "../../src/cli/run.ts";

interface Call {
  argv: string[];
  env: Record<string, string | undefined>;
}

process.on("message", async ({ argv, env }: Call) => {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  setEnv(env);
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await run(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
    process.send!({ code, out, err });
  } catch (error) {
    process.send!({ threw: (error as Error)?.stack ?? String(error) });
  } finally {
    setEnv(saved);
  }
});

function setEnv(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}
