/**
 * createConsentgate: resolves the options once (src/options.ts), loads the
 * policy, opens the store, wires each part with only what it uses, and hands
 * back the pieces a host app mounts.
 */
import type { Writable } from "node:stream";
import type { ErrorRequestHandler, Request, RequestHandler, Router } from "express";
import type { Registry } from "prom-client";
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
import { createPrivacy, privacyFor } from "./middleware/privacy.ts";
import { createWellKnownRouter } from "./middleware/well-known.ts";
import { type ActingAs, createDataLayer, type PrismaGateExtension } from "./data-layer/gate.ts";
import type { PrismaExtensionOptions } from "./data-layer/models.ts";
import { createStandingCheck } from "./store/standing.ts";
import { compileMinimizer } from "./minimize/index.ts";
import { type ConsentgateOptions, resolveConfiguration } from "./options.ts";
import { loadPolicy } from "./policy/load.ts";
import type { Policy } from "./policy/types.ts";
import { type PrivacyCenterDeps, type PrivacyCenterOptions, createPrivacyCenter } from "./privacy-center/index.ts";
import { type OpenApiDocument, type OpenApiOptions, openApiDocument } from "./openapi/document.ts";
import { type PrivacyConsoleDeps, type PrivacyConsoleOptions, createPrivacyConsole } from "./privacy-console/index.ts";
import { type DataSource, createDataSources } from "./rights/data-sources.ts";
import {
  type ErasureCertificate,
  type OwnTablesErased,
  erase,
  eraseOwnTables,
  retryPartialErasures,
} from "./rights/erasure.ts";
import { streamExport } from "./rights/export.ts";
import { createRightsLimiters } from "./rights/limits.ts";
import { type RightsDeps, createRightsRouter } from "./rights/router.ts";
import { createDocumentSigner } from "./signatures/ed25519.ts";
import { createKeyring } from "./signatures/hmac.ts";
import { createMetricsRelay } from "./metrics/observations.ts";
import { cachedCount, defaultRegistry, prometheusMetrics, type RegistryMetrics } from "./metrics/prometheus.ts";
import { createComplianceLogStore } from "./store/compliance-log.ts";
import { type StoreAccess, createStoreAccess } from "./store-access.ts";
import {
  type InsightDeps,
  latestInsight,
  nextReleaseAt,
  type ReleaseResult,
  releaseDue,
  releaseInsight,
  releaseOf,
} from "./insights/release.ts";
import { createConsentCache, MAX_STALENESS_MS } from "./store/consent-cache.ts";
import { acceptReport, metricFrequencies, type TelemetryDeps } from "./insights/telemetry.ts";
import { createInsightStore, type InsightView } from "./store/insights.ts";
import { createTelemetryStore } from "./store/telemetry.ts";
import { createLearningStore, type LearningStatus } from "./store/learning.ts";
import { defineModel, type LearningDeps, learningStatus, type ModelDefinition, modelView } from "./learning/models.ts";
import { runLearning } from "./learning/rounds.ts";
import { acceptUpdate, expectedDeltaLength } from "./learning/updates.ts";
import type { TelemetryFrequencies } from "./telemetry/sketch.ts";
import { createInteractionStore } from "./store/interactions.ts";
import { createConsentStore } from "./store/consents.ts";
import { createErasures } from "./store/erase.ts";
import { createJobLeases } from "./store/job-leases.ts";
import { checkSecretFingerprint } from "./store/secret-fingerprint.ts";
import { createRequests } from "./store/requests.ts";
import { openStore } from "./store/store.ts";
import "./middleware/request.ts";

/** How long a read of the overdue requests' count answers scrapes (of the gate's clock): a scrape every few seconds reads the database twice a minute. */
const OVERDUE_COUNT_MAX_AGE_MS = 30_000;

/**
 * What {@link createConsentgate} hands back: the middleware, the gates, the
 * routers and the reads a host app mounts and calls. One per process (and
 * per database); `close()` it on shutdown.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { type Consentgate, createConsentgate } from "consentgate";
 *
 * function mount(app: express.Express, gate: Consentgate): void {
 *   app.use(express.json());
 *   app.use(gate.middleware());
 *   app.post("/api/plays", gate.purpose("personalization"), async (req, res) => {
 *     await req.privacy.record("play", req.body);
 *     res.status(201).end();
 *   });
 *   app.use("/privacy", gate.router());
 *   app.use("/privacy-center", gate.privacyCenter());
 *   app.use(gate.errorHandler());
 * }
 *
 * const gate = await createConsentgate({ database: "memory", subject: (req) => req.get("x-user") });
 * mount(express(), gate);
 * ```
 */
