/**
 * The DPO's endpoints (docs/http-api.md): a region's compliance log as JSONL,
 * its hash-chain check, and its summary. Role `dpo` through the CASL ability;
 * nobody else learns even which regions have logs.
 */
import express, { type Request, type Response, type Router } from "express";
import type { ComplianceLog } from "../audit/events.ts";
import { type ReportSources, regionReport } from "../audit/report.ts";
import { buildAbility, complianceLog } from "../decision/ability.ts";
import { ConsentgateError, sendError } from "../errors.ts";
import type { Policy } from "../policy/types.ts";
import type { LearningStatus } from "../store/learning.ts";
import type { TelemetryFrequencies } from "../telemetry/sketch.ts";
import { drained } from "./drained.ts";

/** What the DPO's endpoints read. */
export interface AdminDeps extends ReportSources {
  readonly policy: Policy;
  readonly audit: Pick<ComplianceLog, "entries" | "verify">;
  readonly now: () => Date;
  /** Telemetry estimates (src/insights/telemetry.ts, wired in by createConsentgate). */
  readonly telemetry: {
    frequencies(metric: string, candidates: readonly string[]): Promise<TelemetryFrequencies>;
  };
  /** Federated models' training (src/learning/models.ts, wired in by createConsentgate). */
  readonly learning: { status(model: string): Promise<LearningStatus> };
}

/** `?candidates=` holds at most this many characters: 1000 candidates of about 60. */
const MAX_CANDIDATES_PARAM = 65_536;

export function createAdminRouter(deps: AdminDeps): Router {
  const router = express.Router();
  const route =
    (handler: (req: Request, res: Response, region: string) => Promise<void>) => (req: Request, res: Response) =>
      handler(req, res, authorize(deps, req)).catch((error: unknown) => sendError(res, error));

  router.get(
    "/compliance/:region",
    route(async (_req, res, region) => {
      res.status(200).type("application/x-ndjson");
      for await (const entry of deps.audit.entries(region)) {
        // A reader that went away stops the paging; a slow one is waited for, not buffered for.
        if (res.destroyed) return;
        if (!res.write(`${JSON.stringify(entry)}\n`)) await drained(res);
      }
      res.end();
    }),
  );

  router.get(
    "/compliance/:region/verify",
    route(async (_req, res, region) => {
      res.json(await deps.audit.verify(region));
    }),
  );

  router.get(
    "/report/:region",
    route(async (req, res, region) => {
      const from = dateParam(req, "from");
      const to = dateParam(req, "to");
      res.json(await regionReport(deps, region, { ...(from ? { from } : {}), ...(to ? { to } : {}), now: deps.now() }));
    }),
  );

  // Estimates describe everyone who reported and no one, but which values are asked about, and the
  // number of reports, are the operator's business: the DPO's, like the logs.
  router.get("/telemetry/:metric", (req, res) => {
    (async () => {
      requireDpo(req, "telemetry estimates are for the role dpo");
      res.json(await deps.telemetry.frequencies(String(req.params.metric), candidatesParam(req)));
    })().catch((error: unknown) => sendError(res, error));
  });

  // Rounds, participants and the privacy spent: how the model is trained, the DPO's to answer for.
  router.get("/learning/:model", (req, res) => {
    (async () => {
      requireDpo(req, "a model's training status is for the role dpo");
      res.json(await deps.learning.status(String(req.params.model)));
    })().catch((error: unknown) => sendError(res, error));
  });

  return router;
}

/** Role dpo, or unauthenticated / forbidden (with `refusal` as its message). */
function requireDpo(req: Request, refusal: string): void {
  const actor = req.privacy.actor;
  if (actor === undefined) throw new ConsentgateError("unauthenticated", "sign in as a data protection officer");
  if (!actor.roles.includes("dpo")) throw new ConsentgateError("forbidden", refusal);
}

/** `?candidates=a,b,c` (or the parameter repeated): the values to estimate; a value holding a comma needs the API. */
function candidatesParam(req: Request): string[] {
  const raw = req.query.candidates;
  const parts = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : [];
  if (parts.length === 0 || !parts.every((part) => typeof part === "string"))
    throw new ConsentgateError(
      "invalid_body",
      "?candidates= must list the values to estimate, e.g. ?candidates=jazz,rock",
    );
  const text = parts.join(",");
  if (text.length > MAX_CANDIDATES_PARAM)
    throw new ConsentgateError("invalid_body", `?candidates= is longer than ${MAX_CANDIDATES_PARAM} characters`);
  // Empty values are refused by frequencies(), with the count.
  return text.split(",");
}

/** The region the route names, once the caller may read its log. */
function authorize(deps: AdminDeps, req: Request): string {
  const actor = req.privacy.actor;
  if (actor === undefined)
    throw new ConsentgateError("unauthenticated", "sign in as a data protection officer to read compliance logs");
  const region = String(req.params.region);
  const ability = buildAbility({ policy: deps.policy, allowedPurposes: [], subjectId: undefined, roles: actor.roles });
  if (!ability.can("read", complianceLog(region)))
    throw new ConsentgateError("forbidden", "compliance logs are for the role dpo");
  if (!Object.hasOwn(deps.policy.regions, region)) {
    throw new ConsentgateError(
      "not_found",
      `no region "${region}" in the policy (regions: ${Object.keys(deps.policy.regions).join(", ")})`,
      { region },
    );
  }
  return region;
}

function dateParam(req: Request, name: string): Date | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  const date = typeof value === "string" ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime()))
    throw new ConsentgateError(
      "invalid_body",
      `?${name}= must be a date or time in ISO 8601 (2026-11-01 or 2026-11-01T00:00:00Z)`,
    );
  return date;
}
