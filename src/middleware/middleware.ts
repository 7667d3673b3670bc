/**
 * gate.middleware() and gate.purpose(name): the two ways a write meets the gate.
 */
import type { RequestHandler } from "express";
import { ConsentgateError, sendError } from "../errors.ts";
import { markGate, markPassThrough } from "../route-marks.ts";
import { type GateDeps, admit } from "./admit.ts";
import { createPrivacy } from "./privacy.ts";
import { createRouteScanner, requestPath } from "./route-scan.ts";

/** Reads: every other method (POST, PUT, PATCH, DELETE, MERGE, PURGE, …) may carry data to store. */
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Attaches req.privacy to every request, and on every write either applies
 * the policy's `routes:` map, lets a route-level gate (or Consentgate's own
 * router) take it, or refuses it as `unmapped_write`. Reads pass.
 */
export function createMiddleware(deps: GateDeps): RequestHandler {
  const allowUnmapped = deps.policy.defaults.unmappedWrites === "allow";
  const consentgate: RequestHandler = async (req, res, next) => {
    try {
      req.privacy = createPrivacy(deps, req);
      if (READ_METHODS.has(req.method)) return next();
      const path = requestPath(req);
      const mapped = path === undefined ? undefined : deps.policy.routes.find((route) => route.method === req.method && route.matches(path));
      if (mapped) {
        const reading = admit(deps, req, mapped.purpose);
        if (reading) await reading;
        return next();
      }
      if (allowUnmapped) return next();
      // undefined: nothing handles it, Express answers 404; a string: a gate will decide; null: refused.
      if (path !== undefined && scanRoutes(req, path) !== null) return next();
      throw new ConsentgateError(
        "unmapped_write",
        `${req.method} ${path ?? req.url} writes data but no purpose covers it: map it in the policy's routes or gate it with gate.purpose(name)`,
        { region: req.privacy.region },
      );
    } catch (error) {
      sendError(res, error);
    }
  };
  const scanRoutes = createRouteScanner(consentgate);
  return markPassThrough(consentgate);
}

/** Route-level gate: denied → the error response and the handler never runs; allowed → req.body minimized. */
export function createPurposeGate(deps: GateDeps, purpose: string): RequestHandler {
  if (!deps.policy.purposes[purpose]) {
    // A typo here would otherwise refuse every write at run time; fail at start-up instead.
    throw new ConsentgateError("unknown_purpose", `gate.purpose("${purpose}"): no such purpose in the policy (known: ${Object.keys(deps.policy.purposes).join(", ")})`, { purpose });
  }
  const handler: RequestHandler = async (req, res, next) => {
    try {
      const reading = admit(deps, req, purpose);
      if (reading) await reading;
      next();
    } catch (error) {
      sendError(res, error);
    }
  };
  return markGate(handler, purpose);
}