export interface Consentgate {
  /**
   * The compiled policy in force: deeply frozen, read-only.
   *
   * @example
   * ```ts
   * for (const purpose of Object.values(gate.policy.purposes)) {
   *   console.log(purpose.name, purpose.legalBasis, purpose.retention?.text ?? "not kept");
   * }
   * ```
   */
  readonly policy: Policy;
  /**
   * The gate every request passes: attaches `req.privacy`, reads Global
   * Privacy Control (`Sec-GPC: 1`), and on every write (any method but GET,
   * HEAD and OPTIONS) applies the policy's `routes` map, leaves the write to
   * a `gate.purpose()` on its route, or refuses it. Reads pass. Mount it
   * after authentication (the `subject` option reads what that sets) and
   * the body parser, before the app's routes.
   *
   * Nothing is thrown here. Refusals are answered with the JSON error body
   * (docs/http-api.md): `403 consent_required`, `403 unmapped_write` (a write
   * no purpose covers), `400 invalid_body` (a body the purpose's field rules
   * cannot read), `503 consent_unavailable` (the decision cannot be made:
   * fail closed).
   *
   * @example
   * ```ts
   * import express from "express";
   *
   * app.use(express.json());
   * app.use(gate.middleware());
   * app.get("/api/me", (req, res) => {
   *   res.json({ subject: req.privacy.subject ?? null, region: req.privacy.region, gpc: req.privacy.signals.gpc });
   * });
   * ```
   */
  middleware(): RequestHandler;
  /**
   * A route-level gate for one purpose. Denied: the JSON error body
   * (`403 consent_required`) and the handler never runs. Allowed:
   * `req.body` is replaced by its minimized, frozen form (fields the purpose
   * does not list are gone, its field rules applied), and
   * `req.privacy.record()` stores under this purpose.
   *
   * @throws {ConsentgateError} `unknown_purpose`, at once, for a purpose the policy does not define.
   *
   * @example
   * ```ts
   * app.post("/api/plays", gate.purpose("personalization"), async (req, res) => {
   *   await req.privacy.record("play", req.body);
   *   res.status(201).json({ recorded: req.body });
   * });
   * ```
   */
  purpose(name: string): RequestHandler;
  /**
   * The privacy endpoints (docs/http-api.md): `GET /consents`,
   * `PUT /consents/:purpose`, `GET /export`, `DELETE /data`, `GET /requests`,
   * `GET /requests/:id` for the signed-in subject (or an `agent` acting for
   * one with `?subject=`), and the `dpo` role's compliance log and reports
   * under `/admin`. Rate limited per the `limits` option. `GET /openapi.json`
   * (public) describes them all (see `gate.openapi()`).
   *
   * Nothing is thrown here; errors are answered with the JSON error body
   * (`401 unauthenticated`, `403 forbidden`, `404 not_found`, `400
   * invalid_body`, `400 unknown_purpose`, `429 too_many_requests`, `503
   * consent_unavailable`).
   *
   * @example
   * ```ts
   * app.use("/privacy", gate.router());
   * // PUT /privacy/consents/personalization {"granted":true} → 200, the signed receipt
   * ```
   */
  router(): Router;
  /**
   * A drop-in page where a signed-in user sees and changes their choices,
   * downloads their data, erases it, and follows their requests (README:
   * The privacy center). It calls `gate.router()`, which must be mounted on
   * the same origin at `options.api`.
   *
   * @throws {ConsentgateError} `invalid_option` for an `api` that is not a path on this origin, or a `latest` outside 1-500.
   *
   * @example
   * ```ts
   * app.use("/privacy", gate.router());
   * app.use("/privacy-center", gate.privacyCenter({ api: "/privacy", title: "Your privacy at Tunes", signIn: "/login" }));
   * ```
   */
  privacyCenter(options?: PrivacyCenterOptions): Router;
  /**
   * The OpenAPI 3.1 description of every route of `gate.router()`: its
   * parameters, bodies, answers and, per route, every error code it can
   * send. Paths are relative to the router's mount, given as `basePath`
   * (the document's one server, default "/"). The router serves the same
   * document, naming its own mount, at `GET /openapi.json` (public).
   *
   * @throws {ConsentgateError} `invalid_option` for a `basePath` that is neither a path starting with "/" nor a URL.
   *
   * @example
   * ```ts
   * app.use("/privacy", gate.router());
   * const document = gate.openapi({ basePath: "/privacy" }); // servers: [{ url: "/privacy" }]
   * console.log(Object.keys(document.paths)); // ["/consents", "/consents/{purpose}", …]
   * ```
   */
  openapi(options?: OpenApiOptions): OpenApiDocument;
  /**
   * The GPC support resource (W3C Global Privacy Control: GPC Support
   * Resource), mounted at the app's root: `GET /.well-known/gpc.json`
   * (and HEAD) answers `{"gpc": true, "lastUpdate": "YYYY-MM-DD"}` as
   * `application/json` when a region of the policy has
   * `gpc: opt-out-of-sale-or-share`, and `404 not_found` (the JSON error
   * body) when none has. `lastUpdate` is the policy's `gpcLastUpdate`,
   * else its `version` when that is a date. Other requests pass on.
   *
   * @throws {ConsentgateError} `policy_invalid`, at once, when a region honours GPC and neither
   * `gpcLastUpdate` nor `version` gives a date.
   *
   * @example
   * ```ts
   * app.use(gate.wellKnown());
   * // GET /.well-known/gpc.json → 200 {"gpc":true,"lastUpdate":"2026-11-01"}
   * ```
   */
  wellKnown(): Router;
  /**
   * The privacy officer's console (README: The privacy officer's console): per
   * region and period, charts with their tables of the consents given and
   * withdrawn, requests and their deadlines (overdue first, each with its own
   * page), writes blocked, rows purged, the compliance log's check and the
   * privacy budget spent. Server-rendered, no script. Role `dpo` only:
   * anonymous callers get a 401 page, others a 403 page.
   *
   * @throws {ConsentgateError} `invalid_option` for an empty `title`.
   *
   * @example
   * ```ts
   * app.use(gate.middleware());
   * app.use("/privacy-console", gate.console({ title: "Tunes: privacy console" }));
   * // GET /privacy-console?region=EU&from=2026-11-01&to=2026-11-30
   * ```
   */
  console(options?: PrivacyConsoleOptions): Router;
  /**
   * Express error middleware that answers what the body parsers in front of
   * the gate raise (malformed JSON `400 invalid_body`, too large `413
   * payload_too_large`) and any ConsentgateError with the gate's JSON error
   * body; every other error goes on to the app's own error handler.
   *
   * @example
   * ```ts
   * import express from "express";
   *
   * app.use(express.json({ limit: "8kb" }));
   * app.use(gate.middleware());
   * // … the app's routes …
   * app.use(gate.errorHandler());
   * ```
   */
  errorHandler(): ErrorRequestHandler;
  /**
   * Joins one of the app's own tables to export and erasure: `GET /export`
   * includes what `export` returns under the source's name, and
   * `DELETE /data` calls `erase` and lists its count on the certificate. An
   * `erase` that throws leaves the erasure `partial`; the `erasure-retry`
   * job tries it again.
   *
   * @throws {ConsentgateError} `invalid_option` for a name that is not 1-64 letters, digits,
   * `_ . -` starting with a letter, for `export` or `erase` that are not functions, or for a
   * name registered already.
   *
   * @example
   * ```ts
   * const favourites = new Map<string, string[]>();
   * gate.registerDataSource({
   *   name: "favourites",
   *   export: (subjectId) => favourites.get(subjectId) ?? [],
   *   erase: (subjectId) => (favourites.delete(subjectId) ? 1 : 0),
   * });
   * ```
   */
  registerDataSource(source: DataSource): void;
  /**
   * A Prisma Client extension that puts the app's own models behind the
   * gate (README: Gating your own tables). Inside a request that passed
   * `gate.middleware()`, or inside `gate.as()`, every create, update,
   * upsert and delete of a mapped model, and every nested write that
   * reaches one, is decided for the row's subject and the model's purpose
   * by the same rules and cache as an HTTP write; its data is minimized by
   * the purpose's field rules; the subject field must be the context's
   * subject (role `agent` may write for others); filters cannot reach other
   * subjects' rows. Raw queries are refused in a subject's context (see
   * `allowRaw`). Mapped models join export, erasure, withdrawal purges and
   * the purge job.
   *
   * Errors reach the caller of the Prisma query as ConsentgateErrors
   * (`consent_required` 403, `forbidden` 403, `unauthenticated` 401,
   * `invalid_body` 400, `consent_unavailable` 503 through
   * `gate.errorHandler()`; `no_context` outside any context).
   *
   * @throws {ConsentgateError} `invalid_option`, listing every problem: here for options of the
   * wrong shape or an unknown purpose; at `$extends` for a model or field the client's schema
   * lacks, a subject field that is not a String, a createdAt that is not a DateTime, or a
   * required field without a default that the purpose would drop.
   *
   * @example
   * ```ts
   * // prisma: the app's own PrismaClient (from its generated client), on a driver adapter.
   * const db = prisma.$extends(
   *   gate.prismaExtension({
   *     models: { Like: { purpose: "personalization", subject: "listenerId", createdAt: "createdAt" } },
   *   }),
   * );
   * app.post("/api/likes", async (req, res) => {
   *   const like = await db.like.create({ data: { listenerId: req.privacy.subject!, itemId: req.body.itemId } });
   *   res.status(201).json(like);
   * });
   * ```
   */
  prismaExtension(options: PrismaExtensionOptions): PrismaGateExtension;
  /**
   * Runs `fn` as someone, outside any request (a queue consumer, a job, a
   * script): writes to gated models inside it, however deep in `fn`'s async
   * calls, are decided for `subject` under `region`'s rules (default: the
   * policy's default region) and, when `purpose` is given, may only reach
   * models of that purpose. Resolves with what `fn` returns.
   *
   * @throws {ConsentgateError} `invalid_option` (rejects) for a missing subject or an unknown purpose or region.
   *
   * @example
   * ```ts
   * const db = prisma.$extends(gate.prismaExtension({ models: { Like: { purpose: "personalization", subject: "listenerId" } } }));
   *
   * // A queue consumer importing likes from a partner, for one listener at a time.
   * async function importLikes(listenerId: string, itemIds: string[]) {
   *   await gate.as({ subject: listenerId, purpose: "personalization", region: "EU" }, () =>
   *     db.like.createMany({ data: itemIds.map((itemId) => ({ listenerId, itemId })) }),
   *   );
   * }
   * ```
   */
  as<T>(actingAs: ActingAs, fn: () => T | Promise<T>): Promise<T>;
  /**
   * Runs `fn` with raw queries (`$queryRaw`, `$executeRaw` and their
   * Unsafe forms) allowed on gated clients in the current subject's context.
   * Raw SQL bypasses the gate's checks and minimization: use it for reads
   * and for tables the gate does not map.
   *
   * @example
   * ```ts
   * const db = prisma.$extends(gate.prismaExtension({ models: { Like: { purpose: "personalization", subject: "listenerId" } } }));
   *
   * app.get("/api/stats", async (_req, res) => {
   *   const [row] = await gate.allowRaw(() => db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM likes`);
   *   res.json({ tracks: Number(row?.n ?? 0) });
   * });
   * ```
   */
  allowRaw<T>(fn: () => T | Promise<T>): Promise<T>;
  /**
   * Reads of what is held, for the app's own screens and checks. Writes go
   * through the gate (`req.privacy.record`, the privacy endpoints), so that
   * every rule applies.
   *
   * @example
   * ```ts
   * const held = await gate.store.interactions.countByPurpose("alice");
   * const choices = await gate.store.consents.current("alice");
   * console.log(held.personalization ?? 0, choices.personalization?.granted);
   * ```
   */
  readonly store: StoreAccess;
  /**
   * Runs one job now, on this instance, without election (for a host's own
   * scheduler, the CLI and tests): purge, deadlines, compliance-report,
   * log-retention or erasure-retry. `jobs: true` schedules them instead
   * (docs/deployment.md: Jobs and schedules).
   *
   * @throws {ConsentgateError} `invalid_option` for an unknown job, or `dryRun`/`batchSize`
   * given to a job other than purge. Rejects with the database's error when the store fails.
   *
   * @example
   * ```ts
   * const result = await gate.runJob("purge", { dryRun: true });
   * console.log(result.expired, result.outOfWindow);
   * ```
   */
  runJob: RunJob;
  /**
   * Differentially private insights (docs/insights.md): what is popular,
   * released with noise from everyone's current windows, for cold-start
   * recommendations that reveal no one.
   *
   * @example
   * ```ts
   * app.get("/api/cold-start", async (_req, res) => {
   *   const popular = await gate.insights.latest("popular", { k: 20 });
   *   res.json(popular?.keys.map(({ key }) => key) ?? []);
   * });
   * ```
   */
  readonly insights: Insights;
  /**
   * Federated learning (docs/learning.md): recommendation models trained on
   * the listeners' devices, of which the server sees only clipped updates
   * and publishes only their noisy, robust aggregate.
   *
   * @example
   * ```ts
   * const catalogue = [{ id: "track-1" }, { id: "track-2" }];
   * await gate.learning.define("recommender", { items: () => catalogue.map((track) => track.id) });
   * const { version, spent } = await gate.learning.status("recommender");
   * console.log(`recommender v${version}, epsilon ${spent.epsilon}`);
   * ```
   */
  readonly learning: Learning;
  /**
   * Registers the gate's Prometheus metrics (README: Metrics) on `registry`,
   * for the host's own `/metrics` to serve, and returns the registry. Default:
   * the global registry of the prom-client Consentgate depends on; a host
   * with its own prom-client passes its registry (`client.register`, or a
   * `new Registry()`). Until this is called nothing is registered or
   * counted. Calling it again for the same registry, from this gate or
   * another gate of the process, changes nothing: the gates share the
   * metrics there. Labels are the policy's purpose and region names, job
   * names and fixed outcomes, never a subject.
   *
   * @throws {ConsentgateError} `invalid_option` when the registry already has a metric of one of
   * the gate's names that some other code registered.
   *
   * @example
   * ```ts
   * import { register } from "prom-client";
   *
   * const registry = gate.metrics(register);
   * app.get("/metrics", async (_req, res) => {
   *   res.type(registry.contentType).send(await registry.metrics());
   * });
   * ```
   */
  metrics<R extends Pick<Registry, "registerMetric" | "getSingleMetric"> = Registry>(registry?: R): R;
  /**
   * Stops the jobs, waits for batched writes to commit, and closes the
   * database. Safe to call more than once (every call gets the same promise).
   *
   * @example
   * ```ts
   * process.once("SIGTERM", () => {
   *   void gate.close();
   * });
   * ```
   */
  close(): Promise<void>;
}

