/**
 * The options of createConsentgate, validated once at start-up so that a
 * mistake stops the app with a clear `invalid_option` error instead of
 * surfacing later as a wrong privacy decision.
 */
import type { Request } from "express";
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

export interface ConsentgateOptions {
  /** A folder of YAML policy files, or an already-parsed policy object. Default "./policies". */
  policies?: string | Record<string, unknown>;
  /**
   * Where data lives. Absent → embedded PGlite files in ./.consentgate/;
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
