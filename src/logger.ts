/**
 * Consentgate logs through the host app's logger (pino's method shape) and is
 * silent by default: the host app owns its logs.
 */
/**
 * A logger with pino's method shape: an object of fields first, then the
 * message. pino, or a child logger of it, fits as is.
 *
 * @example
 * ```ts
 * import { type Logger, createConsentgate } from "consentgate";
 *
 * const line = (level: string) => (obj: object, msg?: string) => console.log(JSON.stringify({ level, msg, ...obj }));
 * const logger: Logger = { debug: () => {}, info: line("info"), warn: line("warn"), error: line("error") };
 * const gate = await createConsentgate({ database: "memory", logger });
 * ```
 */
export interface Logger {
  /** Detail for diagnosing a problem. */
  debug(obj: object, msg?: string): void;
  /** What happened: start-up, each job's result. */
  info(obj: object, msg?: string): void;
  /** Something the host should look at (a malformed actor, a lost job lease or consent listener); the gate carried on. */
  warn(obj: object, msg?: string): void;
  /** Something failed: a job, a data source, an export, the rate-limit store. */
  error(obj: object, msg?: string): void;
}

const noop = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
