/**
 * createConsentgate: validates options, loads the policy, opens the store,
 * and hands back the pieces a host app mounts.
 */
import { randomBytes } from "node:crypto";
import type { ErrorRequestHandler, RequestHandler, Router } from "express";
import { createBlockedWrites, flushBlockedWrites } from "./audit/blocked-writes.ts";
import { createComplianceLog } from "./audit/log.ts";
import { logPolicyLoaded } from "./audit/policy-loaded.ts";
import type { Core } from "./core.ts";
import { createLeaseCoordinator } from "./jobs/coordinator.ts";
import { type RunJob, createJobRunner } from "./jobs/run.ts";
import { startLocalTask, startScheduler } from "./jobs/scheduler.ts";
import { resolveSchedules } from "./jobs/schedules.ts";
import { silentLogger } from "./logger.ts";
import { createMiddleware, createPurposeGate } from "./middleware/middleware.ts";
import { answerErrors } from "./middleware/respond.ts";
import { compileMinimizer } from "./minimize/index.ts";
import { type ConsentgateOptions, checkedActor, validateOptions } from "./options.ts";
import { loadPolicy } from "./policy/load.ts";
import type { Policy } from "./policy/types.ts";
import { type PrivacyCenterOptions, createPrivacyCenter } from "./privacy-center/index.ts";
import { type DataSource, createDataSources } from "./rights/data-sources.ts";
import { retryPartialErasures } from "./rights/erasure.ts";
import { createRightsLimiters } from "./rights/limits.ts";
import { createRightsRouter } from "./rights/router.ts";
import { createKeyring } from "./signatures/hmac.ts";
import { createConsentCache } from "./store/consent-cache.ts";
import { parseDatabase } from "./store/connection.ts";
import { createInteractionStore } from "./store/interactions.ts";
import { createRequests } from "./store/requests.ts";
import { checkSecretFingerprint } from "./store/secret-fingerprint.ts";
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
  /** A drop-in page where signed-in users see and change their choices, download and erase their data. */
  privacyCenter(options?: PrivacyCenterOptions): Router;
  /** Answers errors raised in front of the gate (body parsers) with the gate's JSON error body. */
  errorHandler(): ErrorRequestHandler;
  /** Joins one of the host app's own tables to export and erasure. */
  registerDataSource(source: DataSource): void;
  /** Typed access to what is held, for the host app. */
  readonly store: StoreAccess;
  /**
   * Runs one job now, on this instance, without election (for a host's own
   * scheduler, the CLI and tests): purge, deadlines, compliance-report,
   * log-retention or erasure-retry. `jobs: true` schedules them instead.
   */
  runJob: RunJob;
  /** Stops jobs and closes the database. Safe to call more than once. */
  close(): Promise<void>;
}

export async function createConsentgate(options: ConsentgateOptions = {}): Promise<Consentgate> {
  const opts = validateOptions(options);
  const database = parseDatabase(opts.database);
  const policy = await loadPolicy(opts.policies ?? "./policies");
  const schedules = resolveSchedules(policy, opts.schedules);
  // In memory nothing outlives the process, so a throwaway key is safe there.
  const keyring = createKeyring(opts.secret ?? randomBytes(32).toString("hex"));
  const logger = opts.logger ?? silentLogger;
  const minimizers = new Map(
    Object.values(policy.purposes).map((purpose) => [purpose.name, compileMinimizer(purpose.fields, { hashKey: keyring.key("field-hash") })]),
  );
  const store = await openStore(database, opts.poolSize === undefined ? {} : { poolSize: opts.poolSize });
  try {
    await checkSecretFingerprint(store.connection, keyring.fingerprint);
  } catch (error) {
    await store.close();
    throw error;
  }
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
    requests: createRequests(store.connection),
    dataSources: createDataSources(),
    audit: createComplianceLog(store.connection, { pseudonym: keyring.pseudonym, chainKey: keyring.key("log-chain"), now: () => core.now() }),
    logger,
    now: opts.now ?? (() => new Date()),
    subjectOf: opts.subject ?? (() => undefined),
    actorOf: checkedActor(opts.actor, logger),
    regionOf: opts.region,
  };

  try {
    await logPolicyLoaded(store.connection, core.audit, policy);
  } catch (error) {
    await consents.close();
    await store.close();
    throw error;
  }
  const runJob = createJobRunner(core, { retryPartialErasures });
  const scheduler = opts.jobs ? startScheduler({ schedules, run: runJob, coordinator: createLeaseCoordinator(store.connection, { logger }), logger }) : undefined;
  const flushBlocked = startLocalTask("0 * * * *", "write.blocked flush", () => flushBlockedWrites(core.blockedWrites, core.audit), logger);

  const limiters = createRightsLimiters(opts.limits, logger);
  let closing: Promise<void> | undefined;
  const now = core.now;
  return {
    policy,
    middleware: () => createMiddleware(core),
    purpose: (name) => createPurposeGate(core, name),
    router: () => createRightsRouter(core, limiters),
    privacyCenter: (options) => createPrivacyCenter(core, options),
    errorHandler: () => answerErrors,
    registerDataSource: (source) => core.dataSources.register(source),
    store: createStoreAccess({ connection: store.connection, interactions, requests: core.requests, audit: core.audit, now }),
    runJob,
    close: () =>
      (closing ??= (async () => {
        await scheduler?.stop();
        // Writes already acknowledged to callers are committed; wait for those still in a batch.
        await interactions.drain();
        await flushBlocked.stop();
        await consents.close();
        await store.close();
      })()),
  };
}
