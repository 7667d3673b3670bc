/**
 * The shape of a policy file and what each value in it means, as a zod 4
 * schema. Checks that relate one part of the policy to another live in
 * relations.ts. Every message is written for the privacy officer who edits
 * the YAML, not for a developer.
 */
import nodeCron from "node-cron";
import { z } from "zod";
import { MAX_WIDTH } from "../client/params.ts";
import { parseDuration } from "./duration.ts";
import { describe, type PolicyPath, type Problem } from "./problem.ts";
import { parseRoute } from "./route.ts";
import { didYouMean } from "./suggest.ts";
import {
  type FieldRule,
  JOB_NAMES,
  LEGAL_BASES,
  AGGREGATIONS,
  MAX_DELTA,
  MAX_LEARNING_DIMENSIONS,
  MAX_NOISE_MULTIPLIER,
  MAX_KEYS_LIMIT,
  MAX_SKETCH_HASHES,
  MAX_TELEMETRY_EPSILON,
} from "./types.ts";

class Invalid {
  constructor(
    readonly message: string,
    readonly path: PolicyPath = [],
  ) {}
}

/** A schema for values that need more than zod's built-in checks; `parse` returns the value or why it is wrong. */
function parsed<I, T>(base: z.ZodType<I>, parse: (input: I) => T | Invalid) {
  return base.transform((input, ctx) => {
    const result = parse(input);
    if (!(result instanceof Invalid)) return result;
    ctx.issues.push({ code: "custom", message: result.message, input, path: [...result.path] });
    return z.NEVER;
  });
}

/** A message for a required value that is absent; other issues fall through to plainMessage. */
const whenMissing = (help: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? `is missing; ${help}` : undefined),
});

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const nameOf = (what: string, url: string) =>
  z
    .string()
    .regex(NAME, `${what} names may use only letters, digits, "-" and "_" (they appear in URLs such as ${url})`);

const DURATION_HELP = "write a whole number followed by d (days), mo (calendar months) or y (years), e.g. 45d, 1mo, 3y";
const duration = parsed(
  z.string({
    error: (issue) =>
      issue.input === undefined ? `is missing; ${DURATION_HELP}` : `must be a duration: ${DURATION_HELP}`,
  }),
  (text: string) => parseDuration(text.trim()) ?? new Invalid(`"${text}" is not a duration: ${DURATION_HELP}`),
);

const WORD_RULES = ["keep", "drop", "hash"] as const;
const OBJECT_RULES = ["bucket", "geohash", "truncate", "ip", "maxLength"] as const;
const RULES_HELP =
  "use keep, drop, hash, { bucket: n }, { geohash: 1-12 }, { truncate: day | hour }, { ip: 1-32 } or { maxLength: n }";

const isWholeIn = (value: unknown, min: number, max: number): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;

function parseFieldRule(input: unknown): FieldRule | Invalid {
  if (typeof input === "string") {
    const word = WORD_RULES.find((rule) => rule === input);
    return word !== undefined
      ? { kind: word }
      : new Invalid(
          `unknown field rule "${input}"${didYouMean(input, [...WORD_RULES, ...OBJECT_RULES])}; ${RULES_HELP}`,
        );
  }
  if (input === null) return new Invalid(`has no rule; ${RULES_HELP}`);
  if (typeof input !== "object" || Array.isArray(input))
    return new Invalid(`${describe(input)} is not a field rule; ${RULES_HELP}`);
  const entries = Object.entries(input);
  const [entry] = entries;
  if (entry === undefined) return new Invalid(`is an empty rule; ${RULES_HELP}`);
  if (entries.length > 1)
    return new Invalid(`has ${entries.length} rules (${Object.keys(input).join(", ")}); give each field exactly one`);
  const [kind, value] = entry;
  const at = [kind];
  switch (kind) {
    case "bucket":
      return typeof value === "number" && Number.isFinite(value) && value > 0
        ? { kind, size: value }
        : new Invalid(
            `must be a number greater than 0 (numbers are rounded down to a multiple of it), not ${describe(value)}`,
            at,
          );
    case "geohash":
      return isWholeIn(value, 1, 12)
        ? { kind, precision: value }
        : new Invalid(
            `must be a whole number from 1 to 12 (geohash characters kept: 5 ≈ 5 km, 7 ≈ 150 m), not ${describe(value)}`,
            at,
          );
    case "truncate":
      return value === "day" || value === "hour"
        ? { kind, unit: value }
        : new Invalid(
            `must be day or hour, not ${describe(value)}${typeof value === "string" ? didYouMean(value, ["day", "hour"]) : ""}`,
            at,
          );
    case "ip":
      return isWholeIn(value, 1, 32)
        ? { kind, bits: value }
        : new Invalid(
            `must be a whole number from 1 to 32 (bits kept of an IPv4 address, twice as many of an IPv6 one), not ${describe(value)}`,
            at,
          );
    case "maxLength":
      return isWholeIn(value, 1, Number.MAX_SAFE_INTEGER)
        ? { kind, length: value }
        : new Invalid(`must be a whole number of at least 1 (characters kept), not ${describe(value)}`, at);
    default:
      return new Invalid(`unknown field rule "${kind}"${didYouMean(kind, OBJECT_RULES)}; ${RULES_HELP}`, at);
  }
}

