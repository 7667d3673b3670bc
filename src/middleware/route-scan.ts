/**
 * Finds out, before routing, whether a write request will pass a purpose
 * gate. `gate.middleware()` runs ahead of the host's routes, yet it must
 * reject a write that no gate would see (`unmapped_write`), so it walks the
 * app's router the way Express will, looking for the first handler that
 * would run. Relies on Express 5's router layers (`match`, `route`, `stack`),
 * whose `match` is side-effect free.
 */
import type { Application } from "express";
import { LRUCache } from "lru-cache";

const PURPOSE_GATE = Symbol.for("consentgate.purposeGate");

/** What Consentgate's own router is marked with: its writes are the rights endpoints, gated by their own rules. */
export const RIGHTS_ROUTER = "consentgate:rights";

/** Marks a handler as a gate (a purpose name, or RIGHTS_ROUTER) so the scan can recognize it. */
export function markGate<T extends object>(handler: T, gate: string): T {
  Object.defineProperty(handler, PURPOSE_GATE, { value: gate });
  return handler;
}

function gatedPurpose(handler: unknown): string | undefined {
  return typeof handler === "function" ? (handler as unknown as Record<symbol, string | undefined>)[PURPOSE_GATE] : undefined;
}

interface Layer {
  match(path: string): false | { path: string };
  handle: unknown;
  route?: { _handlesMethod(method: string): boolean; stack: { method?: string; handle: unknown }[] };
}

/**
 * The gate this request meets: a purpose name or RIGHTS_ROUTER; `null` when a handler
 * without a gate would run first; `undefined` when no route matches (a 404).
 */
export type ScanResult = string | null | undefined;

export function scan(stack: readonly Layer[], method: string, path: string): ScanResult {
  const lower = method.toLowerCase();
  for (const layer of stack) {
    const match = layer.match(path);
    if (!match) continue;
    if (layer.route) {
      if (!layer.route._handlesMethod(method)) continue;
      for (const step of layer.route.stack) {
        if (step.method !== undefined && step.method !== lower && step.method !== "_all") continue;
        return gatedPurpose(step.handle) ?? null;
      }
      continue;
    }
    const purpose = gatedPurpose(layer.handle);
    if (purpose !== undefined) return purpose;
    const nested = nestedStack(layer.handle);
    if (nested) {
      const rest = path.slice(match.path.length);
      const found = scan(nested, method, rest.startsWith("/") ? rest : `/${rest}`);
      if (found !== undefined) return found;
    }
    // Other middleware (body parsers, loggers, the gate itself) passes the request on.
  }
  return undefined;
}

function nestedStack(handle: unknown): Layer[] | undefined {
  const h = handle as { stack?: Layer[]; router?: { stack?: Layer[] } } | undefined;
  return h?.stack ?? h?.router?.stack;
}

/** Scans per app with a bounded memo of (method, path) results. */
export function createRouteScanner(max = 2000) {
  const memo = new WeakMap<Application, LRUCache<string, { result: ScanResult }>>();
  return (app: Application, method: string, path: string): ScanResult => {
    let cache = memo.get(app);
    if (!cache) memo.set(app, (cache = new LRUCache({ max })));
    const key = `${method} ${path}`;
    const hit = cache.get(key);
    if (hit) return hit.result;
    const stack = (app as unknown as { router?: { stack: Layer[] } }).router?.stack ?? [];
    const result = scan(stack, method, path);
    cache.set(key, { result });
    return result;
  };
}
