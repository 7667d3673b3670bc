/**
 * The zod schemas of what gate.router() answers, as JSON on the wire. The
 * OpenAPI document (document.ts) is rendered from them, and the tests parse
 * real answers with them, so the document and the code cannot drift apart.
 *
 * They live here rather than beside each type because the types sit in five
 * layers (store, audit, telemetry, rights) that have no use for zod; each
 * schema is instead checked against its type when this file is compiled
 * (`describes<T>()`: the schema's output must be the type's JSON form), so a
 * field added to a type and not here fails the typecheck.
 */
import { z } from "zod";
import { HTTP_STATUS } from "../errors.ts";
import type { VerifyResult } from "../audit/events.ts";
import type { RegionReport } from "../audit/report.ts";
import type { ErasureCertificate } from "../rights/erasure.ts";
import type { Receipt } from "../rights/receipts.ts";
import type { InsightView } from "../store/insights.ts";
import type { LearningStatus, ModelView } from "../store/learning.ts";
import type { PrivacyRequestView } from "../store/requests.ts";
import type { TelemetryFrequencies } from "../telemetry/sketch.ts";

/** A value as JSON.stringify writes it: dates become ISO 8601 text. */
type OnTheWire<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? OnTheWire<U>[]
    : T extends object
      ? { [K in keyof T]: OnTheWire<T[K]> }
      : T;

/** Exact equality of two types (both ways assignable is not enough for optional members). */
type Same<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;

/** `schema`, if its output is exactly the JSON form of T; otherwise a type error at the call. */
const describes =
  <T>() =>
  <S extends z.ZodType>(schema: S & (Same<z.output<S>, OnTheWire<T>> extends true ? unknown : never)): S =>
    schema;

const isoTime = z.iso.datetime().meta({ description: "ISO 8601, UTC", example: "2026-11-30T08:42:30.260Z" });

/** Every code the error body can carry: the ConsentgateError codes sent to clients, and `internal` (500). */
export const ERROR_CODES = [...(Object.keys(HTTP_STATUS) as (keyof typeof HTTP_STATUS)[]), "internal"] as const;

export const errorBody = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).meta({ description: "Stable: branch on it (docs/error-codes.md)" }),
      message: z.string().meta({ description: "For people; may be reworded between versions" }),
      purpose: z.string().optional().meta({ description: "The purpose the error concerns" }),
      region: z.string().optional().meta({ description: "The region whose rules applied" }),
    }),
  })
  .meta({ id: "Error", description: "The one error body of every Consentgate answer" });

/** The last members of a receipt and of an erasure certificate, signed alike (src/signatures/). */
const signedFields = {
  kid: z.string().optional().meta({ description: "The signing key's id in GET /keys; absent on version 1" }),
  signature: z.string().meta({
    description: "Ed25519 (base64url) over the RFC 8785 canonical JSON of every other member",
  }),
};

export const receipt = describes<Receipt>()(
  z
    .object({
      version: z.enum(["consentgate-receipt/2", "consentgate-receipt/1"]).meta({
        description: "2: Ed25519 under `kid` (GET /keys); 1: issued before, an HMAC only the server can check",
      }),
      id: z.string(),
      subject: z.string(),
      purpose: z.string(),
      granted: z.boolean(),
      policyVersion: z.string(),
      region: z.string(),
      at: z.string(),
      gpc: z.boolean().meta({ description: "The request sent Sec-GPC: 1" }),
      overrideGpc: z.boolean(),
      actor: z.string().optional().meta({ description: "The agent who chose for the subject" }),
      ...signedFields,
    })
    .meta({ id: "Receipt", description: "A signed record of one consent choice" }),
);

export const consentsList = z
  .object({
    subject: z.string(),
    region: z.string(),
    gpc: z.boolean(),
    policyVersion: z.string(),
    purposes: z.array(
      z.object({
        purpose: z.string(),
        description: z.string(),
        granted: z.boolean(),
        source: z.enum(["explicit", "gpc", "legal-basis", "region-default"]),
        legalBasis: z.string(),
        saleOrShare: z.boolean(),
        region: z.string(),
        gpcConflict: z.boolean(),
        receiptId: z.string().optional(),
        choiceAt: isoTime.optional(),
      }),
    ),
  })
  .meta({ id: "Consents", description: "The effective decision for every purpose of the policy" });

