/**
 * Every route gate.router() answers, in one table: who may call it, what it
 * takes, what it answers, and every error code it can send. The OpenAPI
 * document (document.ts) is built from this table and nothing else, and the
 * tests provoke each listed error over HTTP and walk the router's own stack,
 * so the table can claim neither less nor more routes than the code has.
 */
import { z } from "zod";
import type { HttpErrorCode } from "../errors.ts";
import { choiceBody } from "../rights/router.ts";
import * as s from "./schemas.ts";

/** Who may call a route (docs/http-api.md: Who is calling). */
export type Caller = "anyone" | "subject" | "device" | "dpo";

export interface RouteDescription {
  method: "get" | "put" | "post" | "delete";
  /** OpenAPI path template, relative to where the router is mounted. */
  path: string;
  summary: string;
  who: Caller;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The success answer: status, media type and (for JSON) schema. */
  ok: { status: 200 | 202; description: string; type?: string; schema?: z.ZodType; headers?: readonly string[] };
  /** Other non-error answers (a 304). */
  also?: Record<string, string>;
  /** Every error code the route can answer with, besides the body parser's (BODY_ERRORS) and `internal`. */
  errors: readonly HttpErrorCode[];
}

/** The router parses every body (up to 16 KiB, a learning update up to the model's size) before any route runs. */
export const BODY_ERRORS: readonly HttpErrorCode[] = ["invalid_body", "payload_too_large"];

/** A rate-limited route: over the limit, or a limit store that failed. */
const LIMITED: readonly HttpErrorCode[] = ["too_many_requests", "consent_unavailable"];

/**
 * A subject route (docs/http-api.md: Order of the checks): ?subject= without the agent role, a bad
 * ?subject= or subject id, nobody signed in.
 */
const SUBJECT: readonly HttpErrorCode[] = ["forbidden", "invalid_body", "unauthenticated"];

/** The DPO's routes: anonymous, not the role dpo, a region (or metric, model) the policy lacks. */
const DPO: readonly HttpErrorCode[] = ["unauthenticated", "forbidden", "not_found"];

const subjectQuery = z.object({
  subject: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .meta({ description: "The subject an agent acts for (role agent only); the signed-in subject when absent" }),
});

const one = (name: string, description: string) => z.object({ [name]: z.string().meta({ description }) });