// The minimizer walks bodies by these names: a prototype's name would walk into the prototype chain.
const UNSAFE_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);
const fieldPath = z
  .string()
  .regex(/^[^.\s]+(\.[^.\s]+)*$/, "field paths are names joined by dots, e.g. location or device.os")
  .refine(
    (path) => !path.split(".").some((segment) => UNSAFE_SEGMENTS.has(segment)),
    "a field path cannot name __proto__, constructor or prototype",
  );

/** "device: keep" with "device.os: hash" could mean either; each field's fate must be obvious, so both are refused. */
function checkNesting(fields: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const paths = Object.keys(fields);
  for (const path of paths) {
    const inner = paths.filter((other) => other.startsWith(`${path}.`));
    if (inner.length > 0)
      ctx.addIssue({
        code: "custom",
        path: [path],
        message: `has a rule and so do fields inside it (${inner.join(", ")}); give each inner field its own rule instead`,
      });
  }
}

const windowMessage = {
  error: (issue: { input?: unknown }) =>
    `must be a whole number from 1 to 10000 (the most recent interactions kept per user; leave window out to store none), not ${describe(issue.input)}`,
};

/**
 * A number that `accepts` must allow. Every way of failing (missing, not a
 * number, Infinity, out of range) gives one message saying what the number
 * is for, so that a privacy officer never sees "expected number".
 */
function numberWhere(rule: string, missing: string, accepts: (n: number) => boolean) {
  const error = (issue: { input?: unknown }) =>
    issue.input === undefined ? `is missing; ${missing}` : `${rule}, not ${describe(issue.input)}`;
  // z.number() already refuses NaN and ±Infinity (YAML's .nan and .inf).
  return z.number({ error }).refine(accepts, { error });
}

// `&` works on 32 bits: exact for every n up to 2^31 (2^31 itself becomes -2^31, and -2^31 & (2^31 - 1) is 0),
// and widths above MAX_WIDTH = 2^31 are refused by the range check beside it.
const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** The rules for a sketch's k and m; relations.ts compares only values that pass them. */
export const isSketchHashes = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_SKETCH_HASHES;
export const isSketchWidth = (n: number) => isPowerOfTwo(n) && n >= 2 && n <= MAX_WIDTH;

// docs/insights.md: `purposes.<p>.insights.<release>`. Every privacy parameter is required: each is a decision for
// the privacy officer, and a default would make it for them without their seeing it.
const insightRelease = z.strictObject({
  key: z
    .string(whenMissing("name the field whose values are counted: a field this purpose keeps (keep or hash)"))
    .min(1),
  epsilon: numberWhere(
    "must be a number greater than 0 (the privacy loss one release may cause: smaller is more private and noisier)",
    "give the privacy loss one release may cause, e.g. epsilon: 1",
    (n) => n > 0,
  ),
  delta: numberWhere(
    `must be a number greater than 0 and at most ${MAX_DELTA} (the small chance that a key only a few people hold is released anyway; 1e-9 is usual)`,
    "give the chance that a key only a few people hold is released anyway, e.g. delta: 1e-9",
    (n) => n > 0 && n <= MAX_DELTA,
  ),
  maxKeys: numberWhere(
    `must be a whole number from 1 to ${MAX_KEYS_LIMIT} (the most distinct keys one person adds to a release)`,
    "give the most distinct keys one person adds to a release, e.g. maxKeys: 10",
    (n) => Number.isInteger(n) && n >= 1 && n <= MAX_KEYS_LIMIT,
  ),
  every: duration,
  budget: z.strictObject(
    {
      epsilon: numberWhere(
        "must be a number greater than 0 (the most epsilon this release may spend in any period of budget.per)",
        "give the most epsilon this release may spend in any period of budget.per, e.g. epsilon: 8",
        (n) => n > 0,
      ),
      per: duration,
    },
    whenMissing(
      "give the most epsilon this release may spend in any rolling period, e.g. budget: { epsilon: 8, per: 30d }",
    ),
  ),
});