/**
 * `gate.insights`: the policy's differentially private releases.
 *
 * @example
 * ```ts
 * import type { Insights } from "consentgate";
 *
 * async function refresh(insights: Insights) {
 *   const result = await insights.release("popular");
 *   if (!result.released) console.warn(`popular: ${result.code}, ${result.spent} of ${result.budget} spent`);
 *   return insights.latest("popular", { k: 10 });
 * }
 * ```
 */
export interface Insights {
  /**
   * Makes a release of `name` now (what the insights job does when one is
   * due), or refuses it with `budget_exhausted` when its epsilon would take
   * the rolling budget over; either way logged in every region. Answers
   * what happened, never a count.
   *
   * @throws {ConsentgateError} `not_found` for a name the policy does not have.
   *
   * @example
   * ```ts
   * const result = await gate.insights.release("popular");
   * console.log(result.released ? `${result.keys} keys released` : result.code);
   * ```
   */
  release(name: string): Promise<ReleaseResult>;
  /**
   * The newest release of `name` with its top `k` keys (default 20, at most
   * 1000), or undefined before the first. The same as `GET /insights/:name`.
   *
   * @throws {ConsentgateError} `not_found` for a name the policy does not have; `invalid_body` for a bad `k`.
   *
   * @example
   * ```ts
   * const popular = await gate.insights.latest("popular", { k: 5 });
   * for (const { key, count } of popular?.keys ?? []) console.log(key, count);
   * ```
   */
  latest(name: string, options?: { k?: number }): Promise<InsightView | undefined>;
  /**
   * Estimates how many of a telemetry metric's reports carry each candidate
   * value (Apple's Hadamard count-mean sketch, unbiased), with each
   * estimate's standard error, from the sums the devices' reports were added
   * into (`POST /telemetry/:metric`). The same as
   * `GET /admin/telemetry/:metric?candidates=…`. Values not listed are not
   * estimated: the sketch cannot enumerate what was reported.
   *
   * @throws {ConsentgateError} `not_found` for a metric the policy does not have; `invalid_body`
   * unless `candidates` lists 1 to 1000 non-empty strings.
   *
   * @example
   * ```ts
   * const skips = await gate.insights.frequencies("genre-skips", ["jazz", "rock", "metal"]);
   * for (const { value, frequency, standardError } of skips.estimates)
   *   console.log(value, Math.round(frequency), "±", Math.round(1.96 * standardError), "of", skips.reports);
   * ```
   */
  frequencies(metric: string, candidates: readonly string[]): Promise<TelemetryFrequencies>;
}

