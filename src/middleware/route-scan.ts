/**
 * Finds out, before routing, whether a write will meet a purpose gate before
 * any other handler. gate.middleware() runs ahead of the host's routes, yet it
 * must refuse a write that no gate would see (`unmapped_write`), so it replays
 * Express's routing over the app's layers, from where the middleware itself
 * sits, to the first layer that would handle this method and path.
 *
 * The rule, for a write (fail closed: when unsure, the write is refused):
 * - Layers in front of gate.middleware() are not looked at: the request has
 *   already been through them (they passed it on, or it would not be here).
 * - After it, the first layer that matches the method and path decides:
 *   a route whose first handler for the method is gate.purpose(name), a
 *   gate.purpose(name) mounted with use(), or Consentgate's rights router →
 *   gated; any other route → ungated (a gate later on the same route is too
 *   late: the handler before it has had the raw body).
 * - express.Router() instances (and apps mounted with router.use) are looked
 *   through, layer by layer.
 * - These pass a write on and are skipped: other gate.middleware() instances,
 *   Consentgate's pass-through middleware, body parsers (express.json,
 *   urlencoded, raw, text), express.static, error handlers (four arguments),
 *   and Express 4's built-in query and init layers at the head of an app.
 * - Any other use() layer is an ungated handler: a function mounted with
 *   app.use or router.use (a proxy, GraphQL, a logger placed after the gate),
 *   and a sub-app mounted with app.use (Express hides it in a closure, so its
 *   routes cannot be seen). So are `app.param` callbacks of a route's
 *   parameters, which run before any of its handlers.
 * - No layer handles the write: Express answers 404 and the write passes.
 * - If the middleware cannot find itself in the app (wrapped in another
 *   function, or in an app Express does not know is mounted), it refuses.
 * Works on the layers of Express 4.21+ and 5.x (their `match` differs).
 */
import type { Request } from "express";
import { LRUCache } from "lru-cache";
import { gateMark, isPassThrough } from "../route-marks.ts";

/** Third-party middleware known to pass writes on (by the names their factories give them). */
const KNOWN_PASS_THROUGH = new Set(["jsonParser", "urlencodedParser", "rawParser", "textParser", "serveStatic"]);
/** Express 4 puts these two at the head of every app's router. */
const EXPRESS4_BUILT_INS = new Set(["query", "expressInit"]);

type Handle = ((...args: never[]) => unknown) & { readonly name: string };

interface Step {
  method?: string;
  handle: Handle;
}

interface Layer {
  handle: Handle;
  route?: { methods: Record<string, boolean | undefined>; stack: Step[] };
  /** Express 5: the match or false. Express 4: a boolean, the match left in `path` and `keys`. */
  match(path: string): boolean | { path: string; keys: readonly string[] };
  path?: string;
  keys?: readonly { name: string | number }[];
}

interface RouterLike {
  stack: Layer[];
  params?: Record<string, readonly unknown[] | undefined>;
}

interface AppLike {
  parent?: AppLike;
  _router?: RouterLike;
  router?: RouterLike;
}

/**
 * The gate this request meets: a purpose name or RIGHTS_ROUTER; `null` when a handler
 * without a gate would run first (or the scan cannot tell); `undefined` when nothing handles it (a 404).
 */
export type ScanResult = string | null | undefined;

interface Matched {
  path: string;
  keys: readonly (string | number)[];
  /** Express 4 also lets a mount path end before a ".". */
  express4: boolean;
}

/** What one scan read, so a memoized answer can be checked against routes added since. */
type Seen = (readonly unknown[] | Record<string, unknown>)[];

interface Scan {
  method: string;
  lower: string;
  middleware: unknown;
  baseUrl: string;
  /** The app the request entered, then each mounted sub-app down to the one running the middleware. */
  apps: readonly AppLike[];
  seen: Seen;
}

function matchLayer(layer: Layer, path: string): Matched | false | "error" {
  try {
    const found = layer.match(path);
    if (found === false) return false;
    if (found === true)
      return { path: layer.path ?? "", keys: (layer.keys ?? []).map((key) => key.name), express4: true };
    return { path: found.path, keys: found.keys, express4: false };
  } catch {
    // A path Express cannot decode turns the request into an error before any handler.
    return "error";
  }
}

/** Express only enters a use() layer whose match ends at a path separator. */
function entersUse(match: Matched, path: string): boolean {
  if (match.path.length === 0) return true;
  if (!path.startsWith(match.path)) return false;
  const next = path[match.path.length];
  return next === undefined || next === "/" || (match.express4 && next === ".");
}

