/**
 * gate.router(): the endpoints end users exercise their rights through
 * (docs/http-api.md). Mounted by the host, e.g. app.use("/privacy", gate.router()).
 */
import express, { type Request, type Response, type Router } from "express";
import { z } from "zod";
import type { Decision } from "../decision/decide.ts";
import { effectiveDecisions } from "../decision/effective.ts";
import { ConsentgateError, answerErrors, isConsentgateError, sendError } from "../errors.ts";
import { RIGHTS_ROUTER, markGate } from "../route-marks.ts";
import type { DocumentSigner } from "../signatures/ed25519.ts";
import type { ConsentCache } from "../store/consent-cache.ts";
import type { InsightView } from "../store/insights.ts";
import type { LearningStatus, ModelView, StoredUpdate } from "../store/learning.ts";
import type { TelemetryRecordView } from "../store/telemetry.ts";
import type { TelemetryFrequencies } from "../telemetry/sketch.ts";
import { type PrivacyRequestView, type Requests, isOverdue } from "../store/requests.ts";
import { type AdminDeps, createAdminRouter } from "./admin.ts";
import { type ChoiceDeps, recordChoice } from "./choices.ts";
import { type ErasureDeps, erase } from "./erasure.ts";
import { loadDeviceClient } from "./device-client.ts";
import { type ExportDeps, httpDownload, streamExport } from "./export.ts";
import type { RightsLimiters } from "./limits.ts";
import { targetOf } from "./subject.ts";

/** What the rights endpoints need: each endpoint's own, and req.privacy for a router mounted without gate.middleware(). */
export type RightsDeps = ChoiceDeps &
  ErasureDeps &
  ExportDeps &
  AdminDeps & {
    readonly consents: Pick<ConsentCache, "choices" | "changed">;
    readonly requests: Pick<Requests, "find" | "forSubject">;
    /** Signs receipts and certificates; its public keys are what GET /keys serves. */
    readonly signer: Pick<DocumentSigner, "sign" | "check" | "jwks">;
    /** Builds req.privacy (gate.middleware() does the same). */
    readonly privacy: (req: Request) => Request["privacy"];
    /** Differentially private releases (src/insights/release.ts, wired in by createConsentgate). */
    readonly insights: InsightServing;
    /** Local-DP telemetry (src/insights/telemetry.ts, wired in by createConsentgate). */
    readonly telemetry: TelemetryServing;
    /** Federated learning (src/learning/, wired in by createConsentgate). */
    readonly learning: LearningServing;
    /** The OpenAPI document of this router mounted at `basePath` (src/openapi/, wired in by createConsentgate). */
    readonly openapi: (basePath: string) => object;
  };

/** What GET /learning/:model, POST /learning/:model/updates, the admin route and the export use. */
export interface LearningServing {
  /** The current version for a device (not_found for a model the policy lacks or the code has not defined). */
  model(name: string): Promise<ModelView>;
  /**
   * Accepts one update or throws (not_found, unauthenticated, invalid_body, consent_required,
   * consent_unavailable, already_reported, round_closed); nothing is stored when it throws.
   */
  contribute(name: string, contributor: Reporter, body: unknown): Promise<{ round: number }>;
  /** The length of the base64 delta the model takes, to size the body parser; undefined when there is no such model. */
  expectedLength(name: string): Promise<number | undefined>;
  /** The model's training, for the DPO. */
  status(name: string): Promise<LearningStatus>;
  /** The subject's pending updates, for the export. */
  forSubject(subjectId: string): Promise<StoredUpdate[]>;
}

/** What POST /telemetry/:metric, GET /admin/telemetry/:metric and the export use. */
export interface TelemetryServing {
  /**
   * Accepts one report or throws (not_found, unauthenticated, invalid_body, consent_required,
   * consent_unavailable, report_limit with details.retryAfter); nothing is stored when it throws.
   */
  report(metric: string, reporter: Reporter, body: unknown): Promise<void>;
  /** The metric's estimates for the candidates (not_found, invalid_body). */
  frequencies(metric: string, candidates: readonly string[]): Promise<TelemetryFrequencies>;
  /** When the subject reported, for the export. */
  forSubject(subjectId: string): Promise<TelemetryRecordView[]>;
}

/** Who sends a report: req.privacy's subject, region and decision rules. */
export interface Reporter {
  subjectId: string | undefined;
  region: string;
  decide(purpose: string): Promise<Decision>;
}

/** What GET /insights/:name serves: the newest release, and when the next may come. */
export interface InsightServing {
  /** The newest release, top `k` keys; `not_found` for a name the policy lacks, `invalid_body` for a bad k. */
  latest(name: string, options: { k?: number }): Promise<InsightView | undefined>;
  /** When the next release of `name` may be made (its newest plus the policy's `every`). */
  nextReleaseAt(name: string, latest: InsightView | undefined): Date;
}

const UPDATE_PATH = /^\/learning\/[^/]+\/updates\/?$/;
const isUpdate = (req: Request) => req.method === "POST" && UPDATE_PATH.test(req.path);

