/**
 * createConsentgate: validates options, loads the policy, opens the store,
 * and hands back the pieces a host app mounts.
 */
import { randomBytes } from "node:crypto";
import type { ErrorRequestHandler, RequestHandler, Router } from "express";
import { createBlockedWrites } from "./audit/blocked-writes.ts";
import type { Core } from "./core.ts";
import { silentLogger } from "./logger.ts";
import { createMiddleware, createPurposeGate } from "./middleware/middleware.ts";
import { answerErrors } from "./middleware/respond.ts";
import { compileMinimizer } from "./minimize/index.ts";
import { type ConsentgateOptions, validateOptions } from "./options.ts";
import { loadPolicy } from "./policy/load.ts";
import type { Policy } from "./policy/types.ts";
import { createRightsRouter } from "./rights/router.ts";
import { createKeyring } from "./signatures/hmac.ts";
import { createConsentCache } from "./store/consent-cache.ts";
import { parseDatabase } from "./store/connection.ts";
import { createInteractionStore } from "./store/interactions.ts";
import { type StoreAccess, createStoreAccess } from "./store/access.ts";
import { openStore } from "./store/store.ts";
import "./middleware/request.ts";

export interface Consentgate {
  /** The compiled policy in force. */
  readonly policy: Policy;
  /** Attaches req.privacy, reads GPC, and enforces the policy's routes map on every write. */
  middleware(): RequestHandler;
  /** Route-level gate for one purpose. Throws `unknown_purpose` at once for a purpose the policy lacks. */
  purpose(name: string): RequestHandler;
  /** The privacy endpoints (consents, export, erasure, requests, admin). */
  router(): Router;
  /** Answers errors raised in front of the gate (body parsers) with the gate's JSON error body. */
  errorHandler(): ErrorRequestHandler;
  /** Typed access to what is held, for the host app. */
  readonly store: StoreAccess;
  /** Stops jobs and closes the database. Safe to call more than once. */
  close(): Promise<void>;
}

export async function createConsentgate(options: ConsentgateOptions = {}): Promise<Consentgate> {
  const opts = validateOptions(options);
  const database = parseDatabase(opts.database);
  const policy = await loadPolicy(opts.policies ?? "./policies");
  // In memory nothing outlives the process, so a throwaway key is safe there.
  const keyring = createKeyring(opts.secret ?? randomBytes(32).toString("hex"));
  const logger = opts.logger ?? silentLogger;
  const minimizers = new Map(
    Object.values(policy.purposes).map((purpose) => [purpose.name, compileMinimizer(purpose.fields, { hashKey: keyring.key("field-hash") })]),
  );
  const store = await openStore(database, opts.poolSize === undefined ? {} : { poolSize: opts.poolSize });
  const consents = createConsentCache(store.connection, { logger });
  const interactions = createInteractionStore(store.connection);
  logger.info({ database: database.kind, migrated: store.migrated, policyVersion: policy.version }, "consentgate: ready");

  const core: Core = {
    policy,
    connection: store.connection,
    consents,
    interactions,
    keyring,
    minimizers,
    blockedWrites: createBlockedWrites(),
    logger,
    now: opts.now ?? (() => new Date()),
    subjectOf: opts.subject ?? (() => undefined),
    actorOf: opts.actor ?? (() => undefined),
    regionOf: opts.region,
  };

  let closing: Promise<void> | undefined;
  const now = core.now;
  return {
    policy,
    middleware: () => createMiddleware(core),
    purpose: (name) => createPurposeGate(core, name),
    router: () => createRightsRouter(core),
    errorHandler: () => answerErrors,
    store: createStoreAccess(store.connection, now),
    close: () =>
      (closing ??= (async () => {
        // Writes already acknowledged to callers are committed; wait for those still in a batch.
        await interactions.drain();
        await consents.close();
        await store.close();
      })()),
  };
}