function inner(match: Matched, path: string, prefix: string): { path: string; prefix: string } {
  const rest = path.slice(match.path.length);
  const removed = match.path.endsWith("/") ? match.path.slice(0, -1) : match.path;
  return { path: rest.startsWith("/") ? rest : `/${rest}`, prefix: prefix + removed };
}

function routerOf(app: AppLike | undefined): RouterLike | undefined {
  if (!app) return undefined;
  // Express 4 keeps it in _router (its `router` getter throws); Express 5 in `router`.
  if (app._router) return app._router;
  try {
    return app.router;
  } catch {
    return undefined;
  }
}

function isApp(handle: Handle): boolean {
  const h = handle as unknown as { handle?: unknown; set?: unknown };
  return typeof h.handle === "function" && typeof h.set === "function";
}

/** A layer the scan can see into: an express.Router(), or an app mounted with router.use. */
function childOf(handle: Handle): { router: RouterLike; app: boolean } | undefined {
  if (isApp(handle)) {
    const router = routerOf(handle as unknown as AppLike);
    return router && { router, app: true };
  }
  const stack = (handle as unknown as { stack?: unknown }).stack;
  return Array.isArray(stack) ? { router: handle as unknown as RouterLike, app: false } : undefined;
}

function handlesMethod(route: NonNullable<Layer["route"]>, lower: string): boolean {
  return Boolean(route.methods["_all"] || route.methods[lower]);
}

/** Parameters with app.param callbacks run those callbacks before the layer's handlers. */
function hasParamCallbacks(router: RouterLike, keys: readonly (string | number)[], scan: Scan): boolean {
  const params = router.params;
  if (!params || keys.length === 0) return false;
  scan.seen.push(params);
  return keys.some((key) => (params[key]?.length ?? 0) > 0);
}

/** The route's handlers for this method from `from` on: the first one decides. */
function routeFrom(route: NonNullable<Layer["route"]>, from: number, scan: Scan): ScanResult {
  for (let i = from; i < route.stack.length; i++) {
    const step = route.stack[i]!;
    if (step.method !== undefined && step.method !== scan.lower) continue;
    if (step.handle.length > 3) continue; // an error handler: skipped without an error
    return gateMark(step.handle) ?? null;
  }
  return undefined;
}