// docs/learning.md: `purposes.<p>.learning`, federated matrix factorization. As for insights, every privacy parameter
// is required; only the server's learning rate has a default (1: the aggregate is the step).
const learningModel = z.strictObject({
  model: nameOf("model", "GET /learning/<model>"),
  dimensions: numberWhere(
    `must be a whole number from 1 to ${MAX_LEARNING_DIMENSIONS} (the length of each item's and each listener's vector)`,
    "give the length of each item's vector, e.g. dimensions: 16",
    (n) => Number.isInteger(n) && n >= 1 && n <= MAX_LEARNING_DIMENSIONS,
  ),
  round: z.strictObject(
    {
      minClients: numberWhere(
        "must be a whole number of at least 1 (a round is aggregated only once it holds this many updates)",
        "give the fewest updates a round is aggregated with, e.g. minClients: 100",
        (n) => Number.isSafeInteger(n) && n >= 1,
      ),
      maxOpen: duration,
    },
    whenMissing("give when a round closes, e.g. round: { minClients: 100, maxOpen: 1d }"),
  ),
  clip: numberWhere(
    "must be a number greater than 0 (the largest L2 norm one update may have; larger ones are scaled down)",
    "give the largest L2 norm one update may have, e.g. clip: 1.0",
    (n) => n > 0,
  ),
  aggregation: z.enum(AGGREGATIONS, whenMissing(`name the aggregation: ${AGGREGATIONS.join(", ")}`)),
  trim: numberWhere(
    "must be a number from 0 to less than 0.5 (the fraction of updates cut from each end of every coordinate)",
    "give the fraction cut from each end, e.g. trim: 0.1",
    (n) => n >= 0 && n < 0.5,
  ).optional(),
  noise: numberWhere(
    `must be a number greater than 0 and at most ${MAX_NOISE_MULTIPLIER} (the Gaussian noise's standard deviation as a multiple of the aggregate's sensitivity; without noise there is no privacy guarantee)`,
    "give the Gaussian noise multiplier, e.g. noise: 1.0",
    (n) => n > 0 && n <= MAX_NOISE_MULTIPLIER,
  ),
  learningRate: numberWhere(
    "must be a number greater than 0 (the server's step: factors += learningRate × noisy aggregate)",
    "give the server's learning rate, e.g. learningRate: 1",
    (n) => n > 0,
  ).default(1),
  budget: z.strictObject(
    {
      epsilon: numberWhere(
        "must be a number greater than 0 (the most epsilon the model may spend over its life)",
        "give the most epsilon the model may spend over its life, e.g. epsilon: 10",
        (n) => n > 0,
      ),
      delta: numberWhere(
        `must be a number greater than 0 and at most ${MAX_DELTA} (the delta the spent epsilon is stated at; 1e-6 is usual)`,
        "give the delta the budget is stated at, e.g. delta: 1e-6",
        (n) => n > 0 && n <= MAX_DELTA,
      ),
    },
    whenMissing("give the model's privacy budget over its life, e.g. budget: { epsilon: 10, delta: 1e-6 }"),
  ),
});

const purpose = z.strictObject({
  description: z
    .string(whenMissing("describe the purpose in words users understand: it appears in their data export"))
    .min(1),
  legalBasis: z.enum(LEGAL_BASES, whenMissing(`name the legal basis: ${LEGAL_BASES.join(", ")}`)),
  saleOrShare: z.boolean().default(false),
  sensitive: z.boolean().default(false),
  fields: z.record(fieldPath, parsed(z.unknown(), parseFieldRule)).default({}).superRefine(checkNesting),
  window: z.number(windowMessage).int(windowMessage).min(1, windowMessage).max(10_000, windowMessage).optional(),
  retention: duration.optional(),
  onWithdrawal: z.enum(["purge", "keep"]).default("purge"),
  insights: z.record(nameOf("release", "GET /insights/<release>"), insightRelease).default({}),
  learning: learningModel.optional(),
});

