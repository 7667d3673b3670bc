/**
 * The `consentgate` command line: a table of commands and a dispatcher.
 * In-process (run returns the exit code) so that tests drive it directly;
 * main.ts is only the bin around it.
 */
import { ConsentgateError } from "../errors.ts";
import { didYouMean } from "../policy/suggest.ts";
import { type CliError, type Command, type Io, type Terminal, UsageError, failure } from "./command.ts";
import { check } from "./commands/check.ts";
import { erase } from "./commands/erase.ts";
import { exportCommand } from "./commands/export.ts";
import { insights } from "./commands/insights.ts";
import { learning } from "./commands/learning.ts";
import { purge } from "./commands/purge.ts";
import { report } from "./commands/report.ts";
import { verify } from "./commands/verify.ts";
import { verifyReceipt } from "./commands/verify-receipt.ts";

const COMMANDS: Readonly<Record<string, Command>> = {
  check,
  erase,
  export: exportCommand,
  insights,
  learning,
  purge,
  report,
  verify,
  "verify-receipt": verifyReceipt,
};

const processTerminal: Terminal = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  write: (chunk) =>
    new Promise((resolve, reject) => process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()))),
  // Progress only where someone watches: a bar's escape codes would garble a pipe or a log file.
  ...(process.stderr.isTTY ? { progress: process.stderr } : {}),
};

/**
 * Exit codes: 0 done, 1 the command found problems or could not run, 2 wrong usage.
 * `--json`, anywhere on the line, is taken out here for every command (see Io.json).
 */
export async function run(argv: readonly string[], terminal: Terminal = processTerminal): Promise<number> {
  const json = argv.includes("--json");
  const { progress, ...streams } = terminal;
  const io: Io = { ...streams, json, ...(progress && !json ? { progress } : {}) };
  const [name = "", ...args] = argv.filter((arg) => arg !== "--json");
  const fail = (error: CliError, lines: string[]) => failure(io, error, lines);
  if (name === "help" || name === "--help" || name === "-h") {
    if (json) io.out(JSON.stringify({ commands: commandList() }, null, 2));
    else usage().forEach((line) => io.out(line));
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    const reason =
      name === "" ? "name a command" : `unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS))}`;
    fail({ code: "usage", message: reason }, [...(name === "" ? [] : [reason]), ...usage()]);
    return 2;
  }
  if (args.includes("--help") || args.includes("-h")) {
    if (json)
      io.out(
        JSON.stringify({ name, usage: `consentgate ${name} ${command.usage}`, summary: command.summary }, null, 2),
      );
    else {
      io.out(`usage: consentgate ${name} ${command.usage}`);
      io.out(`  ${command.summary}`);
    }
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (!isUsageError(error)) {
      // A database that cannot be reached, a lock held, a wrong secret: the command could not do its work.
      // One line saying why (with the code, whose message says what to check), not a stack trace;
      // DEBUG=1 adds the stack of an error Consentgate did not expect.
      const known = error instanceof ConsentgateError;
      const message = withoutPasswords(error instanceof Error ? error.message : String(error));
      const lines = [`consentgate ${name}: ${known ? `${error.code}: ` : ""}${message}`];
      if (process.env.DEBUG && !known && error instanceof Error && error.stack)
        lines.push(withoutPasswords(error.stack));
      fail({ code: known ? error.code : "failed", message }, lines);
      return 1;
    }
    const usageText = `consentgate ${name} ${command.usage}`;
    fail({ code: "usage", message: error.message, usage: usageText }, [error.message, `usage: ${usageText}`]);
    return 2;
  }
}

/** Driver messages may quote the connection string they were given. */
function withoutPasswords(message: string): string {
  return message.replace(/\/\/([^:@/\s]+):[^@/\s]*@/g, "//$1:***@");
}

function commandList() {
  return Object.entries(COMMANDS).map(([name, command]) => ({ name, usage: command.usage, summary: command.summary }));
}

function usage(): string[] {
  const commands = Object.entries(COMMANDS).flatMap(([name, command]) => [
    `  ${name} ${command.usage}`,
    `      ${command.summary}`,
  ]);
  return ["usage: consentgate <command> [options] [--json]", "", "commands:", ...commands];
}

/** Our own UsageError, or node:util parseArgs rejecting an unknown option or a missing value. */
function isUsageError(error: unknown): error is Error {
  return (
    error instanceof UsageError ||
    (error instanceof TypeError && String((error as NodeJS.ErrnoException).code).startsWith("ERR_PARSE_ARGS"))
  );
}
