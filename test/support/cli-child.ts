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
  // One text, as a terminal shows it: lines (out) and what is written as it is made (an export's chunks).
  let stdout = "";
  const err: string[] = [];
  try {
    const code = await run(argv, {
      out: (line) => (stdout += `${line}\n`),
      err: (line) => err.push(line),
      write: async (chunk) => {
        stdout += chunk;
      },
    });
    const out = stdout === "" ? [] : stdout.replace(/\n$/, "").split("\n");
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