/** After the middleware: the first layer of `router` from `from` on that handles the write decides. */
function after(router: RouterLike, from: number, path: string, appRouter: boolean, scan: Scan): ScanResult {
  const stack = router.stack;
  scan.seen.push(stack);
  for (let i = from; i < stack.length; i++) {
    const layer = stack[i]!;
    const match = matchLayer(layer, path);
    if (match === false) continue;
    if (match === "error") return null;
    const route = layer.route;
    if (route) {
      scan.seen.push(route.stack);
      if (!handlesMethod(route, scan.lower)) continue;
      if (hasParamCallbacks(router, match.keys, scan)) return null;
      const found = routeFrom(route, 0, scan);
      if (found !== undefined) return found;
      continue;
    }
    if (!entersUse(match, path)) continue;
    const handle = layer.handle;
    if (hasParamCallbacks(router, match.keys, scan)) return null;
    if (handle.length > 3) continue;
    const gate = gateMark(handle);
    if (gate !== undefined) return gate;
    if (isPassThrough(handle) || KNOWN_PASS_THROUGH.has(handle.name)) continue;
    if (appRouter && i < 2 && EXPRESS4_BUILT_INS.has(handle.name)) continue;
    const child = childOf(handle);
    if (!child) return null;
    const found = after(child.router, 0, inner(match, path, "").path, child.app, scan);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Before the middleware: finds where it sits in `router` (at the depth `depth` of
 * scan.apps), and answers for each place it could be (usually one) what the
 * rest of the routing does with the write. Empty: the middleware is not in here.
 */
function locate(
  router: RouterLike,
  path: string,
  prefix: string,
  depth: number,
  appRouter: boolean,
  scan: Scan,
): ScanResult[] {
  const stack = router.stack;
  scan.seen.push(stack);
  const outcomes: ScanResult[] = [];
  const thenAfter = (i: number) => (found: ScanResult) =>
    found !== undefined ? found : after(router, i + 1, path, appRouter, scan);
  for (let i = 0; i < stack.length; i++) {
    const layer = stack[i]!;
    const match = matchLayer(layer, path);
    if (match === false || match === "error") continue;
    const route = layer.route;
    if (route) {
      // gate.middleware() used as a route handler: the rest of the route, then the rest of the router.
      scan.seen.push(route.stack);
      if (prefix !== scan.baseUrl || !handlesMethod(route, scan.lower)) continue;
      const at = route.stack.findIndex((step) => step.handle === scan.middleware);
      if (at >= 0) outcomes.push(thenAfter(i)(routeFrom(route, at + 1, scan)));
      continue;
    }
    if (!entersUse(match, path)) continue;
    const handle = layer.handle;
    const within = inner(match, path, prefix);
    if (handle === scan.middleware) {
      if (within.prefix === scan.baseUrl) outcomes.push(after(router, i + 1, path, appRouter, scan));
      continue;
    }
    const child = childOf(handle);
    if (child) {
      outcomes.push(...locate(child.router, within.path, within.prefix, depth, child.app, scan).map(thenAfter(i)));
      continue;
    }
    // app.use(subApp) hides the sub-app in a closure; if the middleware runs in a
    // sub-app, every such layer here may be the way in, and each is tried.
    const sub = handle.name === "mounted_app" ? routerOf(scan.apps[depth + 1]) : undefined;
    if (sub) outcomes.push(...locate(sub, within.path, within.prefix, depth + 1, true, scan).map(thenAfter(i)));
  }
  return outcomes;
}

/** The pathname Express routes on (its parseurl): no query, no scheme and host. */
function pathnameOf(url: string): string | undefined {
  // The first "?" or "#" ends it; two indexOf scans cost less than a regular expression search on every write.
  const query = url.indexOf("?");
  const hash = url.indexOf("#");
  const end = query < 0 ? hash : hash < 0 ? query : Math.min(query, hash);
  const path = end < 0 ? url : url.slice(0, end);
  if (path.startsWith("/")) return path;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (!absolute) return undefined;
  return path.slice(absolute[0].length) || "/";
}

/** The request's path as the app it entered sees it, or undefined when Express could not route it either. */
export function requestPath(req: Request): string | undefined {
  const path = pathnameOf(req.url);
  return path === undefined ? undefined : (req.baseUrl ?? "") + (path === "/" && req.baseUrl ? "" : path);
}

function scanRequest(
  req: Request,
  middleware: unknown,
  path: string,
  apps: readonly AppLike[],
): { result: ScanResult; seen: Seen } {
  const scan: Scan = {
    method: req.method,
    lower: req.method.toLowerCase(),
    middleware,
    baseUrl: req.baseUrl ?? "",
    apps,
    seen: [],
  };
  const root = routerOf(apps[0]);
  const outcomes = root ? locate(root, path, "", 0, true, scan) : [];
  // Not found: it cannot know what runs next, so it refuses. Found in several places: all must be safe.
  let result: ScanResult = outcomes.length === 0 ? null : undefined;
  for (const outcome of outcomes) {
    if (outcome === null) result = null;
    else if (result === undefined) result = outcome;
  }
  return { result, seen: scan.seen };
}

function sizeOf(seen: Seen[number]): number {
  if (Array.isArray(seen)) return seen.length;
  let n = 0;
  for (const key in seen) if ((seen as Record<string, readonly unknown[]>)[key]!.length > 0) n++;
  return n;
}

interface Memo {
  app: unknown;
  result: ScanResult;
  seen: Seen;
  sizes: number[];
}

/**
 * A scanner for one gate.middleware(): scans per entry app with a bounded memo of
 * answers. An answer stays valid while every stack it read keeps its length (Express
 * only ever appends layers, routes and param callbacks), so a route registered after
 * the first request for its path is seen on the next one.
 */
export function createRouteScanner(middleware: unknown, max = 2000) {
  const memo = new WeakMap<object, LRUCache<string, Memo>>();
  return (req: Request, path: string): ScanResult => {
    const apps: AppLike[] = [];
    for (let app = req.app as unknown as AppLike | undefined; app && apps.length < 32; app = app.parent)
      apps.unshift(app);
    const entry = apps[0];
    if (!entry) return null;
    let cache = memo.get(entry);
    if (!cache) memo.set(entry, (cache = new LRUCache({ max })));
    const key = `${req.method} ${req.baseUrl ?? ""} ${path}`;
    const hit = cache.get(key);
    if (hit && hit.app === req.app && hit.seen.every((seen, i) => sizeOf(seen) === hit.sizes[i])) return hit.result;
    const { result, seen } = scanRequest(req, middleware, path, apps);
    // An app without a router yet has nothing to check an answer against later.
    if (seen.length > 0) cache.set(key, { app: req.app, result, seen, sizes: seen.map(sizeOf) });
    return result;
  };
}