/**
 * The JSON parser of an update: its limit is the model's delta plus room for
 * `round` and the braces, so a model of any size fits and nothing larger is
 * read. (A host that parsed the body already, with a smaller limit, answers
 * 413 before this runs: docs/learning.md says how to mount the router.)
 */
function updateBody(deps: Pick<RightsDeps, "learning">) {
  const parsers = new Map<number, ReturnType<typeof express.json>>();
  // The limit only bounds what is read (the update's exact length is checked against the store when it is
  // accepted), so a model's size is looked up at most every LIMIT_TTL_MS rather than twice per update. Only
  // defined models are remembered: the policy names them all, so the map stays as small as the policy.
  const limits = new Map<string, { limit: number; until: number }>();
  const limitOf = async (model: string) => {
    const known = limits.get(model);
    if (known && known.until > Date.now()) return known.limit;
    const length = await deps.learning.expectedLength(model);
    const limit = (length ?? 0) + 1024;
    if (length !== undefined) limits.set(model, { limit, until: Date.now() + LIMIT_TTL_MS });
    return limit;
  };
  return (req: Request, res: Response, next: (error?: unknown) => void) => {
    // Nobody signed in: the route answers 401 without reading a model's worth of body first.
    if (req.privacy.subject === undefined) return next();
    limitOf(String(req.params.model)).then((limit) => {
      let parser = parsers.get(limit);
      if (!parser) parsers.set(limit, (parser = express.json({ limit })));
      parser(req, res, next);
    }, next);
  };
}

/** How long the update route trusts a model's size for its body limit: a changed catalogue is seen within it. */
const LIMIT_TTL_MS = 10_000;

/** How long GET /keys may be cached, in seconds. */
const KEYS_MAX_AGE_S = 3600;

/** `?k=`: digits only, else the route answers invalid_body (latest() checks the range). */
const K_PARAM = /^[0-9]{1,7}$/;

/** A request with its legal deadline spelled out. */
function withDeadline(request: PrivacyRequestView, now: Date) {
  return { ...request, overdue: isOverdue(request, now) };
}

/** The body of PUT /consents/:purpose (also the OpenAPI document's schema of it). */
export const choiceBody = z.strictObject({ granted: z.boolean(), overrideGpc: z.boolean().optional() });

type Handler = (req: Request, res: Response) => Promise<void>;

