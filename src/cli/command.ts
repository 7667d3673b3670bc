/** What every `consentgate <command>` provides, so the dispatcher can list, run and explain them alike. */

/** Where a command writes; one call is one line. Tests capture it, the bin writes to the process streams. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  /** Its arguments, as usage text shows them after the command name: "[folder] [--json]". */
  readonly usage: string;
  /** One line for the list of commands. */
  readonly summary: string;
  /** Resolves to the exit code; throws UsageError (or a node:util parseArgs error) for bad arguments. */
  run(args: readonly string[], io: Io): Promise<number>;
}

/** Wrong arguments: answered with the usage text and exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