export const ROUTES: readonly RouteDescription[] = [
  {
    method: "get",
    path: "/consents",
    summary: "The effective decision for every purpose, in this request's region and with its GPC signal",
    who: "subject",
    query: subjectQuery,
    ok: { status: 200, description: "The purposes and their decisions", schema: s.consentsList },
    errors: [...LIMITED, ...SUBJECT],
  },
  {
    method: "put",
    path: "/consents/{purpose}",
    summary: "Records a consent choice and answers its signed receipt",
    who: "subject",
    params: one("purpose", "A purpose of the policy"),
    query: subjectQuery,
    body: choiceBody,
    ok: { status: 200, description: "The signed receipt", schema: s.receipt },
    errors: [...LIMITED, ...SUBJECT, "unknown_purpose"],
  },
  {
    method: "get",
    path: "/export",
    summary: "Everything held about the subject, as a download (opens an export request)",
    who: "subject",
    query: subjectQuery,
    ok: {
      status: 200,
      description: "The export document, streamed",
      schema: s.exportDocument,
      headers: ["Content-Disposition"],
    },
    errors: [...LIMITED, ...SUBJECT],
  },
  {
    method: "delete",
    path: "/data",
    summary: "Erases everything held about the subject and answers a signed certificate",
    who: "subject",
    query: subjectQuery,
    ok: { status: 200, description: "The signed erasure certificate", schema: s.erasureCertificate },
    errors: [...LIMITED, ...SUBJECT],
  },
  {
    method: "get",
    path: "/requests",
    summary: "The subject's export and erasure requests, newest first",
    who: "subject",
    query: subjectQuery,
    ok: { status: 200, description: "The requests", schema: s.requestsList },
    errors: [...LIMITED, ...SUBJECT],
  },
  {
    method: "get",
    path: "/requests/{id}",
    summary: "One of the subject's requests",
    who: "subject",
    params: one("id", "The request's id (a UUID)"),
    query: subjectQuery,
    ok: { status: 200, description: "The request", schema: s.privacyRequest },
    errors: [...LIMITED, ...SUBJECT, "not_found"],
  },
  {
    method: "get",
    path: "/insights/{name}",
    summary: "The newest differentially private release of an insight (public, cacheable)",
    who: "anyone",
    params: one("name", "An insight of the policy"),
    query: z.object({
      k: z.string().optional().meta({ description: "How many top keys, 1 to 1000 (default 20)", example: "20" }),
    }),
    ok: {
      status: 200,
      description: "The release",
      schema: s.insightRelease,
      headers: ["Cache-Control", "Last-Modified", "ETag"],
    },
    also: { "304": "The ETag sent in If-None-Match is current" },
    errors: ["invalid_body", "not_found"],
  },
  {
    method: "post",
    path: "/telemetry/{metric}",
    summary: "One device's randomized telemetry report",
    who: "device",
    params: one("metric", "A telemetry metric of the policy"),
    body: s.telemetryReport,
    ok: { status: 202, description: "Added into the metric's sums; no body" },
    errors: ["not_found", "unauthenticated", "invalid_body", "consent_required", "consent_unavailable", "report_limit"],
  },
  {
    method: "get",
    path: "/learning/{file}.js",
    summary: "The device-side module (consentgate/client) and its sibling files",
    who: "anyone",
    params: one("file", "client, or one of the files client.js imports"),
    ok: { status: 200, description: "An ES module", type: "text/javascript", headers: ["Cache-Control"] },
    errors: ["not_found"],
  },
  {
    method: "get",
    path: "/learning/{model}",
    summary: "The current version of a federated model, for a device to recommend and train on",
    who: "device",
    params: one("model", "A federated model of the policy"),
    ok: { status: 200, description: "The model", schema: s.learningModel, headers: ["Cache-Control"] },
    errors: [...LIMITED, "unauthenticated", "not_found"],
  },
  {
    method: "post",
    path: "/learning/{model}/updates",
    summary: "One device's clipped update to the open round",
    who: "device",
    params: one("model", "A federated model of the policy"),
    body: s.learningUpdate,
    ok: { status: 202, description: "Accepted into the round", schema: s.learningAccepted },
    errors: [
      "not_found",
      "unauthenticated",
      "invalid_body",
      "consent_required",
      "consent_unavailable",
      "already_reported",
      "round_closed",
    ],
  },
  {
    method: "get",
    path: "/admin/compliance/{region}",
    summary: "The region's compliance log, one JSON entry per line, in chain order",
    who: "dpo",
    params: one("region", "A region of the policy"),
    ok: { status: 200, description: "The log entries", type: "application/x-ndjson" },
    errors: DPO,
  },
  {
    method: "get",
    path: "/admin/compliance/{region}/verify",
    summary: "Recomputes the region's hash chain",
    who: "dpo",
    params: one("region", "A region of the policy"),
    ok: { status: 200, description: "What the check found (a broken chain is still a 200)", schema: s.verifyResult },
    errors: DPO,
  },
  {
    method: "get",
    path: "/admin/report/{region}",
    summary: "The region's summary over a period",
    who: "dpo",
    params: one("region", "A region of the policy"),
    query: z.object({
      from: z.string().optional().meta({ description: "ISO 8601 date or time, inclusive", example: "2026-11-01" }),
      to: z.string().optional().meta({ description: "ISO 8601 date or time, exclusive" }),
    }),
    ok: { status: 200, description: "The report", schema: s.regionReport },
    errors: [...DPO, "invalid_body"],
  },
  {
    method: "get",
    path: "/admin/telemetry/{metric}",
    summary: "Estimated frequencies of candidate values of a telemetry metric",
    who: "dpo",
    params: one("metric", "A telemetry metric of the policy"),
    query: z.object({
      candidates: z.string().meta({ description: "The values to estimate, comma-separated", example: "jazz,rock" }),
    }),
    ok: { status: 200, description: "The estimates", schema: s.telemetryFrequencies },
    errors: [...DPO, "invalid_body"],
  },
  {
    method: "get",
    path: "/admin/learning/{model}",
    summary: "A federated model's training: rounds, participants, privacy spent",
    who: "dpo",
    params: one("model", "A federated model of the policy"),
    ok: { status: 200, description: "The training status", schema: s.learningStatus },
    errors: DPO,
  },
  {
    method: "get",
    path: "/keys",
    summary: "The public keys that verify receipts and erasure certificates (JWKS)",
    who: "anyone",
    ok: { status: 200, description: "The key set", schema: s.jwks, headers: ["Cache-Control"] },
    errors: [],
  },
  {
    method: "get",
    path: "/openapi.json",
    summary: "This document, with the router's mount path as its server",
    who: "anyone",
    ok: { status: 200, description: "The OpenAPI 3.1 document" },
    errors: [],
  },
];