/**
 * `gate.learning`: the policy's federated models.
 *
 * @example
 * ```ts
 * import type { Learning } from "consentgate";
 *
 * async function start(learning: Learning, trackIds: () => Promise<string[]>) {
 *   await learning.define("recommender", { items: trackIds });
 *   return learning.status("recommender");
 * }
 * ```
 */
export interface Learning {
  /**
   * Gives the model `name` of the policy its items. The first definition
   * (on any instance) creates version 1 with small random factors; the same
   * items again change nothing; other items keep the vectors of the items
   * that stay and open a new round. Until a model is defined, its routes
   * answer `not_found`.
   *
   * @throws {ConsentgateError} `not_found` for a model the policy does not have; `invalid_option`
   * for items that are not unique non-empty strings, or a model too large.
   *
   * @example
   * ```ts
   * const trackIds = async () => ["track-1", "track-2", "track-3"]; // e.g. from the app's catalogue table
   * await gate.learning.define("recommender", { items: trackIds });
   * ```
   */
  define(name: string, definition: ModelDefinition): Promise<void>;
  /**
   * The model's training: parameters, open round, privacy spent and latest
   * rounds. The same as `GET /admin/learning/:model`.
   *
   * @throws {ConsentgateError} `not_found` for a model the policy does not have, or not defined yet.
   *
   * @example
   * ```ts
   * const { spent, budget } = await gate.learning.status("recommender");
   * console.log(`epsilon ${spent.epsilon.toFixed(2)} of ${budget.epsilon}`);
   * ```
   */
  status(name: string): Promise<LearningStatus>;
}

