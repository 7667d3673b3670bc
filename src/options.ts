/**
 * The options of createConsentgate, and the configuration they resolve to.
 * `ConsentgateOptions` is what a host writes: every field optional, each
 * documented with its default. `resolveConfiguration` checks them once at
 * start-up, so that a mistake stops the app with a clear `invalid_option`
 * error instead of surfacing later as a wrong privacy decision, and applies
 * every default in one place: the rest of the gate reads a `Configuration`
 * in which every field is present, and has no defaults of its own.
 */
import { randomBytes } from "node:crypto";
import type { Request } from "express";
import { MemoryStore, type Store } from "express-rate-limit";
import cron from "node-cron";
import { z } from "zod";
import type { Actor } from "./decision/ability.ts";
import { ConsentgateError } from "./errors.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { type SigningKey, signingKeyFrom, signingKeyFromSecret } from "./signatures/ed25519.ts";
import { JOB_NAMES, type JobName } from "./policy/types.ts";
import type { RateLimits, RightsLimitGroup } from "./rights/limits.ts";
import { type Database, parseDatabase } from "./store/connection.ts";

/**
 * How often one caller may use the rights endpoints (gate.router()). Counted
 * per signed-in subject, anonymous callers per IP address, over a fixed
 * window. The defaults are far above what a person does by hand and far
 * below what a script needs to grow one subject's history without bound.
 * Over the limit: `429 too_many_requests`.
 *
 * @example
 * ```ts
 * import { type RightsLimits, createConsentgate } from "consentgate";
 *
 * const limits: RightsLimits = { windowMs: 60 * 60 * 1000, consentChanges: 30, requests: 5 };
 * const gate = await createConsentgate({ database: "memory", limits });
 * ```
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

/**
 * The in-process cache of consent choices the gate decides from. A change
 * made on any instance is seen by every instance within one second whatever
 * the size (docs/deployment.md: Several instances); the size only decides
 * how many subjects are answered without a database read. Subjects missed at
 * the same moment are read together in one query.
 *
 * @example
 * ```ts
 * import { type ConsentCacheOptions, createConsentgate } from "consentgate";
 *
 * // Room for the 100 000 listeners active in an hour: some 12 to 80 MB.
 * const consentCache: ConsentCacheOptions = { subjects: 100_000 };
 * const gate = await createConsentgate({ database: process.env.DATABASE_URL, consentCache });
 * ```
 */
export interface ConsentCacheOptions {
  /**
   * Subjects whose choices are kept, least recently used out first. Default
   * 10 000. Each costs about 0.12 kB with no choice on record (most people)
   * and 0.8 kB with two (`npm run bench -- cache-memory`), so the default
   * holds some 1 to 8 MB.
   */
  subjects?: number;
  /** A read of a subject's choices that takes longer fails closed (`503 consent_unavailable`). Default 2000 ms. */
  timeoutMs?: number;
}

/** The defaults of ConsentCacheOptions, as its fields document them. */
const DEFAULT_CONSENT_CACHE = { subjects: 10_000, timeoutMs: 2000 } as const;

/** The defaults of RightsLimits, as its fields document them. */
const DEFAULT_LIMITS = { windowMs: 15 * 60 * 1000, consentChanges: 60, requests: 10, reads: 300 } as const;

/**
 * The options of createConsentgate. All are optional, except `secret`
 * outside `database: "memory"`; they are checked at start-up and a mistake
 * stops it with `invalid_option` (README: Options).
 *
 * @example
 * ```ts
 * import { type ConsentgateOptions, createConsentgate } from "consentgate";
 *
 * const options: ConsentgateOptions = {
 *   policies: "./policies",
 *   database: process.env.DATABASE_URL,
 *   secret: process.env.CONSENTGATE_SECRET,
 *   subject: (req) => req.get("x-user-id"),
 *   region: (req) => req.get("cf-ipcountry"),
 *   jobs: true,
 *   schedules: { purge: "0,30 * * * *" },
 * };
 * const gate = await createConsentgate(options);
 * ```
 */
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
  /**
   * Key for pseudonyms and receipt signatures; at least 32 characters. Required unless database is "memory";
   * there, default: a random key for this process (nothing it signs outlives the process).
   */
  secret?: string;
  /**
   * Ed25519 private keys that sign receipts and erasure certificates, each a
   * PKCS#8 PEM text or a private JWK ({ kty: "OKP", crv: "Ed25519", x, d }),
   * or the word "secret" for the key derived from `secret`, at that place in
   * the list. The first signs; exactly these are published by `GET /keys` and
   * accepted, so a key taken out of the list (a leaked one) stops verifying.
   * To rotate, add the new key second, then move it first once the JWKS
   * caches have expired (docs/deployment.md: Signing keys). A host moving
   * from the derived key writes [newKey, "secret"] so that its older documents
   * keep verifying, and drops "secret" later. Default: the key derived from
   * `secret` alone.
   */
  signingKeys?: (string | { kty: string; crv: string; x: string; d: string })[];
  /** Schedule purge and compliance jobs in this process. Default false. */
  jobs?: boolean;
  /** Cron expressions (UTC) overriding the policy's and the default job schedules, e.g. { purge: "0,30 * * * *" }. */
  schedules?: Partial<Record<JobName, string>>;
  /** A pino-shaped logger. Default: silent. */
  logger?: Logger;
  /** The clock, injectable for tests. Default: () => new Date(). */
  now?: () => Date;
  /** Connections in the PostgreSQL pool. Default 10 (DEFAULT_POOL_SIZE). */
  poolSize?: number;
  /** Rate limits on the rights endpoints; see RightsLimits for the defaults. */
  limits?: RightsLimits;
  /** The consent cache's size and read timeout; see ConsentCacheOptions for the defaults. */
  consentCache?: ConsentCacheOptions;
}