// docs/telemetry.md: top-level `telemetry.<metric>`, Apple's Hadamard count-mean sketch. The client
// (src/client/params.ts) accepts more (k up to 2^31, any finite epsilon); the policy is stricter on purpose.
const telemetryMetric = z.strictObject({
  purpose: z
    .string(whenMissing("name the purpose reports are collected for: they are gated like writes for it"))
    .min(1),
  epsilon: numberWhere(
    `must be a number greater than 0 and at most ${MAX_TELEMETRY_EPSILON} (the privacy loss of one report; above ${MAX_TELEMETRY_EPSILON} a report is almost never randomized and estimates get no more accurate)`,
    "give the privacy loss of one report, e.g. epsilon: 4",
    (n) => n > 0 && n <= MAX_TELEMETRY_EPSILON,
  ),
  sketch: z.strictObject(
    {
      hashes: numberWhere(
        `must be a whole number from 1 to ${MAX_SKETCH_HASHES} (k, the sketch's number of hash functions)`,
        "give k, the sketch's number of hash functions, e.g. hashes: 1024",
        isSketchHashes,
      ),
      width: numberWhere(
        `must be a power of two from 2 to ${MAX_WIDTH} (m, the width of each row of the sketch, e.g. 32768)`,
        "give m, the width of each row of the sketch, a power of two, e.g. width: 32768",
        isSketchWidth,
      ),
    },
    whenMissing("give the sketch's size, e.g. sketch: { hashes: 1024, width: 32768 }"),
  ),
  limit: z.strictObject(
    {
      reports: numberWhere(
        "must be a whole number of at least 1 (the reports one person may send per period; more are refused with 429 report_limit)",
        "give the reports one person may send per period, e.g. reports: 1",
        (n) => Number.isSafeInteger(n) && n >= 1,
      ),
      per: duration,
    },
    whenMissing("say how many reports one person may send, e.g. limit: { reports: 1, per: 1d }"),
  ),
});

const COUNTRY = /^[A-Z]{2}(-[A-Z0-9]{1,3})?$/i;
const countryCode = z
  .string()
  .regex(COUNTRY, {
    error: (issue) =>
      `${describe(issue.input)} is not a country code: use ISO 3166-1 (DE) or, for a state or province, ISO 3166-2 (US-CA)`,
  })
  .transform((code) => code.toUpperCase());

const region = z.strictObject({
  countries: z.array(countryCode).default([]),
  model: z.enum(
    ["opt-in", "opt-out"],
    whenMissing("opt-in (nothing until the user agrees) or opt-out (allowed until the user objects)"),
  ),
  frameworks: z.array(z.string().min(1)).default([]),
  gpc: z.literal("opt-out-of-sale-or-share").optional(),
  requestDeadline: duration,
  logRetention: duration,
});

const CRON_FIELD = /^[0-9A-Za-z*/,-]+$/;
const isCron = (expression: string) => {
  const fields = expression.trim().split(/\s+/);
  return (fields.length === 5 || fields.length === 6) && fields.every((field) => CRON_FIELD.test(field));
};
const cron = z
  .string({ error: 'must be a cron expression in quotes, e.g. "*/15 * * * *"' })
  .refine(isCron, {
    error: (issue) =>
      `${describe(issue.input)} is not a cron expression: give 5 fields (minute hour day month weekday) or 6 (seconds first), e.g. "0 3 * * *"`,
  })
  // Well-formed is not enough: the scheduler refuses values out of range, and start-up would fail without a line to fix.
  .refine((expression) => !isCron(expression) || nodeCron.validate(expression), {
    error: (issue) =>
      `${describe(issue.input)} is not a schedule the job runner accepts (a value out of range, such as minute 60 or day 31 of February)`,
  });

const routes = z
  .record(z.string(), z.string({ error: "must be the name of a purpose" }))
  .default({})
  .transform((entries, ctx) =>
    Object.entries(entries).flatMap(([key, purposeName]) => {
      const route = parseRoute(key, purposeName);
      if (typeof route !== "string") return [route];
      ctx.issues.push({ code: "custom", message: route, input: key, path: [key] });
      return [];
    }),
  );

// Header names are HTTP tokens (RFC 9110 §5.6.2).
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, {
    error: (issue) => `${describe(issue.input)} is not an HTTP header name, e.g. x-region or cf-ipcountry`,
  })
  .transform((header) => header.toLowerCase());