/**
 * What `consentgate export` and `consentgate erase` run: the code of GET
 * /export and DELETE /data, for a subject an operator names, with the
 * operator as the actor (as an agent's `?subject=`). Not in the public API
 * (index.ts does not export it): a host's code goes through gate.router().
 */
export interface OperatorRights {
  /** Writes the subject's export document to `out` and ends it. */
  export(subjectId: string, operator: string, region: string, out: Writable): Promise<void>;
  /** The whole erasure, finished and signed: for an app that keeps no personal data outside Consentgate (`--complete`). */
  erase(subjectId: string, operator: string, region: string): Promise<ErasureCertificate>;
  /** Consentgate's tables only, the request left open for the app's erasure-retry job to finish (see eraseOwnTables). */
  eraseOwnTables(subjectId: string, operator: string, region: string): Promise<OwnTablesErased>;
}

const operatorRightsOf = new WeakMap<Consentgate, OperatorRights>();

/** The operator's rights commands on a gate createConsentgate made. */
export function operatorRights(gate: Consentgate): OperatorRights {
  const rights = operatorRightsOf.get(gate);
  if (rights === undefined) throw new TypeError("not a gate made by createConsentgate");
  return rights;
}

/**
 * Validates the options, loads and compiles the policy, opens the database
 * (applying migrations, under a lock), and returns the gate. Everything
 * that can be wrong with the set-up fails here, at start-up, rather than as
 * a wrong privacy decision later.
 *
 * @param options - See {@link ConsentgateOptions}; every option has a default except `secret` outside `database: "memory"`.
 * @returns The gate to mount; see {@link Consentgate}.
 * @throws {ConsentgateError} `invalid_option`: every problem with the options, listed in
 * `details.problems`; a malformed database URL; an embedded database another process holds.
 * `policy_invalid`: every problem with the policy, as `file:line: path: message`.
 * `database_unavailable`: the database cannot be reached or opened.
 * `secret_mismatch`: the database was first started with another secret.
 * `migration_failed` or `migration_changed`: the database schema cannot be brought up to date.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { createConsentgate } from "consentgate";
 *
 * const gate = await createConsentgate({
 *   policies: "./policies",
 *   database: process.env.DATABASE_URL,
 *   secret: process.env.CONSENTGATE_SECRET,
 *   subject: (req) => req.get("x-user-id"),
 *   jobs: true,
 * });
 * const app = express();
 * app.use(express.json());
 * app.use(gate.middleware());
 * app.use("/privacy", gate.router());
 * ```
 */
