/** What every `consentgate <command>` provides, so the dispatcher can list, run and explain them alike. */

/** Where a command writes. Tests capture it, the bin writes to the process streams (run.ts). */
export interface Terminal {
  /** One line on stdout. */
  out(line: string): void;
  /** One line on stderr. */
  err(line: string): void;
  /** Text on stdout as it is made (an export), waiting while the reader is behind. */
  write(chunk: string): Promise<void>;
  /** stderr when it is a terminal: where progress is drawn. Absent in a pipe or a file, and in tests. */
  progress?: NodeJS.WritableStream;
}

/**
 * What a command writes through: the terminal, and whether `--json` was
 * given. run.ts takes `--json` out of every command's arguments, so a command
 * never parses it: it hands its result to answer() and lets it choose.
 */
export interface Io extends Terminal {
  /**
   * --json: stdout carries one JSON document (the result), stderr one
   * `{ "error": { "code", "message" } }` line when the command fails, and
   * nothing else is written (no tables, no progress).
   */
  readonly json: boolean;
}

export interface Command {
  /** Its arguments, as usage text shows them after the command name: "[folder]". (--json is every command's.) */
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

/**
 * A command's result: with --json the value as JSON (maps as objects, big
 * integers as text; dates as ISO 8601), else `text` writes it for people.
 */
export function answer(io: Io, value: unknown, text: () => void): void {
  if (io.json) io.out(JSON.stringify(value, jsonValue, 2));
  else text();
}

/** A failure the command explains itself (a policy's problems): with --json one error line, else `lines` on stderr. */
export function failure(io: Io, error: CliError, lines: readonly string[]): void {
  if (io.json) io.err(JSON.stringify({ error }));
  else for (const line of lines) io.err(line);
}

/** What --json prints on stderr for a failure, under "error". `code` is stable: a ConsentgateError's, or usage / failed. */
export interface CliError {
  code: string;
  message: string;
  [detail: string]: unknown;
}

function jsonValue(_key: string, value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value);
  if (typeof value === "bigint") return String(value);
  return value;
}