/** The `poolSize` default; also what the CLI opens the app's database with. */
export const DEFAULT_POOL_SIZE = 10;

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
  signingKeys: z
    .array(z.union([z.string(), z.record(z.string(), z.unknown())]), {
      error: 'signingKeys must be a list of PEM texts, private JWKs or "secret"',
    })
    .min(1, "signingKeys must hold at least one key (leave it out to derive one from the secret)")
    .optional(),
  jobs: z.boolean().optional(),
  schedules: z
    .strictObject(
      Object.fromEntries(
        JOB_NAMES.map((job) => [
          job,
          z
            .string()
            .refine((e) => cron.validate(e), { error: (i) => `${JSON.stringify(i.input)} is not a cron expression` })
            .optional(),
        ]),
      ),
    )
    .optional(),
  logger: z
    .custom<Logger>(
      (v) =>
        typeof v === "object" &&
        v !== null &&
        ["debug", "info", "warn", "error"].every((m) => typeof (v as Record<string, unknown>)[m] === "function"),
      { message: "logger must have debug, info, warn and error methods" },
    )
    .optional(),
  now: fn("now").optional(),
  poolSize: z.number().int().min(1).max(1000).optional(),
  limits: z
    .strictObject({
      windowMs: z
        .number()
        .int()
        .min(1000)
        .max(7 * 24 * 60 * 60 * 1000)
        .optional(),
      consentChanges: z.number().int().min(1).optional(),
      requests: z.number().int().min(1).optional(),
      reads: z.number().int().min(1).optional(),
      store: fn("limits.store").optional(),
    })
    .optional(),
  consentCache: z
    .strictObject({
      subjects: z.number().int().min(1).max(100_000_000).optional(),
      timeoutMs: z.number().int().min(1).max(60_000).optional(),
    })
    .optional(),
});

/**
 * The options resolved: checked, with every default applied. Made once at
 * start-up by resolveConfiguration; createConsentgate hands each part of the
 * gate only the fields it uses.
 */
export interface Configuration {
  readonly policies: string | Record<string, unknown>;
  /** The `database` option, parsed. */
  readonly database: Database;
  readonly subject: (req: Request) => string | undefined;
  /** The `actor` option, checked on every call (checkedActor), else the request's subject with no roles. */
  readonly actor: (req: Request, subject: string | undefined) => Actor | undefined;
  /** The `region` option; undefined from it leaves the region to the policy. */
  readonly region: (req: Request) => string | undefined;
  readonly secret: string;
  /** The keys receipts and certificates are signed with and checked against: the first signs. */
  readonly signingKeys: readonly SigningKey[];
  readonly jobs: boolean;
  /** The `schedules` overrides; merged with the policy's and the built-in schedules once the policy is loaded (resolveSchedules). */
  readonly schedules: Partial<Record<JobName, string>>;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly poolSize: number;
  readonly limits: RateLimits;
  readonly consentCache: Required<ConsentCacheOptions>;
}

/**
 * Checks the options and applies every default (as each option's
 * documentation above states it). Throws `invalid_option` listing every
 * problem with the options.
 */
