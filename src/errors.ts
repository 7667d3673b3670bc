/**
 * Every error Consentgate raises on purpose is a ConsentgateError with a
 * stable `code`. Codes are part of the public contract (docs/error-codes.md): host
 * apps and clients branch on them, so they never change meaning. The one JSON
 * body they are sent with lives here too, so that the gate, the rights
 * endpoints and the privacy center answer alike without importing each other.
 */
import type { ErrorRequestHandler, Response } from "express";

/** Codes that reach HTTP clients, with the status they are sent with. */
export const HTTP_STATUS = {
  consent_required: 403,
  unknown_purpose: 400,
  unmapped_write: 403,
  invalid_body: 400,
  payload_too_large: 413,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  too_many_requests: 429,
  report_limit: 429,
  already_reported: 409,
  round_closed: 409,
  consent_unavailable: 503,
} as const;

/**
 * The codes that reach HTTP clients in the JSON error body
 * (docs/error-codes.md), each always with the same status: consent_required 403,
 * unknown_purpose 400, unmapped_write 403, invalid_body 400,
 * payload_too_large 413, unauthenticated 401, forbidden 403, not_found 404,
 * too_many_requests 429, report_limit 429, already_reported 409,
 * round_closed 409, consent_unavailable 503.
 *
 * @example
 * ```ts
 * import type { HttpErrorCode } from "consentgate";
 *
 * // A client of the privacy endpoints, branching on the code of the error body.
 * async function grant(purpose: string): Promise<"granted" | HttpErrorCode> {
 *   const res = await fetch(`/privacy/consents/${purpose}`, {
 *     method: "PUT",
 *     headers: { "content-type": "application/json" },
 *     body: JSON.stringify({ granted: true }),
 *   });
 *   if (res.ok) return "granted";
 *   const body = (await res.json()) as { error: { code: HttpErrorCode } };
 *   return body.error.code;
 * }
 * ```
 */
export type HttpErrorCode = keyof typeof HTTP_STATUS;

/**
 * Codes raised to the host app at start-up or on misuse; never sent to clients.
 *
 * @example
 * ```ts
 * import { type SetupErrorCode, createConsentgate, isConsentgateError } from "consentgate";
 *
 * const fatal: SetupErrorCode[] = ["policy_invalid", "invalid_option"];
 * try {
 *   await createConsentgate({ policies: "./policies", database: "memory" });
 * } catch (error) {
 *   if (isConsentgateError(error) && (fatal as string[]).includes(error.code)) console.error(error.details.problems);
 *   throw error;
 * }
 * ```
 */
export type SetupErrorCode =
  /** The policy folder or object has problems (all of them in `details.problems`). */
  | "policy_invalid"
  /** An option is wrong (all problems in `details.problems`), or the embedded database is open in another process. */
  | "invalid_option"
  /** A migration could not be applied; nothing of it was kept. */
  | "migration_failed"
  /** A migration was edited after this database applied it. */
  | "migration_changed"
  /**
   * The database could not be opened at start-up: the server refused or did not
   * answer, the database does not exist, or the credentials were refused.
   */
  | "database_unavailable"
  /**
   * The secret is not the one this database was first started with, so
   * pseudonyms, signatures and the log chain would be made under another key.
   */
  | "secret_mismatch"
  /**
   * A write to a model gated by `gate.prismaExtension()` ran outside any
   * request that passed `gate.middleware()` and outside `gate.as()`: whose
   * data it is, and so whether it may be written, is unknown.
   */
  | "no_context";

/**
 * Every code a ConsentgateError can carry. Codes are stable: they never
 * change meaning.
 *
 * @example
 * ```ts
 * import type { ErrorCode } from "consentgate";
 *
 * const retryable = new Set<ErrorCode>(["consent_unavailable", "too_many_requests"]);
 * ```
 */
export type ErrorCode = HttpErrorCode | SetupErrorCode;

/**
 * What a ConsentgateError says beyond its message. `purpose` and `region`
 * are also sent to clients in the error body; other keys stay on the server.
 *
 * @example
 * ```ts
 * import { isConsentgateError } from "consentgate";
 *
 * app.post("/api/plays", gate.purpose("personalization"), async (req, res) => {
 *   try {
 *     await req.privacy.record("play", req.body);
 *     res.status(201).end();
 *   } catch (error) {
 *     if (!isConsentgateError(error)) throw error;
 *     res.status(error.status).json({ code: error.code, purpose: error.details.purpose, region: error.details.region });
 *   }
 * });
 * ```
 */
