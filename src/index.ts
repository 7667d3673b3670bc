/**
 * @module
 * Consentgate: privacy middleware for Express. Everything a host app uses is
 * exported here, and nothing else: deep imports into the package are not
 * part of its API. test/api-surface.test.ts checks this list against the
 * built package.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { createConsentgate } from "consentgate";
 *
 * const gate = await createConsentgate({ database: "memory", subject: (req) => req.get("x-user") });
 * const app = express();
 * app.use(express.json());
 * app.use(gate.middleware());
 * app.post("/api/plays", gate.purpose("personalization"), async (req, res) => {
 *   await req.privacy.record("play", req.body);
 *   res.status(201).end();
 * });
 * app.use("/privacy", gate.router());
 * app.use(gate.errorHandler());
 * ```
 */

// Values: the whole runtime surface.
export { createConsentgate } from "./consentgate.ts";
export { ConsentgateError, isConsentgateError } from "./errors.ts";
export { verifySignature } from "./signatures/ed25519.ts";

// The gate and its options.
export type { Consentgate } from "./consentgate.ts";
export type { ConsentCacheOptions, ConsentgateOptions, RightsLimits } from "./options.ts";
export type { Actor } from "./decision/ability.ts";
export type { RightsLimitGroup } from "./rights/limits.ts";
export type { Logger } from "./logger.ts";
export type { PrivacyCenterOptions } from "./privacy-center/index.ts";
export type { OpenApiDocument, OpenApiOptions } from "./openapi/document.ts";
export type { PrivacyConsoleOptions } from "./privacy-console/index.ts";

// Errors.
export type { ConsentgateErrorDetails, ErrorCode, HttpErrorCode, SetupErrorCode } from "./errors.ts";

// req.privacy and the decisions it makes.
export type { Privacy } from "./middleware/privacy.ts";
export type { AppAbility } from "./decision/ability.ts";
export type { Choice, Decision, DecisionSource } from "./decision/decide.ts";
export type { Interaction } from "./store/interactions.ts";

// The host app's own tables in export and erasure.
export type { DataSource } from "./rights/data-sources.ts";
// The host app's own Prisma models behind the gate (gate.prismaExtension, gate.as).
export type { GatedModel, PrismaExtensionOptions } from "./data-layer/models.ts";
export type { ActingAs, PrismaGateExtension } from "./data-layer/gate.ts";

// gate.store.
export type { StoreAccess } from "./store-access.ts";
export type { ConsentRecord } from "./store/consents.ts";
export type { PrivacyRequestView, RequestStatus, RequestType } from "./store/requests.ts";
export type { AuditEntry, VerifyResult } from "./audit/events.ts";

// gate.insights: differentially private releases.
export type { Insights } from "./consentgate.ts";
export type { ReleaseResult } from "./insights/release.ts";
export type { InsightView, ReleasedKey } from "./store/insights.ts";
export type { TelemetryEstimate, TelemetryFrequencies } from "./telemetry/sketch.ts";

// gate.learning: federated models trained on the devices.
export type { Learning } from "./consentgate.ts";
export type { ModelDefinition } from "./learning/models.ts";
export type { LearningJobResult, LearningStatus, ModelView } from "./store/learning.ts";

// gate.runJob.
export type {
  RunJob,
  RunJobOptions,
  JobResults,
  ErasureRetryResult,
  InsightsJobResult,
} from "./jobs/run.ts";
export type { PurgeProgress, PurgeResult, Counts as PurgeCounts, TableCounts as PurgedTable } from "./jobs/purge.ts";
export type { DeadlinesResult } from "./jobs/deadlines.ts";
export type { ComplianceReportResult } from "./jobs/compliance-report.ts";
export type { LogRetentionResult } from "./jobs/log-retention.ts";
export type { TrimResult } from "./audit/trim.ts";

// gate.policy: the compiled policy.
export type {
  ConsentModel,
  Duration,
  DurationUnit,
  FieldRule,
  GpcMeaning,
  Aggregation,
  InsightRelease,
  JobName,
  LearningModel,
  LegalBasis,
  Policy,
  Purpose,
  Region,
  Route,
  TelemetryMetric,
  WithdrawalAction,
  WriteMethod,
} from "./policy/types.ts";

// What the privacy endpoints answer with (gate.router()).
export type { Receipt } from "./rights/receipts.ts";
export type { DataSourceFailure, ErasureCertificate } from "./rights/erasure.ts";
export type { ErasedCounts } from "./store/erase.ts";
// GET /keys: the public keys receipts and certificates are verified with (verifySignature).
export type { Jwks, PublicSigningKey } from "./signatures/ed25519.ts";
