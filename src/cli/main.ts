#!/usr/bin/env node
/** The command line's entry point, run by the `consentgate` bin (bin/consentgate.js, built or as source); everything else is in run.ts. */
import { run } from "./run.ts";

// `consentgate check --json | head` closes the pipe early: the reader had enough, which is not a failure.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit();
});

process.exitCode = await run(process.argv.slice(2));
