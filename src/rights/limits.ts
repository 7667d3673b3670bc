/**
 * Rate limits on the rights endpoints. Every consent change, export and
 * erasure adds rows and log entries about the subject that the law makes us
 * keep, so a script calling them in a loop would grow one person's history
 * (and every later export of it) without bound. Counted per signed-in
 * subject; anonymous callers, who can only be refused, per IP address.
 * Over the limit: 429 too_many_requests with Retry-After, before anything
 * is read or stored. Counts live in this process unless the host gives a
 * shared store (limits.store).
 */
import type { Request, RequestHandler } from "express";
import { ipKeyGenerator, rateLimit, type Store } from "express-rate-limit";
import { ConsentgateError, sendError } from "../errors.ts";
import type { Logger } from "../logger.ts";

/**
 * The groups of rights endpoints counted apart (see RightsLimits); the
 * `store` function gets one per group.
 *
 * @example
 * ```ts
 * import { type RightsLimitGroup, createConsentgate } from "consentgate";
 * import { MemoryStore, type Store } from "express-rate-limit";
 *
 * // A store shared by every instance (Redis, Memcached) would take the group as its key prefix.
 * function storeFor(group: RightsLimitGroup): Store {
 *   console.log(`counting ${group} in memory`);
 *   return new MemoryStore();
 * }
 * const gate = await createConsentgate({ database: "memory", limits: { store: storeFor } });
 * ```
 */
export type RightsLimitGroup = "consentChanges" | "requests" | "reads";

/**
 * The limits in force, every value present: the `limits` option with its
 * defaults applied (src/options.ts, where each is documented).
 */
export interface RateLimits {
  /** The window the counts are kept over, in milliseconds. */
  readonly windowMs: number;
  /** Calls per caller and window, for each group. */
  readonly consentChanges: number;
  readonly requests: number;
  readonly reads: number;
  /** Where a group's counts live. */
  readonly store: (group: RightsLimitGroup) => Store;
}

export type RightsLimiters = Record<RightsLimitGroup, RequestHandler>;

/** Whose count a request adds to: its subject, else (anonymous) its address. */
function callerKey(req: Request): string {
  const subject = req.privacy?.subject;
  if (subject !== undefined) return `subject:${subject}`;
  return req.ip ? `ip:${ipKeyGenerator(req.ip)}` : "ip:unknown";
}

/** One limiter per group, made once per gate so that every mount of the router shares the counts. */
export function createRightsLimiters(limits: RateLimits, logger: Logger): RightsLimiters {
  const make = (group: RightsLimitGroup): RequestHandler => {
    const limiter = rateLimit({
      windowMs: limits.windowMs,
      limit: limits[group],
      // RateLimit and RateLimit-Policy on every answer; Retry-After on a 429.
      standardHeaders: "draft-7",
      legacyHeaders: false,
      keyGenerator: (req) => `${group}:${callerKey(req)}`,
      // The message reaches people through the privacy center: plain words, no route names.
      handler: (_req, res) => {
        const seconds = Number(res.getHeader("Retry-After"));
        const wait = seconds > 90 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} seconds`;
        sendError(
          res,
          new ConsentgateError("too_many_requests", `too many requests in a short time; please try again in ${wait}`),
        );
      },
      store: limits.store(group),
      logger: {
        warn: (err, msg) => logger.warn({ err }, `consentgate: rate limit: ${msg ?? "warning"}`),
        error: (err, msg) => logger.error({ err }, `consentgate: rate limit: ${msg ?? "error"}`),
      },
    });
    // A store that cannot count fails closed, with our error body rather than the host's error page.
    return (req, res, next) =>
      limiter(req, res, (error?: unknown) => {
        if (error === undefined) return next();
        logger.error({ err: error, group }, "consentgate: the rate-limit store failed; the request is refused");
        sendError(
          res,
          new ConsentgateError(
            "consent_unavailable",
            "privacy requests cannot be taken right now; nothing was changed",
          ),
        );
      });
  };
  return { consentChanges: make("consentChanges"), requests: make("requests"), reads: make("reads") };
}