/** `limiters` are made once per gate (createRightsLimiters), so that every mount of the router shares their counts. */
export function createRightsRouter(deps: RightsDeps, limiters: RightsLimiters): Router {
  const router = express.Router();
  const smallBody = express.json({ limit: "16kb" });
  // An update is one model's worth of floats: its route sizes the parser by the model (updateBody).
  router.use((req, res, next) => (isUpdate(req) ? next() : smallBody(req, res, next)));
  // The host may not have mounted gate.middleware() in front of the router.
  router.use((req, _res, next) => {
    req.privacy ??= deps.privacy(req);
    next();
  });

  const route = (handler: Handler) => (req: Request, res: Response) =>
    handler(req, res).catch((error: unknown) => sendError(res, error));

  router.get(
    "/consents",
    limiters.reads,
    route(async (req, res) => {
      const target = targetOf(req);
      const { region, signals } = req.privacy;
      const choices = await deps.consents.choices(target.subjectId);
      const purposes = effectiveDecisions(deps.policy, { region, gpc: signals.gpc }, choices).map(
        ({ purpose, choice, decision }) => {
          return {
            purpose: purpose.name,
            description: purpose.description,
            granted: decision.allowed,
            source: decision.source,
            legalBasis: purpose.legalBasis,
            saleOrShare: purpose.saleOrShare,
            region,
            // A grant the GPC signal overrides: the page shows the conflict and offers overrideGpc.
            gpcConflict: decision.source === "gpc" && choice?.granted === true,
            ...(choice ? { receiptId: choice.receiptId, choiceAt: choice.at.toISOString() } : {}),
          };
        },
      );
      res.json({ subject: target.subjectId, region, gpc: signals.gpc, policyVersion: deps.policy.version, purposes });
    }),
  );

  router.put(
    "/consents/:purpose",
    limiters.consentChanges,
    route(async (req, res) => {
      const target = targetOf(req);
      const parsed = choiceBody.safeParse(req.body);
      if (!parsed.success) {
        throw new ConsentgateError(
          "invalid_body",
          `expected { "granted": true | false, "overrideGpc"?: boolean }: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`,
        );
      }
      const { receipt } = await recordChoice(deps, {
        subjectId: target.subjectId,
        actorId: target.actorId,
        purpose: String(req.params.purpose),
        granted: parsed.data.granted,
        overrideGpc: parsed.data.overrideGpc ?? false,
        gpc: req.privacy.signals.gpc,
        region: req.privacy.region,
      });
      res.status(200).json(receipt);
    }),
  );

  router.get(
    "/export",
    limiters.requests,
    route(async (req, res) => {
      const target = targetOf(req);
      const signals = { region: req.privacy.region, gpc: req.privacy.signals.gpc };
      await streamExport(deps, target, signals, res, httpDownload(res));
    }),
  );

  router.delete(
    "/data",
    limiters.requests,
    route(async (req, res) => {
      const target = targetOf(req);
      res.status(200).json(await erase(deps, target, req.privacy.region));
    }),
  );

  router.get(
    "/requests",
    limiters.reads,
    route(async (req, res) => {
      const target = targetOf(req);
      const now = deps.now();
      res.json({ requests: (await deps.requests.forSubject(target.subjectId)).map((r) => withDeadline(r, now)) });
    }),
  );

  router.get(
    "/requests/:id",
    limiters.reads,
    route(async (req, res) => {
      const target = targetOf(req);
      const found = await deps.requests.find(target.subjectId, String(req.params.id));
      // Another subject's request reads as missing: its existence is not for this caller to learn.
      if (!found) throw new ConsentgateError("not_found", "no such request");
      res.json(withDeadline(found, deps.now()));
    }),
  );

  // Public: the keys receipts and certificates are verified with, for anyone to fetch. They change only when
  // the host rotates keys, and an old key stays listed after a new one, so an hour in a cache is harmless.
  router.get("/keys", (_req, res) => {
    res.set("Cache-Control", `public, max-age=${KEYS_MAX_AGE_S}`);
    res.json(deps.signer.jwks);
  });

  // Public: a release describes everyone and no one, so it needs no sign-in, and it changes only
  // when the next release is made, so caches may keep it until then.
  router.get(
    "/insights/:name",
    route(async (req, res) => {
      const name = String(req.params.name);
      const k = req.query.k;
      if (k !== undefined && (typeof k !== "string" || !K_PARAM.test(k))) {
        throw new ConsentgateError("invalid_body", "k must be a whole number, e.g. ?k=20");
      }
      const latest = await deps.insights.latest(name, k === undefined ? {} : { k: Number(k) });
      if (!latest) throw new ConsentgateError("not_found", `insight "${name}" has not been released yet`);
      const fresh = Math.floor((deps.insights.nextReleaseAt(name, latest).getTime() - deps.now().getTime()) / 1000);
      res.set("Cache-Control", `public, max-age=${Math.max(0, fresh)}`);
      res.set("Last-Modified", latest.releasedAt.toUTCString());
      res.json(latest);
    }),
  );

  // A device's one randomized record. The reporter is the signed-in subject itself, never one an agent names:
  // a report stands for the device that randomized it.
  router.post(
    "/telemetry/:metric",
    route(async (req, res) => {
      const privacy = req.privacy;
      try {
        await deps.telemetry.report(
          String(req.params.metric),
          { subjectId: privacy.subject, region: privacy.region, decide: (purpose) => privacy.decide(purpose) },
          req.body,
        );
      } catch (error) {
        if (isConsentgateError(error, "report_limit")) res.set("Retry-After", String(error.details.retryAfter));
        throw error;
      }
      // Accepted into the sums; there is nothing to send back (the report is not kept).
      res.status(202).end();
    }),
  );

  const client = loadDeviceClient();
  router.get(
    "/learning/:file.js",
    route(async (req, res) => {
      const source = client.get(`${String(req.params.file)}.js`);
      if (source === undefined) {
        throw new ConsentgateError(
          "not_found",
          client.size === 0 ? "the device client is not built (npm run build)" : `no client file ${req.path}`,
        );
      }
      res.type("text/javascript").set("Cache-Control", "public, max-age=3600").send(source);
    }),
  );

  // Devices download the model to recommend and train on; the signed-in subject only, as any of their data.
  router.get(
    "/learning/:model",
    limiters.reads,
    route(async (req, res) => {
      if (req.privacy.subject === undefined)
        throw new ConsentgateError("unauthenticated", "sign in to download a model");
      res.set("Cache-Control", "private, no-cache");
      res.json(await deps.learning.model(String(req.params.model)));
    }),
  );

  // One device's update: the contributor is the signed-in subject itself, never one an agent names.
  router.post(
    "/learning/:model/updates",
    updateBody(deps),
    route(async (req, res) => {
      const privacy = req.privacy;
      const accepted = await deps.learning.contribute(
        String(req.params.model),
        { subjectId: privacy.subject, region: privacy.region, decide: (purpose) => privacy.decide(purpose) },
        req.body,
      );
      res.status(202).json(accepted);
    }),
  );

  router.use("/admin", createAdminRouter(deps));

  // Public, like any API description: it names the router's own mount, so a client joins its paths as Express does.
  router.get("/openapi.json", (req, res) => {
    res.json(deps.openapi(req.baseUrl || "/"));
  });

  router.use(
    route(async (req) => {
      throw new ConsentgateError("not_found", `no privacy endpoint ${req.method} ${req.path}`);
    }),
  );
  // Body parser failures: malformed JSON and oversized bodies.
  router.use(answerErrors);
  return markGate(router, RIGHTS_ROUTER);
}
