#!/usr/bin/env node
/** The `consentgate` bin (package.json "bin"); everything else is in run.ts. */
import { run } from "./run.ts";

// `consentgate check --json | head` closes the pipe early: the reader had enough, which is not a failure.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit();
});

process.exitCode = await run(process.argv.slice(2));