export function resolveConfiguration(options: unknown): Configuration {
  const result = schema.safeParse(options ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`
        : `${issue.path.join(".") || "options"}: ${issue.message}`,
    );
    throw new ConsentgateError("invalid_option", `createConsentgate: ${problems.join("; ")}`, { problems });
  }
  const given = result.data as ConsentgateOptions;
  if (given.database !== "memory" && given.secret === undefined) {
    throw new ConsentgateError(
      "invalid_option",
      `createConsentgate: secret is required unless database is "memory" (pseudonyms and receipt signatures depend on it); set CONSENTGATE_SECRET`,
      { problems: ["secret: required"] },
    );
  }
  const logger = given.logger ?? silentLogger;
  const actorOf = checkedActor(given.actor, logger);
  const limits = given.limits ?? {};
  // In memory nothing outlives the process, so a throwaway key is safe there.
  const secret = given.secret ?? randomBytes(32).toString("hex");
  return {
    policies: given.policies ?? "./policies",
    database: parseDatabase(given.database),
    subject: given.subject ?? (() => undefined),
    actor: (req, subject) => actorOf(req) ?? (subject === undefined ? undefined : { id: subject, roles: [] }),
    region: given.region ?? (() => undefined),
    secret,
    signingKeys:
      given.signingKeys === undefined
        ? [signingKeyFromSecret(secret)]
        : configuredSigningKeys(given.signingKeys, secret),
    jobs: given.jobs ?? false,
    schedules: given.schedules ?? {},
    logger,
    now: given.now ?? (() => new Date()),
    poolSize: given.poolSize ?? DEFAULT_POOL_SIZE,
    limits: {
      windowMs: limits.windowMs ?? DEFAULT_LIMITS.windowMs,
      consentChanges: limits.consentChanges ?? DEFAULT_LIMITS.consentChanges,
      requests: limits.requests ?? DEFAULT_LIMITS.requests,
      reads: limits.reads ?? DEFAULT_LIMITS.reads,
      // express-rate-limit's own default: counts in this process's memory, one store per limiter.
      store: limits.store ?? (() => new MemoryStore()),
    },
    consentCache: {
      subjects: given.consentCache?.subjects ?? DEFAULT_CONSENT_CACHE.subjects,
      timeoutMs: given.consentCache?.timeoutMs ?? DEFAULT_CONSENT_CACHE.timeoutMs,
    },
  };
}

/** The word that stands, in a list of signing keys, for the key derived from the secret. */
export const SECRET_SIGNING_KEY = "secret";

/**
 * A configured list of signing keys, parsed: exactly the listed keys, in
 * order, "secret" being the key derived from the secret. Every bad entry is
 * listed in one `invalid_option`. `secret` is undefined only for a caller
 * that has none (the CLI's verify-receipt), where "secret" is then a problem.
 */
export function configuredSigningKeys(sources: readonly unknown[], secret: string | undefined): SigningKey[] {
  const problems: string[] = [];
  if (sources.length === 0)
    problems.push("signingKeys: must hold at least one key (leave it out to derive one from the secret)");
  if (sources.filter((source) => source === SECRET_SIGNING_KEY).length > 1)
    problems.push(`signingKeys: "${SECRET_SIGNING_KEY}" is listed more than once`);
  const keys = sources.flatMap((source, index) => {
    try {
      if (source === SECRET_SIGNING_KEY) {
        if (secret === undefined)
          throw new TypeError(`"${SECRET_SIGNING_KEY}" names the secret's key, and no secret is set`);
        return [signingKeyFromSecret(secret)];
      }
      if (typeof source === "object" && source !== null && typeof (source as { d?: unknown }).d !== "string")
        throw new TypeError("a public JWK: the private key (d) is needed to sign");
      return [signingKeyFrom(source as Parameters<typeof signingKeyFrom>[0])];
    } catch (error) {
      problems.push(`signingKeys.${index}: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
  });
  if (problems.length > 0)
    throw new ConsentgateError("invalid_option", `createConsentgate: ${problems.join("; ")}`, { problems });
  return keys;
}

const MAX_ACTOR_ID = 256;

/** What is wrong with an actor the host's function returned, or undefined when it is { id, roles: string[] }. */
function actorProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null)
    return `the actor is ${value === null ? "null" : typeof value}, not an object`;
  const { id, roles } = value as Record<string, unknown>;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ACTOR_ID)
    return `id must be a string of 1-${MAX_ACTOR_ID} characters`;
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
export function checkedActor(
  actorOf: ((req: Request) => Actor | undefined) | undefined,
  logger: Logger,
): (req: Request) => Actor | undefined {
  if (actorOf === undefined) return () => undefined;
  let reported = false;
  const report = (details: object) => {
    if (reported) return;
    reported = true;
    logger.warn(
      details,
      "consentgate: the actor option gave a malformed actor (expected { id: string, roles: string[] }); such requests act with no roles. Reported once.",
    );
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