export interface ConsentgateErrorDetails {
  /** The purpose the error is about. */
  purpose?: string;
  /** The region whose rules applied. */
  region?: string;
  /** Every problem found, for errors that collect several (policy_invalid, invalid_option). */
  problems?: string[];
  [key: string]: unknown;
}

/**
 * The one error type Consentgate raises on purpose, with a stable `code`
 * (see {@link ErrorCode}) to branch on and `status` for the HTTP answer.
 * Anything else that reaches the host (a database driver's error, a bug) is
 * not a ConsentgateError.
 *
 * @example
 * ```ts
 * import { ConsentgateError, createConsentgate } from "consentgate";
 *
 * try {
 *   await createConsentgate({ database: "postgres://db.example/app" });
 * } catch (error) {
 *   if (error instanceof ConsentgateError && error.code === "invalid_option") console.error(error.message);
 *   else throw error;
 * }
 * ```
 */
export class ConsentgateError extends Error {
  /** Always "ConsentgateError". */
  override readonly name = "ConsentgateError";
  /** The stable code to branch on. */
  readonly code: ErrorCode;
  /** What the error is about: purpose, region, every problem found. */
  readonly details: ConsentgateErrorDetails;

  constructor(code: ErrorCode, message: string, details: ConsentgateErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  /** HTTP status for codes that reach clients; 500 for set-up codes. */
  get status(): number {
    return (HTTP_STATUS as Record<string, number>)[this.code] ?? 500;
  }
}

/**
 * Is this a ConsentgateError (with this code, when one is given)? Never throws.
 *
 * @example
 * ```ts
 * import { isConsentgateError } from "consentgate";
 *
 * app.post("/api/likes", gate.purpose("personalization"), async (req, res) => {
 *   try {
 *     await req.privacy.record("like", req.body);
 *     res.status(201).end();
 *   } catch (error) {
 *     // Withdrawn while the write was in flight: nothing was stored.
 *     if (isConsentgateError(error, "consent_required")) return void res.status(409).end();
 *     throw error;
 *   }
 * });
 * ```
 */
export function isConsentgateError(error: unknown, code?: ErrorCode): error is ConsentgateError {
  return error instanceof ConsentgateError && (code === undefined || error.code === code);
}

/**
 * The one error body (docs/http-api.md: The error body), for every error Consentgate sends:
 * { "error": { "code", "message", "purpose"?, "region"? } }.
 */
export function sendError(res: Response, error: unknown): void {
  const known = error instanceof ConsentgateError && error.status < 500 ? error : undefined;
  const unavailable = error instanceof ConsentgateError && error.code === "consent_unavailable" ? error : undefined;
  const sent = known ?? unavailable;
  // Mid-stream (an export whose data source failed): cut the response so the client sees it incomplete.
  if (res.headersSent) return void res.destroy();
  if (!sent) {
    res.status(500).json({ error: { code: "internal", message: "internal error" } });
    return;
  }
  const { purpose, region } = sent.details;
  res.status(sent.status).json({
    error: {
      code: sent.code,
      message: sent.message,
      ...(purpose === undefined ? {} : { purpose }),
      ...(region === undefined ? {} : { region }),
    },
  });
}

/**
 * Express error middleware for what body parsers raise (malformed JSON,
 * oversized bodies) and for ConsentgateErrors; anything else goes on to the
 * host's own error handler.
 */
export const answerErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) return next(error);
  const type = (error as { type?: string } | undefined)?.type;
  if (type === "entity.too.large")
    return sendError(res, new ConsentgateError("payload_too_large", "request body too large"));
  if (type === "entity.parse.failed")
    return sendError(res, new ConsentgateError("invalid_body", "request body is not valid JSON"));
  // Any other refusal of a body parser (a charset or Content-Encoding it cannot read, a length that does
  // not match) is the client's mistake too: answered with the JSON error body, not the host's error page.
  if (typeof type === "string" && isClientError(error)) {
    return sendError(
      res,
      new ConsentgateError(
        "invalid_body",
        "request body cannot be read (unsupported charset or encoding, or a wrong length)",
      ),
    );
  }
  if (error instanceof ConsentgateError) return sendError(res, error);
  next(error);
};

function isClientError(error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  return typeof status === "number" && status >= 400 && status < 500;
}