const privacyRequestFields = {
  id: z.string(),
  type: z.enum(["export", "erasure"]),
  status: z.enum(["received", "completed", "partial", "overdue", "aborted", "failed"]),
  region: z.string(),
  receivedAt: isoTime,
  dueAt: isoTime,
  completedAt: isoTime.nullable(),
  actorId: z.string().nullable(),
  details: z.unknown(),
};
describes<PrivacyRequestView>()(z.object(privacyRequestFields));

export const privacyRequest = z
  .object({ ...privacyRequestFields, overdue: z.boolean().meta({ description: "Open and past dueAt now" }) })
  .meta({ id: "PrivacyRequest", description: "An export or erasure request and its legal deadline" });

export const requestsList = z.object({ requests: z.array(privacyRequest) }).meta({ id: "PrivacyRequests" });

export const erasureCertificate = describes<ErasureCertificate>()(
  z
    .object({
      version: z.enum(["consentgate-erasure/2", "consentgate-erasure/1"]),
      requestId: z.string(),
      subject: z.string(),
      status: z.enum(["completed", "partial"]),
      policyVersion: z.string(),
      receivedAt: z.string(),
      completedAt: z.string().nullable(),
      erased: z.object({
        tables: z.object({
          interactions: z.number(),
          interactionWindows: z.number(),
          consentEvents: z.number(),
          consentState: z.number(),
          privacyRequests: z.number(),
          telemetryReports: z.number(),
          learningUpdates: z.number(),
        }),
        dataSources: z.record(z.string(), z.number()),
      }),
      failures: z.array(
        z.object({
          dataSource: z.string(),
          reason: z.enum(["data_source_failed", "data_source_missing"]),
          at: z.string(),
        }),
      ),
      ...signedFields,
    })
    .meta({ id: "ErasureCertificate", description: "A signed certificate of what was erased where" }),
);

/** consentgate-export/1, streamed: the data the app's own sources return is theirs to shape. */
export const exportDocument = z
  .object({
    format: z.literal("consentgate-export/1"),
    generatedAt: isoTime,
    subject: z.string(),
    region: z.string(),
    policyVersion: z.string(),
    request: z.object({ id: z.string(), receivedAt: isoTime, dueAt: isoTime }),
    purposes: z.record(
      z.string(),
      z.object({
        description: z.string(),
        legalBasis: z.string(),
        saleOrShare: z.boolean(),
        sensitive: z.boolean(),
        retention: z.string().nullable(),
        window: z.number().nullable(),
        decision: z.object({ granted: z.boolean(), source: z.string() }),
      }),
    ),
    consents: z.object({
      current: z.record(z.string(), z.object({ granted: z.boolean(), receiptId: z.string(), at: isoTime })),
      history: z.array(receipt),
    }),
    interactions: z.record(z.string(), z.array(z.record(z.string(), z.unknown()))),
    requests: z.array(z.object(privacyRequestFields)),
    telemetry: z.array(z.object({ metric: z.string(), at: isoTime })),
    learning: z.array(z.record(z.string(), z.unknown())),
    dataSources: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "Export", description: "Everything held about the subject (consentgate-export/1)" });

export const insightRelease = describes<InsightView>()(
  z
    .object({
      name: z.string(),
      purpose: z.string(),
      releasedAt: z.string(),
      epsilon: z.number(),
      delta: z.number(),
      threshold: z.number(),
      keys: z.array(z.object({ key: z.string(), count: z.number() })),
    })
    .meta({ id: "InsightRelease", description: "A differentially private release: noisy counts of distinct people" }),
);