/** An RFC 3339 full-date (YYYY-MM-DD) that names a real day of the calendar: 2026-02-30 is refused. */
export function isFullDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const fullDate = z.string({ error: 'must be a date in quotes, e.g. "2026-11-01"' }).refine(isFullDate, {
  error: (issue) => `${describe(issue.input)} is not a date: write the day as "YYYY-MM-DD", e.g. "2026-11-01"`,
});

const policySchema = z.strictObject({
  version: z
    .string({
      error: (issue) => {
        if (issue.input === undefined)
          return 'is missing; give the policy a version such as "2026-11-01": it appears in every receipt and log entry';
        return issue.code === "invalid_type" ? 'must be text: write it in quotes, e.g. "2026-11-01"' : undefined;
      },
    })
    .min(1),
  defaults: z.strictObject(
    {
      region: z.string(whenMissing("name the region used when a caller's region is unknown (the strictest one)")),
      unmappedWrites: z.enum(["reject", "allow"]).default("reject"),
    },
    whenMissing("set defaults: { region: <the strictest region> }"),
  ),
  purposes: z.record(
    nameOf("purpose", "PUT /consents/<purpose>"),
    purpose,
    whenMissing("list the purposes data is collected for"),
  ),
  routes,
  regions: z.record(
    nameOf("region", "/admin/compliance/<region>"),
    region,
    whenMissing("list the regions and the rules that apply in each"),
  ),
  regionHeader: headerName.optional(),
  // The day the site's statement that it honours GPC was last made (gate.wellKnown(), /.well-known/gpc.json).
  gpcLastUpdate: fullDate.optional(),
  jobs: z
    .strictObject(
      Object.fromEntries(JOB_NAMES.map((job) => [job, cron.optional()])) as Record<
        (typeof JOB_NAMES)[number],
        z.ZodOptional<typeof cron>
      >,
    )
    .default({}),
  telemetry: z.record(nameOf("metric", "POST /telemetry/<metric>"), telemetryMetric).default({}),
});

export type PolicyInput = z.output<typeof policySchema>;

/** The validated, value-by-value compiled policy, or every problem zod found. */
export function validatePolicy(data: unknown): { value?: PolicyInput; problems: Problem[] } {
  const result = policySchema.safeParse(data, { error: plainMessage, reportInput: true });
  return result.success ? { value: result.data, problems: [] } : { problems: result.error.issues.flatMap(toProblems) };
}

function toProblems(issue: z.core.$ZodIssue): Problem[] {
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = keysAt(policySchema, issue.path);
      return issue.keys.map((key) => ({
        path: [...issue.path, key],
        message: `unknown key${didYouMean(key, known)}; allowed here: ${known.join(", ")}`,
      }));
    }
    case "invalid_key":
      return [{ path: issue.path, message: issue.issues.map((inner) => inner.message).join("; ") }];
    default:
      return [{ path: issue.path, message: issue.message, needsEveryFile: issue.input === undefined }];
  }
}

const EXPECTED: Record<string, string> = {
  string: "text",
  number: "a number",
  boolean: "true or false",
  object: '"key: value" entries',
  record: '"key: value" entries',
  array: "a list such as [DE, FR]",
};

/** Zod's defaults ("Invalid input: expected string, received undefined") rewritten for people who are not programmers. */
function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? "is missing"
        : `must be ${EXPECTED[issue.expected] ?? issue.expected}, not ${describe(issue.input)}`;
    case "invalid_value": {
      const allowed = issue.values.map(String);
      const hint = typeof issue.input === "string" ? didYouMean(issue.input, allowed) : "";
      return `${describe(issue.input)} is not a valid choice${hint}; choose ${allowed.length === 1 ? "" : "one of: "}${allowed.join(", ")}`;
    }
    case "too_small":
      return issue.origin === "string" ? "must not be empty" : `must be at least ${String(issue.minimum)}`;
    default:
      return undefined;
  }
}

/** The keys an object in the schema accepts at `path`, for "did you mean" hints. */
function keysAt(schema: z.ZodType, path: PolicyPath): string[] {
  let current = unwrap(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject) current = unwrap((current.shape as Record<string, unknown>)[String(segment)]);
    else if (current instanceof z.ZodRecord) current = unwrap(current.valueType);
    else return [];
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrap(schema: unknown): unknown {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) return unwrap(schema.unwrap());
  if (schema instanceof z.ZodPipe) return unwrap(schema.in);
  return schema;
}
