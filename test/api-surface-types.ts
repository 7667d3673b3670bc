/**
 * Type-level check of the public surface: every public type is imported from
 * "consentgate" and tied to where a host meets it, so a signature that stops
 * using the exported type (or a type that is no longer exported) fails to
 * compile. Compiled, never run: by `npm run typecheck` against src/ (the
 * "consentgate" path in tsconfig.json), and by test/api-surface.test.ts
 * against the built dist/, as a host app's compiler sees it.
 */
import type { Request } from "express";
import type { Registry } from "prom-client";
import type { PrismaClient } from "../examples/music-app/generated/prisma/client.ts";
import type {
  ActingAs,
  Actor,
  AppAbility,
  AuditEntry,
  Choice,
  ConsentCacheOptions,
  ComplianceReportResult,
  ConsentModel,
  ConsentRecord,
  Consentgate,
  ConsentgateError,
  ConsentgateErrorDetails,
  ConsentgateOptions,
  DataSource,
  DataSourceFailure,
  DeadlinesResult,
  Decision,
  DecisionSource,
  Duration,
  DurationUnit,
  ErasedCounts,
  ErasureCertificate,
  ErasureRetryResult,
  ErrorCode,
  FieldRule,
  GatedModel,
  GpcMeaning,
  HttpErrorCode,
  InsightRelease,
  Insights,
  InsightsJobResult,
  Learning,
  LearningJobResult,
  LearningModel,
  LearningStatus,
  ModelDefinition,
  Aggregation,
  InsightView,
  Interaction,
  ReleasedKey,
  ReleaseResult,
  TelemetryEstimate,
  TelemetryFrequencies,
  JobName,
  JobResults,
  Jwks,
  LegalBasis,
  LogRetentionResult,
  Logger,
  OpenApiDocument,
  OpenApiOptions,
  Policy,
  Privacy,
  PrivacyCenterOptions,
  PrivacyConsoleOptions,
  PrismaExtensionOptions,
  PrismaGateExtension,
  PrivacyRequestView,
  Purpose,
  PurgeCounts,
  PurgeProgress,
  PurgeResult,
  PurgedTable,
  PublicSigningKey,
  Receipt,
  Region,
  RequestStatus,
  RequestType,
  RightsLimitGroup,
  RightsLimits,
  Route,
  RunJob,
  RunJobOptions,
  SetupErrorCode,
  StoreAccess,
  TelemetryMetric,
  TrimResult,
  VerifyResult,
  WithdrawalAction,
  WriteMethod,
  createConsentgate,
  isConsentgateError,
  verifySignature,
} from "consentgate";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
type Param<F, I extends number = 0> = F extends (...args: infer P) => unknown ? P[I] : never;
type Result<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;
type Item<T> = T extends AsyncIterable<infer I> ? I : T extends readonly (infer I)[] ? I : never;

/** gate.metrics() hands back the registry it was given (its exact type), or prom-client's global one. */
declare const aGate: Consentgate;
declare const openMetricsRegistry: Registry<"application/openmetrics-text; version=1.0.0; charset=utf-8">;
const onDefault = aGate.metrics();
const onHosts = aGate.metrics(openMetricsRegistry);

