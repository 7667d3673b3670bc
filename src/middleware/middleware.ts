/**
 * gate.middleware() and gate.purpose(name): the two ways a write meets the gate.
 */
import type { RequestHandler, Response } from "express";
import { ConsentgateError, sendError } from "../errors.ts";
import { markGate, markPassThrough } from "../route-marks.ts";
import type { Route } from "../policy/types.ts";
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
  // The routes map split by method once, so a write only tries the routes of its own method, in policy order.
  const routesByMethod = new Map<string, Route[]>();
  for (const route of deps.policy.routes) {
    const routes = routesByMethod.get(route.method);
    if (routes) routes.push(route);
    else routesByMethod.set(route.method, [route]);
  }
  // Not async: a warm write is decided without waiting, and an async handler would cost a
  // promise (and Express 5 a handler on it) for every request; only a consent read awaits.
  const consentgate: RequestHandler = (req, res, next) => {
    try {
      // Express sets each request's prototype, which leaves every request object with
      // a hidden class of its own; adding req.privacy makes another, and V8 looks up
      // each property read after that the slow way. So the gate reads req first.
      const method = req.method;
      const path = READ_METHODS.has(method) ? undefined : requestPath(req);
      const privacy = createPrivacy(deps, req);
      req.privacy = privacy;
      // The rest of the request runs in its privacy context, for writes through gated Prisma models.
      const go = () => deps.enter(privacy, next);
      if (READ_METHODS.has(method)) return go();
      const mapped = path === undefined ? undefined : mappedRoute(routesByMethod.get(method), path);
      if (mapped) {
        const reading = admit(deps, req, mapped.purpose, privacy);
        if (reading) return void admitted(reading, res, go);
        return go();
      }
      if (allowUnmapped) return go();
      // undefined: nothing handles it, Express answers 404; a string: a gate will decide; null: refused.
      if (path !== undefined && scanRoutes(req, path) !== null) return go();
      throw new ConsentgateError(
        "unmapped_write",
        `${req.method} ${path ?? req.url} writes data but no purpose covers it: map it in the policy's routes or gate it with gate.purpose(name)`,
        { region: privacy.region },
      );
    } catch (error) {
      sendError(res, error);
    }
  };
  const scanRoutes = createRouteScanner(consentgate);
  return markPassThrough(consentgate);
}

function mappedRoute(routes: readonly Route[] | undefined, path: string): Route | undefined {
  if (routes) for (const route of routes) if (route.matches(path)) return route;
  return undefined;
}

/** The gate's slow path: the decision had to read the subject's choices first. */
async function admitted(reading: Promise<void>, res: Response, next: () => void): Promise<void> {
  try {
    await reading;
    next();
  } catch (error) {
    sendError(res, error);
  }
}

/** Route-level gate: denied → the error response and the handler never runs; allowed → req.body minimized. */
export function createPurposeGate(deps: GateDeps, purpose: string): RequestHandler {
  if (!deps.policy.purposes[purpose]) {
    // A typo here would otherwise refuse every write at run time; fail at start-up instead.
    throw new ConsentgateError(
      "unknown_purpose",
      `gate.purpose("${purpose}"): no such purpose in the policy (known: ${Object.keys(deps.policy.purposes).join(", ")})`,
      { purpose },
    );
  }
  const handler: RequestHandler = (req, res, next) => {
    try {
      const reading = admit(deps, req, purpose);
      if (reading) return void admitted(reading, res, next);
      next();
    } catch (error) {
      sendError(res, error);
    }
  };
  return markGate(handler, purpose);
}
