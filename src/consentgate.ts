/**
 * createConsentgate: resolves the options once (src/options.ts), loads the
 * policy, opens the store, wires each part with only what it uses, and hands
 * back the pieces a host app mounts.
 */
import type { ErrorRequestHandler, Request, RequestHandler, Router } from "express";
import { createBlockedWrites, flushBlockedWrites } from "./audit/blocked-writes.ts";
import { createComplianceLog } from "./audit/log.ts";
import { logPolicyLoaded } from "./audit/policy-loaded.ts";
import { answerErrors } from "./errors.ts";
import { createLeaseCoordinator } from "./jobs/coordinator.ts";
import { type JobRunnerDeps, type RunJob, createJobRunner } from "./jobs/run.ts";
import { startLocalTask, startScheduler } from "./jobs/scheduler.ts";
import { resolveSchedules } from "./jobs/schedules.ts";
import type { GateDeps } from "./middleware/admit.ts";
import { createMiddleware, createPurposeGate } from "./middleware/middleware.ts";
import { createPrivacy } from "./middleware/privacy.ts";
import { compileMinimizer } from "./minimize/index.ts";
import { type ConsentgateOptions, resolveConfiguration } from "./options.ts";
import { loadPolicy } from "./policy/load.ts";
import type { Policy } from "./policy/types.ts";
import { type PrivacyCenterDeps, type PrivacyCenterOptions, createPrivacyCenter } from "./privacy-center/index.ts";
import { type DataSource, createDataSources } from "./rights/data-sources.ts";
import { retryPartialErasures } from "./rights/erasure.ts";
import { createRightsLimiters } from "./rights/limits.ts";
import { type RightsDeps, createRightsRouter } from "./rights/router.ts";
import { createKeyring } from "./signatures/hmac.ts";
import { type StoreAccess, createStoreAccess } from "./store-access.ts";
import { createConsentCache } from "./store/consent-cache.ts";
import { createInteractionStore } from "./store/interactions.ts";
import { createRequests } from "./store/requests.ts";
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
  const config = resolveConfiguration(options);
  const { logger, now } = config;
  const policy = await loadPolicy(config.policies);
  const schedules = resolveSchedules(policy, config.schedules);
  const keyring = createKeyring(config.secret);
  const minimizers = new Map(
    Object.values(policy.purposes).map((purpose) => [purpose.name, compileMinimizer(purpose.fields, { hashKey: keyring.key("field-hash") })]),
  );
  const store = await openStore(config.database, { poolSize: config.poolSize });
  const { connection } = store;
  const consents = createConsentCache(connection, { logger });
  const interactions = createInteractionStore(connection);
  logger.info({ database: config.database.kind, migrated: store.migrated, policyVersion: policy.version }, "consentgate: ready");

  const blockedWrites = createBlockedWrites();
  const requests = createRequests(connection);
  const dataSources = createDataSources();
  const audit = createComplianceLog(connection, { pseudonym: keyring.pseudonym, chainKey: keyring.key("log-chain"), now });

  // Each part gets only what it uses (its own dependency interface), so none of them imports another.
  const gate: GateDeps = {
    policy,
    consents,
    interactions,
    minimizers,
    blockedWrites,
    now,
    subjectOf: config.subject,
    actorOf: config.actor,
    regionOf: config.region,
  };
  const privacy = (req: Request) => createPrivacy(gate, req);
  const rights: RightsDeps = { policy, connection, consents, interactions, requests, dataSources, keyring, audit, logger, now, privacy };
  const jobs: JobRunnerDeps = { policy, connection, audit, blockedWrites, logger, now, retryErasures: () => retryPartialErasures(rights) };
  const center: PrivacyCenterDeps = { policy, connection, consents, logger, now, privacy };

  try {
    await logPolicyLoaded(connection, audit, policy);
  } catch (error) {
    await consents.close();
    await store.close();
    throw error;
  }
  const runJob = createJobRunner(jobs);
  const scheduler = config.jobs ? startScheduler({ schedules, run: runJob, coordinator: createLeaseCoordinator(connection, { logger }), logger }) : undefined;
  const flushBlocked = startLocalTask("0 * * * *", "write.blocked flush", () => flushBlockedWrites(blockedWrites, audit), logger);

  const limiters = createRightsLimiters(config.limits, logger);
  let closing: Promise<void> | undefined;
  return {
    policy,
    middleware: () => createMiddleware(gate),
    purpose: (name) => createPurposeGate(gate, name),
    router: () => createRightsRouter(rights, limiters),
    privacyCenter: (options) => createPrivacyCenter(center, options),
    errorHandler: () => answerErrors,
    registerDataSource: (source) => dataSources.register(source),
    store: createStoreAccess({ connection, interactions, requests, audit, now }),
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