export type Checks = [
  // createConsentgate and the gate.
  Expect<Equal<Param<typeof createConsentgate>, ConsentgateOptions | undefined>>,
  Expect<Equal<Result<typeof createConsentgate>, Consentgate>>,
  Expect<Equal<Consentgate["policy"], Policy>>,
  Expect<Equal<Param<Consentgate["privacyCenter"]>, PrivacyCenterOptions | undefined>>,
  Expect<Equal<Param<Consentgate["openapi"]>, OpenApiOptions | undefined>>,
  Expect<Equal<ReturnType<Consentgate["openapi"]>, OpenApiDocument>>,
  Expect<Equal<ReturnType<Consentgate["wellKnown"]>, ReturnType<Consentgate["router"]>>>,
  Expect<Equal<Param<Consentgate["console"]>, PrivacyConsoleOptions | undefined>>,
  Expect<Equal<Param<Consentgate["registerDataSource"]>, DataSource>>,
  Expect<Equal<Param<Consentgate["prismaExtension"]>, PrismaExtensionOptions>>,
  Expect<Equal<ReturnType<Consentgate["prismaExtension"]>, PrismaGateExtension>>,
  Expect<Equal<PrismaExtensionOptions["models"][string], GatedModel>>,
  Expect<Equal<Param<Consentgate["as"]>, ActingAs>>,
  Expect<Equal<Consentgate["store"], StoreAccess>>,
  Expect<Equal<Consentgate["runJob"], RunJob>>,
  Expect<Equal<Consentgate["insights"], Insights>>,
  Expect<Equal<Result<Insights["release"]>, ReleaseResult>>,
  Expect<Equal<Result<Insights["latest"]>, InsightView | undefined>>,
  Expect<Equal<InsightView["keys"], ReleasedKey[]>>,
  Expect<Equal<Result<Insights["frequencies"]>, TelemetryFrequencies>>,
  Expect<Equal<TelemetryFrequencies["estimates"], TelemetryEstimate[]>>,
  Expect<Equal<JobResults["insights"], InsightsJobResult>>,
  Expect<Equal<JobResults["learning"], LearningJobResult>>,
  Expect<Equal<Consentgate["learning"], Learning>>,
  Expect<Equal<typeof onDefault, Registry>>,
  Expect<Equal<typeof onHosts, typeof openMetricsRegistry>>,
  Expect<Equal<Result<Learning["status"]>, LearningStatus>>,
  Expect<Equal<Param<Learning["define"], 1>, ModelDefinition>>,
  Expect<Equal<Policy["learning"][string], LearningModel>>,
  Expect<Equal<LearningModel["aggregation"], Aggregation>>,
  // Options.
  Expect<Equal<Result<NonNullable<ConsentgateOptions["actor"]>>, Actor | undefined>>,
  Expect<Equal<NonNullable<ConsentgateOptions["logger"]>, Logger>>,
  Expect<Equal<NonNullable<ConsentgateOptions["limits"]>, RightsLimits>>,
  Expect<Equal<Param<NonNullable<RightsLimits["store"]>>, RightsLimitGroup>>,
  Expect<Equal<NonNullable<ConsentgateOptions["consentCache"]>, ConsentCacheOptions>>,
  Expect<Equal<keyof NonNullable<ConsentgateOptions["schedules"]>, JobName>>,
  // req.privacy: importing "consentgate" types it on Express's Request.
  Expect<Equal<Request["privacy"], Privacy>>,
  Expect<Equal<Privacy["actor"], Actor | undefined>>,
  Expect<Equal<Result<Privacy["decide"]>, Decision>>,
  Expect<Equal<Result<Privacy["ability"]>, AppAbility>>,
  Expect<Equal<Result<Privacy["recent"]>, Interaction[]>>,
  Expect<Equal<Extract<Decision, { allowed: true }>["source"], DecisionSource>>,
  Expect<Equal<Extract<Decision, { allowed: true }>["legalBasis"], LegalBasis>>,
  // gate.store: our own types, never generated Prisma models.
  Expect<Equal<Result<StoreAccess["interactions"]["forSubject"]>, Interaction[]>>,
  Expect<Equal<Result<StoreAccess["consents"]["current"]>, Record<string, Choice>>>,
  Expect<Equal<Result<StoreAccess["consents"]["history"]>, ConsentRecord[]>>,
  Expect<Equal<Result<StoreAccess["requests"]["forSubject"]>, PrivacyRequestView[]>>,
  Expect<Equal<PrivacyRequestView["type"], RequestType>>,
  Expect<Equal<PrivacyRequestView["status"], RequestStatus>>,
  Expect<Equal<Item<ReturnType<StoreAccess["complianceLog"]["entries"]>>, AuditEntry>>,
  Expect<Equal<Result<StoreAccess["complianceLog"]["verify"]>, VerifyResult>>,
  // gate.runJob.
  Expect<Equal<Param<RunJob, 1>, RunJobOptions | undefined>>,
  Expect<Equal<Awaited<ReturnType<RunJob>>, JobResults[JobName]>>,
  Expect<Equal<JobResults["purge"], PurgeResult>>,
  Expect<Equal<PurgeResult["expired"], PurgeCounts>>,
  Expect<Equal<Parameters<NonNullable<RunJobOptions["onProgress"]>>[0], PurgeProgress>>,
  Expect<Equal<PurgeResult["tables"][string], PurgedTable>>,
  Expect<Equal<JobResults["deadlines"], DeadlinesResult>>,
  Expect<Equal<JobResults["compliance-report"], ComplianceReportResult>>,
  Expect<Equal<JobResults["log-retention"], LogRetentionResult>>,
  Expect<Equal<LogRetentionResult[string], TrimResult>>,
  Expect<Equal<JobResults["erasure-retry"], ErasureRetryResult>>,
  // gate.policy.
  Expect<Equal<Policy["purposes"][string], Purpose>>,
  Expect<Equal<Policy["regions"][string], Region>>,
  Expect<Equal<Policy["routes"][number], Route>>,
  Expect<Equal<Route["method"], WriteMethod>>,
  Expect<Equal<Purpose["legalBasis"], LegalBasis>>,
  Expect<Equal<Purpose["fields"][string], FieldRule>>,
  Expect<Equal<Purpose["retention"], Duration | undefined>>,
  Expect<Equal<Purpose["onWithdrawal"], WithdrawalAction>>,
  Expect<Equal<Duration["unit"], DurationUnit>>,
  Expect<Equal<Region["model"], ConsentModel>>,
  Expect<Equal<Region["gpc"], GpcMeaning | undefined>>,
  Expect<Equal<keyof Policy["jobs"], JobName>>,
  Expect<Equal<Purpose["insights"][string], InsightRelease>>,
  Expect<Equal<Policy["insights"][string], InsightRelease>>,
  Expect<Equal<InsightRelease["every"], Duration>>,
  Expect<Equal<InsightRelease["budget"]["per"], Duration>>,
  Expect<Equal<Policy["telemetry"][string], TelemetryMetric>>,
  Expect<Equal<TelemetryMetric["limit"]["per"], Duration>>,
  // Errors.
  Expect<Equal<ConsentgateError["code"], ErrorCode>>,
  Expect<Equal<ErrorCode, HttpErrorCode | SetupErrorCode>>,
  Expect<Equal<ConsentgateError["details"], ConsentgateErrorDetails>>,
  Expect<Equal<Param<typeof isConsentgateError, 1>, ErrorCode | undefined>>,
  // What the privacy endpoints answer with.
  Expect<Equal<ErasureCertificate["erased"]["tables"], ErasedCounts>>,
  Expect<Equal<ErasureCertificate["failures"], DataSourceFailure[]>>,
  Expect<Equal<Receipt["granted"], boolean>>,
  // GET /keys and verifying what the endpoints signed.
  Expect<Equal<Jwks["keys"], PublicSigningKey[]>>,
  Expect<Equal<Param<typeof verifySignature, 1>, Jwks>>,
  Expect<Equal<Result<typeof verifySignature>, boolean>>,
];

// The extended client keeps the host's generated types: a Like's fields, as the host's schema has them.
export const likeCreated = (prisma: PrismaClient, gate: Consentgate) => {
  const db = prisma.$extends(
    gate.prismaExtension({ models: { Like: { purpose: "personalization", subject: "listenerId" } } }),
  );
  return db.like
    .create({ data: { listenerId: "alice", itemId: "trk_01" } })
    .then((like) => like.itemId satisfies string);
};
