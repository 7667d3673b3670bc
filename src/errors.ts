/**
 * Every error Consentgate raises on purpose is a ConsentgateError with a
 * stable `code`. Codes are part of the public contract (README: HTTP API): host
 * apps and clients branch on them, so they never change meaning.
 */

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
  consent_unavailable: 503,
} as const;

export type HttpErrorCode = keyof typeof HTTP_STATUS;

/** Codes raised to the host app at start-up or on misuse; never sent to clients. */
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
  | "secret_mismatch";

export type ErrorCode = HttpErrorCode | SetupErrorCode;

export interface ConsentgateErrorDetails {
  purpose?: string;
  region?: string;
  /** Every problem found, for errors that collect several (policy_invalid, invalid_option). */
  problems?: string[];
  [key: string]: unknown;
}

export class ConsentgateError extends Error {
  override readonly name = "ConsentgateError";
  readonly code: ErrorCode;
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

export function isConsentgateError(error: unknown, code?: ErrorCode): error is ConsentgateError {
  return error instanceof ConsentgateError && (code === undefined || error.code === code);
}
