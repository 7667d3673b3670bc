/**
 * createConsentgate: validates options, opens the store, and hands back the
 * pieces a host app mounts.
 */
import { randomBytes } from "node:crypto";
import { ConsentgateError } from "./errors.ts";
import { silentLogger } from "./logger.ts";
import { type ConsentgateOptions, validateOptions } from "./options.ts";
import { parseDatabase } from "./store/connection.ts";
import { openStore } from "./store/store.ts";

export interface Consentgate {
  close(): Promise<void>;
}

export async function createConsentgate(options: ConsentgateOptions = {}): Promise<Consentgate> {
  const opts = validateOptions(options);
  const database = parseDatabase(opts.database);
  // In memory nothing outlives the process, so a throwaway key is safe there.
  const secret = opts.secret ?? randomBytes(32).toString("hex");
  const logger = opts.logger ?? silentLogger;
  const store = await openStore(database, opts.poolSize === undefined ? {} : { poolSize: opts.poolSize });
  logger.info({ database: database.kind, migrated: store.migrated }, "consentgate: store open");
  void secret;
  return {
    close: () => store.close(),
  };
}

export function notImplemented(what: string): never {
  throw new ConsentgateError("not_implemented", `${what} is not implemented yet`);
}
