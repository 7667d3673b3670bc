/**
 * The marks Consentgate puts on its own Express handlers, so that the gate's
 * route scan (src/middleware/route-scan.ts) can tell, on a write, whether a
 * purpose gate or Consentgate's rights router will see it first, and which of
 * its own middleware only pass a request on. The rights router and the
 * privacy center mark their handlers; the scan reads the marks. A leaf, so
 * that both sides use it without importing each other.
 */

/** Symbol.for: a second copy of the package in one app (its ESM and CommonJS builds side by side) still sees the marks. */
const GATE = Symbol.for("consentgate.purposeGate");
const PASS_THROUGH = Symbol.for("consentgate.passThrough");

/** What Consentgate's own router is marked with: its writes are the rights endpoints, gated by their own rules. */
export const RIGHTS_ROUTER = "consentgate:rights";

/** Marks a handler as a gate (a purpose name, or RIGHTS_ROUTER) so the scan can recognize it. */
export function markGate<T extends object>(handler: T, gate: string): T {
  Object.defineProperty(handler, GATE, { value: gate });
  return handler;
}

/** Marks one of Consentgate's own middleware that never answers a write, only passes it on. */
export function markPassThrough<T extends object>(handler: T): T {
  Object.defineProperty(handler, PASS_THROUGH, { value: true });
  return handler;
}

/** The gate a handler was marked with (markGate), if any. */
export function gateMark(handler: object): string | undefined {
  const gate = (handler as { readonly [GATE]?: unknown })[GATE];
  return typeof gate === "string" ? gate : undefined;
}

/** Whether a handler was marked as passing every request on (markPassThrough). */
export function isPassThrough(handler: object): boolean {
  return (handler as { readonly [PASS_THROUGH]?: unknown })[PASS_THROUGH] === true;
}
