/**
 * The options of createConsentgate, validated once at start-up so that a
 * mistake stops the app with a clear `invalid_option` error instead of
 * surfacing later as a wrong privacy decision.
 */
import type { Request } from "express";
import type { Store } from "express-rate-limit";
import cron from "node-cron";
import { z } from "zod";
import { ConsentgateError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { JOB_NAMES, type JobName } from "./policy/types.ts";

/** Who is acting on a request (for admin and agent routes). */
export interface Actor {
  id: string;
  roles: string[];
}

/**
 * How often one caller may use the rights endpoints (gate.router()). Counted
 * per signed-in subject, anonymous callers per IP address, over a fixed
 * window. The defaults are far above what a person does by hand and far
 * below what a script needs to grow one subject's history without bound.
 */
export interface RightsLimits {
  /** The window the counts below are kept over, in milliseconds. Default 15 minutes. */
  windowMs?: number;
  /** PUT /consents/:purpose per window. Default 60. */
  consentChanges?: number;
  /** GET /export and DELETE /data together per window: each opens a privacy request. Default 10. */
  requests?: number;
  /** GET /consents, GET /requests and GET /requests/:id per window. Default 300. */
  reads?: number;
  /**
   * Where the counts live, one store per group. Default: this process's
   * memory, so each instance counts on its own; return an express-rate-limit
   * store (Redis, Memcached, …) to share counts across instances.
   */
  store?: (group: RightsLimitGroup) => Store;
}

export type RightsLimitGroup = "consentChanges" | "requests" | "reads";

export const DEFAULT_LIMITS = { windowMs: 15 * 60 * 1000, consentChanges: 60, requests: 10, reads: 300 } as const;

export interface ConsentgateOptions {
  /** A folder of YAML policy files, or an already-parsed policy object. Default "./policies". */
  policies?: string | Record<string, unknown>;
  /**
   * Where data lives. Absent → embedded PGlite files in ./.consentgate/;
   * file:///path/to/folder → embedded PGlite files in that folder instead;
   * "memory" → in-memory PGlite (nothing written to disk); postgres://user@host/db → PostgreSQL.
   */
  database?: string;
  /** Whose data the request is about; undefined → anonymous. Default: nobody (every request anonymous). */
  subject?: (req: Request) => string | undefined;
  /** Who is acting: { id, roles }. Default: the subject, with no roles. */
  actor?: (req: Request) => Actor | undefined;
  /** The request's region; else the policy's region header / country map; else the policy's default region. */
  region?: (req: Request) => string | undefined;
  /** Key for pseudonyms and receipt signatures; at least 32 characters. Required unless database is "memory". */
  secret?: string;
  /** Schedule purge and compliance jobs in this process. Default false. */
  jobs?: boolean;
  /** Cron expressions (UTC) overriding the policy's and the default job schedules, e.g. { purge: "0,30 * * * *" }. */
  schedules?: Partial<Record<JobName, string>>;
  /** A pino-shaped logger. Default: silent. */
  logger?: Logger;
  /** The clock, injectable for tests. Default: () => new Date(). */
  now?: () => Date;
  /** Connections in the PostgreSQL pool. Default 10. */
  poolSize?: number;
  /** Rate limits on the rights endpoints; see RightsLimits for the defaults. */
  limits?: RightsLimits;
}

export const MIN_SECRET_LENGTH = 32;

const fn = (name: string) =>
  z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", { message: `${name} must be a function` });

const schema = z.strictObject({
  policies: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
  database: z.string().optional(),
  subject: fn("subject").optional(),
  actor: fn("actor").optional(),
  region: fn("region").optional(),
  secret: z.string().min(MIN_SECRET_LENGTH, `secret must be at least ${MIN_SECRET_LENGTH} characters`).optional(),
  jobs: z.boolean().optional(),
  schedules: z
    .strictObject(Object.fromEntries(JOB_NAMES.map((job) => [job, z.string().refine((e) => cron.validate(e), { error: (i) => `${JSON.stringify(i.input)} is not a cron expression` }).optional()])))
    .optional(),
  logger: z
    .custom<Logger>(
      (v) => typeof v === "object" && v !== null && ["debug", "info", "warn", "error"].every((m) => typeof (v as Record<string, unknown>)[m] === "function"),
      { message: "logger must have debug, info, warn and error methods" },
    )
    .optional(),
  now: fn("now").optional(),
  poolSize: z.number().int().min(1).max(1000).optional(),
  limits: z
    .strictObject({
      windowMs: z.number().int().min(1000).max(7 * 24 * 60 * 60 * 1000).optional(),
      consentChanges: z.number().int().min(1).optional(),
      requests: z.number().int().min(1).optional(),
      reads: z.number().int().min(1).optional(),
      store: fn("limits.store").optional(),
    })
    .optional(),
});

/** Throws `invalid_option` listing every problem with the options. */
export function validateOptions(options: unknown): ConsentgateOptions {
  const result = schema.safeParse(options ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`
        : `${issue.path.join(".") || "options"}: ${issue.message}`,
    );
    throw new ConsentgateError("invalid_option", `createConsentgate: ${problems.join("; ")}`, { problems });
  }
  const parsed = result.data as ConsentgateOptions;
  if (parsed.database !== "memory" && parsed.secret === undefined) {
    throw new ConsentgateError(
      "invalid_option",
      `createConsentgate: secret is required unless database is "memory" (pseudonyms and receipt signatures depend on it); set CONSENTGATE_SECRET`,
      { problems: ["secret: required"] },
    );
  }
  return parsed;
}

const MAX_ACTOR_ID = 256;

/** What is wrong with an actor the host's function returned, or undefined when it is { id, roles: string[] }. */
function actorProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return `the actor is ${value === null ? "null" : typeof value}, not an object`;
  const { id, roles } = value as Record<string, unknown>;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ACTOR_ID) return `id must be a string of 1-${MAX_ACTOR_ID} characters`;
  if (!Array.isArray(roles)) return `roles is ${roles === null ? "null" : typeof roles}, not an array of strings`;
  if (!roles.every((role) => typeof role === "string")) return "roles holds something other than strings";
  return undefined;
}

/**
 * The host's actor function, checked on every call. Roles grant reading and
 * erasing other people's data, so anything but { id, roles: string[] } (a
 * roles string whose `includes` matches a substring, a thrown error) counts
 * as no actor at all: the request keeps only what its subject may do. The
 * first such actor is reported to the logger, without its content.
 */
export function checkedActor(actorOf: ((req: Request) => Actor | undefined) | undefined, logger: Logger): (req: Request) => Actor | undefined {
  if (actorOf === undefined) return () => undefined;
  let reported = false;
  const report = (details: object) => {
    if (reported) return;
    reported = true;
    logger.warn(details, "consentgate: the actor option gave a malformed actor (expected { id: string, roles: string[] }); such requests act with no roles. Reported once.");
  };
  return (req) => {
    let actor: unknown;
    try {
      actor = actorOf(req);
    } catch (error) {
      report({ err: error });
      return undefined;
    }
    // null is how many hosts spell "nobody signed in".
    if (actor === undefined || actor === null) return undefined;
    const problem = actorProblem(actor);
    if (problem !== undefined) {
      report({ problem });
      return undefined;
    }
    // A copy: the host's object cannot change roles after they were checked.
    const { id, roles } = actor as Actor;
    return { id, roles: [...roles] };
  };
}