export async function createConsentgate(options: ConsentgateOptions = {}): Promise<Consentgate> {
  const config = resolveConfiguration(options);
  const { logger, now } = config;
  const policy = await loadPolicy(config.policies);
  const schedules = resolveSchedules(policy, config.schedules);
  const keyring = createKeyring(config.secret);
  // Receipts and certificates: Ed25519 anyone can check; those signed before with the HMAC keep verifying here.
  const signer = createDocumentSigner(config.signingKeys, keyring);
  const minimizers = new Map(
    Object.values(policy.purposes).map((purpose) => [
      purpose.name,
      compileMinimizer(purpose.fields, { hashKey: keyring.key("field-hash") }),
    ]),
  );
  const store = await openStore(config.database, { poolSize: config.poolSize });
  const { connection } = store;
  try {
    await checkSecretFingerprint(connection, keyring.fingerprint);
  } catch (error) {
    await store.close();
    throw error;
  }
  // Every part counts into the relay; gate.metrics() gives it somewhere to count to.
  const observed = createMetricsRelay();
  const { metrics } = observed;
  const consents = createConsentCache(connection, {
    ...config.consentCache,
    maxStalenessMs: MAX_STALENESS_MS,
    logger,
    metrics,
  });
  const interactions = createInteractionStore(connection, { metrics });
  const logStore = createComplianceLogStore(connection);
  const consentStore = createConsentStore(connection);
  if (store.snapshotFailure !== undefined) {
    logger.warn(
      { err: store.snapshotFailure },
      "consentgate: the snapshot of the migrated in-memory database failed; memory gates in this process now start without it (initdb and migrations each)",
    );
  }
  logger.info(
    {
      database: config.database.kind,
      migrated: store.migrated,
      policyVersion: policy.version,
      ...(config.database.kind === "pglite-memory" ? { fromSnapshot: store.fromSnapshot } : {}),
    },
    "consentgate: ready",
  );

  const blockedWrites = createBlockedWrites();
  const requests = createRequests(connection);
  const dataSources = createDataSources();
  const audit = createComplianceLog(logStore, {
    pseudonym: keyring.pseudonym,
    chainKey: keyring.key("log-chain"),
    now,
  });

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
    enter: (privacy, next) => dataLayer.enter(privacy, next),
    metrics,
  };
  const dataLayer = createDataLayer({
    policy,
    minimizers,
    actingFor: (facts) => privacyFor(gate, facts),
    standing: createStandingCheck(connection),
    blockedWrites,
    logger,
    metrics,
    now,
    // Each gated model joins export and erasure as one data source, erased in the order the models are told.
    gated: (model) =>
      dataSources.register({
        name: `prisma.${model}`,
        export: (subjectId) => dataLayer.exportRows(model, subjectId),
        erase: (subjectId) => dataLayer.eraseRows(model, subjectId),
      }),
  });
  const privacy = (req: Request) => createPrivacy(gate, req);
  const insightDeps: InsightDeps = { policy, store: createInsightStore(connection), log: audit, now };
  const telemetryDeps: TelemetryDeps = { policy, store: createTelemetryStore(connection), now };
  const insights: Insights = {
    release: (name) => releaseInsight(insightDeps, name),
    latest: (name, options) => latestInsight(insightDeps, name, options),
    frequencies: (metric, candidates) => metricFrequencies(telemetryDeps, metric, candidates),
  };
  const learningDeps: LearningDeps = { policy, store: createLearningStore(connection), log: audit, now };
  const learning: Learning = {
    define: (name, definition) => defineModel(learningDeps, name, definition),
    status: (name) => learningStatus(learningDeps, name),
  };
  const rights: RightsDeps = {
    policy,
    consentStore,
    erasures: createErasures(connection),
    consents,
    interactions,
    requests,
    logStore,
    dataSources,
    gatedRows: { erasePurpose: (subjectId, purpose) => dataLayer.erasePurpose(subjectId, purpose) },
    keyring,
    signer,
    audit,
    logger,
    now,
    privacy,
    insights: {
      latest: (name, options) => latestInsight(insightDeps, name, options),
      nextReleaseAt: (name, latest) => nextReleaseAt(releaseOf(policy, name), latest),
    },
    telemetry: {
      report: (metric, reporter, body) => acceptReport(telemetryDeps, metric, reporter, body),
      frequencies: (metric, candidates) => metricFrequencies(telemetryDeps, metric, candidates),
      forSubject: (subjectId) => telemetryDeps.store.forSubject(subjectId),
    },
    learning: {
      model: (name) => modelView(learningDeps, name),
      contribute: (name, contributor, body) => acceptUpdate(learningDeps, name, contributor, body),
      expectedLength: (name) => expectedDeltaLength(learningDeps, name),
      status: (name) => learningStatus(learningDeps, name),
      forSubject: (subjectId) => learningDeps.store.forSubject(subjectId),
    },
    openapi: (basePath) => openApiDocument({ basePath }),
  };
  const jobs: JobRunnerDeps = {
    policy,
    interactions,
    requests,
    logStore,
    audit,
    blockedWrites,
    gatedTables: () => dataLayer.tables(),
    logger,
    metrics,
    now,
    retryErasures: () => retryPartialErasures(rights),
    releaseInsights: (at) => releaseDue(insightDeps, at),
    trainModels: (at) => runLearning(learningDeps, at),
  };
  const center: PrivacyCenterDeps = {
    policy,
    consentStore,
    consents,
    interactions,
    learning: learningDeps.store,
    gatedRows: { heldBy: (subjectId) => dataLayer.heldBy(subjectId), purposes: () => dataLayer.purposes() },
    requests,
    logger,
    now,
    privacy,
  };

  const officer: PrivacyConsoleDeps = {
    policy,
    logStore,
    requests,
    audit,
    learning: { status: (name) => learningStatus(learningDeps, name) },
    logger,
    now,
    privacy,
  };

  try {
    await logPolicyLoaded(logStore, audit, policy);
  } catch (error) {
    await consents.close();
    await store.close();
    throw error;
  }
  const runJob = createJobRunner(jobs);
  const scheduler = config.jobs
    ? startScheduler({
        schedules,
        run: runJob,
        coordinator: createLeaseCoordinator(createJobLeases(connection), { logger, metrics }),
        logger,
      })
    : undefined;
  const flushBlocked = startLocalTask(
    "0 * * * *",
    "write.blocked flush",
    () => flushBlockedWrites(blockedWrites, audit),
    logger,
  );

  const limiters = createRightsLimiters(config.limits, logger);
  // consentgate_requests_overdue: read from the database when scraped, so every instance reports the
  // same count (not what its own last deadlines run saw), and at most every 30 s however often scraped.
  const overdueNow = cachedCount(
    () =>
      requests.countAllOpenOverdue(now()).catch((error: unknown) => {
        logger.warn({ err: error }, "consentgate: the overdue requests could not be counted for the metrics");
        throw error;
      }),
    now,
    OVERDUE_COUNT_MAX_AGE_MS,
  );
  const readingOverdue = new Map<RegistryMetrics, () => void>();
  let closing: Promise<void> | undefined;
  const made: Consentgate = {
    policy,
    middleware: () => createMiddleware(gate),
    purpose: (name) => createPurposeGate(gate, name),
    router: () => createRightsRouter(rights, limiters),
    privacyCenter: (options) => createPrivacyCenter(center, options),
    openapi: (options) => openApiDocument(options),
    wellKnown: () => createWellKnownRouter(policy),
    console: (options) => createPrivacyConsole(officer, options),
    errorHandler: () => answerErrors,
    registerDataSource: (source) => dataSources.register(source),
    prismaExtension: (options) => dataLayer.prismaExtension(options),
    as: (actingAs, fn) => dataLayer.as(actingAs, fn),
    allowRaw: (fn) => dataLayer.allowRaw(fn),
    store: createStoreAccess({ consentStore, interactions, requests, audit, now }),
    runJob,
    insights,
    learning,
    metrics<R extends Pick<Registry, "registerMetric" | "getSingleMetric">>(registry?: R): R {
      const target = registry ?? (defaultRegistry as unknown as R);
      const registered = prometheusMetrics(target);
      observed.add(registered.observations);
      if (!readingOverdue.has(registered)) readingOverdue.set(registered, registered.readOverdue(overdueNow));
      return target;
    },
    close: () =>
      (closing ??= (async () => {
        // A closed gate's database is not read by the next scrape.
        for (const stop of readingOverdue.values()) stop();
        await scheduler?.stop();
        // Writes already acknowledged to callers are committed; wait for those still in a batch.
        await interactions.drain();
        await flushBlocked.stop();
        await consents.close();
        await store.close();
      })()),
  };
  const onBehalf = (subjectId: string, operator: string) => ({ subjectId, actorId: operator, onBehalf: true });
  operatorRightsOf.set(made, {
    export: (subjectId, operator, region, out) =>
      streamExport(rights, onBehalf(subjectId, operator), { region, gpc: false }, out),
    erase: (subjectId, operator, region) => erase(rights, onBehalf(subjectId, operator), region),
    eraseOwnTables: (subjectId, operator, region) => eraseOwnTables(rights, onBehalf(subjectId, operator), region),
  });
  return made;
}
