/**
 * The one error body (docs/http-api.md: The error body), for every error the gate sends:
 * { "error": { "code", "message", "purpose"?, "region"? } }.
 */
import type { ErrorRequestHandler, Response } from "express";
import { ConsentgateError } from "../errors.ts";

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
  if (type === "entity.too.large") return sendError(res, new ConsentgateError("payload_too_large", "request body too large"));
  if (type === "entity.parse.failed") return sendError(res, new ConsentgateError("invalid_body", "request body is not valid JSON"));
  // Any other refusal of a body parser (a charset or Content-Encoding it cannot read, a length that does
  // not match) is the client's mistake too: answered with the JSON error body, not the host's error page.
  if (typeof type === "string" && isClientError(error)) {
    return sendError(res, new ConsentgateError("invalid_body", "request body cannot be read (unsupported charset or encoding, or a wrong length)"));
  }
  if (error instanceof ConsentgateError) return sendError(res, error);
  next(error);
};

function isClientError(error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  return typeof status === "number" && status >= 400 && status < 500;
}