/** The body of POST /telemetry/:metric (checked by validateReport, against the metric's sketch). */
export const telemetryReport = z
  .strictObject({
    hash: z.int().min(0).meta({ description: "In [0, sketch.hashes)" }),
    index: z.int().min(0).meta({ description: "In [0, sketch.width)" }),
    bit: z.union([z.literal(1), z.literal(-1)]),
  })
  .meta({
    id: "TelemetryReport",
    description: "One randomized record, as consentgate/client's telemetryReport made it",
  });

export const telemetryFrequencies = describes<TelemetryFrequencies>()(
  z
    .object({
      metric: z.string(),
      reports: z.number(),
      estimates: z.array(z.object({ value: z.string(), frequency: z.number(), standardError: z.number() })),
    })
    .meta({ id: "TelemetryFrequencies" }),
);

export const learningModel = describes<ModelView>()(
  z
    .object({
      model: z.string(),
      purpose: z.string(),
      version: z.number(),
      round: z.number().nullable(),
      status: z.enum(["training", "stopped"]),
      items: z.array(z.string()),
      dimensions: z.number(),
      clip: z.number(),
      factors: z.string().meta({ description: "base64 of items × dimensions little-endian float32, row-major" }),
    })
    .meta({ id: "LearningModel" }),
);

/** The body of POST /learning/:model/updates (checked by parseUpdate, against the model's size). */
export const learningUpdate = z
  .strictObject({
    round: z.int().min(1),
    delta: z.string().meta({ description: "base64 of items × dimensions little-endian float32, the clipped update" }),
  })
  .meta({ id: "LearningUpdate" });

export const learningAccepted = z.object({ round: z.number() }).meta({ id: "LearningAccepted" });

export const learningStatus = describes<LearningStatus>()(
  z
    .object({
      model: z.string(),
      purpose: z.string(),
      status: z.enum(["training", "stopped"]),
      version: z.number(),
      round: z
        .object({
          number: z.number(),
          openedAt: z.string(),
          pending: z.number(),
          minClients: z.number(),
          overdue: z.boolean(),
        })
        .nullable(),
      aggregation: z.string(),
      trim: z.number(),
      clip: z.number(),
      noise: z.number(),
      learningRate: z.number(),
      budget: z.object({ epsilon: z.number(), delta: z.number() }),
      spent: z.object({ rho: z.number(), epsilon: z.number() }),
      rounds: z.array(
        z.object({
          round: z.number(),
          openedAt: z.string(),
          closedAt: z.string(),
          status: z.enum(["aggregating", "published", "abandoned"]),
          participants: z.number(),
          rho: z.number(),
          version: z.number().nullable(),
        }),
      ),
    })
    .meta({ id: "LearningStatus" }),
);

export const verifyResult = describes<VerifyResult>()(
  z
    .union([
      z.object({ ok: z.literal(true), entries: z.number() }),
      z.object({ ok: z.literal(false), brokenAt: z.number(), reason: z.string() }),
    ])
    .meta({ id: "ChainCheck", description: "What recomputing the region's hash chain found" }),
);

const countsByPurpose = z.object({ total: z.number(), byPurpose: z.record(z.string(), z.number()) });

export const regionReport = describes<RegionReport>()(
  z
    .object({
      region: z.string(),
      from: z.string().nullable(),
      to: z.string().nullable(),
      asOf: z.string(),
      consents: z.object({ given: z.number(), withdrawn: z.number() }),
      requests: z.object({
        received: z.number(),
        completed: z.number(),
        overdue: z.number(),
        openOverdue: z.number(),
      }),
      rowsPurged: countsByPurpose,
      writesBlocked: countsByPurpose,
    })
    .meta({ id: "RegionReport" }),
);

/** GET /keys: the Ed25519 public keys receipts and certificates are signed with (RFC 8037 JWKs). */
export const jwks = z
  .object({
    keys: z.array(
      z.object({
        kty: z.literal("OKP"),
        crv: z.literal("Ed25519"),
        x: z.string().meta({ description: "The public key, base64url" }),
        kid: z.string(),
        alg: z.literal("EdDSA"),
        use: z.literal("sig"),
      }),
    ),
  })
  .meta({ id: "JWKS", description: "The public keys that verify signatures (JSON Web Key Set)" });
