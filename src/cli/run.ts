/**
 * The `consentgate` command line: a table of commands and a dispatcher.
 * In-process (run returns the exit code) so that tests drive it directly;
 * main.ts is only the bin around it.
 */
import { ConsentgateError } from "../errors.ts";
import { didYouMean } from "../policy/suggest.ts";
import { type Command, type Io, UsageError } from "./command.ts";
import { check } from "./commands/check.ts";
import { insights } from "./commands/insights.ts";
import { learning } from "./commands/learning.ts";
import { purge } from "./commands/purge.ts";
import { report } from "./commands/report.ts";
import { verify } from "./commands/verify.ts";
import { verifyReceipt } from "./commands/verify-receipt.ts";

const COMMANDS: Readonly<Record<string, Command>> = {
  check,
  insights,
  learning,
  purge,
  report,
  verify,
  "verify-receipt": verifyReceipt,
};

const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Exit codes: 0 done, 1 the command found problems or could not run, 2 wrong usage. */
export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name = "", ...args] = argv;
  if (name === "help" || name === "--help" || name === "-h") {
    usage().forEach((line) => io.out(line));
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    if (name !== "") io.err(`unknown command "${name}"${didYouMean(name, Object.keys(COMMANDS))}`);
    usage().forEach((line) => io.err(line));
    return 2;
  }
  if (args.includes("--help") || args.includes("-h")) {
    io.out(`usage: consentgate ${name} ${command.usage}`);
    io.out(`  ${command.summary}`);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (!isUsageError(error)) {
      // A database that cannot be reached, a lock held, a wrong secret: the command could not do its work.
      // One line saying why (with the code, whose message says what to check), not a stack trace;
      // DEBUG=1 adds the stack of an error Consentgate did not expect.
      const reason =
        error instanceof ConsentgateError
          ? `${error.code}: ${error.message}`
          : error instanceof Error
            ? error.message
            : String(error);
      io.err(`consentgate ${name}: ${withoutPasswords(reason)}`);
      if (process.env.DEBUG && !(error instanceof ConsentgateError) && error instanceof Error && error.stack)
        io.err(withoutPasswords(error.stack));
      return 1;
    }
    io.err(error.message);
    io.err(`usage: consentgate ${name} ${command.usage}`);
    return 2;
  }
}

/** Driver messages may quote the connection string they were given. */
function withoutPasswords(message: string): string {
  return message.replace(/\/\/([^:@/\s]+):[^@/\s]*@/g, "//$1:***@");
}

function usage(): string[] {
  const commands = Object.entries(COMMANDS).flatMap(([name, command]) => [
    `  ${name} ${command.usage}`,
    `      ${command.summary}`,
  ]);
  return ["usage: consentgate <command> [options]", "", "commands:", ...commands];
}

/** Our own UsageError, or node:util parseArgs rejecting an unknown option or a missing value. */
function isUsageError(error: unknown): error is Error {
  return (
    error instanceof UsageError ||
    (error instanceof TypeError && String((error as NodeJS.ErrnoException).code).startsWith("ERR_PARSE_ARGS"))
  );
}
