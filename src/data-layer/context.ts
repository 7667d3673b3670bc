/**
 * Whose data the code running now is about, carried through async calls by
 * AsyncLocalStorage: `gate.middleware()` enters it for every request (as
 * req.privacy), `gate.as()` for work outside requests (queues, jobs,
 * scripts). The extension reads it on every write to a gated model, since
 * Prisma's query hooks see arguments, not requests.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Actor } from "../decision/ability.ts";
import type { Decision } from "../decision/decide.ts";

/** Who acts and for whom, with the decision rules for them: req.privacy has this shape. */
export interface Acting {
  readonly subject: string | undefined;
  readonly actor: Actor | undefined;
  readonly region: string;
  readonly signals: { readonly gpc: boolean };
  /** The purpose a request's gate (gate.purpose(), the middleware) already admitted, decided and counted. */
  readonly admitted?: { readonly purpose: string } | undefined;
  decide(purpose: string): Promise<Decision>;
}

export interface WriteContext {
  readonly acting: Acting;
  /** Entered by the middleware for a request (an anonymous one has no subject), or by gate.as. */
  readonly inRequest: boolean;
  /** gate.as's purpose: writes to models of other purposes are refused. */
  readonly purpose: string | undefined;
  /** gate.allowRaw: raw queries run even though a subject's context is open. */
  readonly raw: boolean;
}

const contexts = new AsyncLocalStorage<WriteContext>();

/** The context of the code running now, if any. */
export function currentContext(): WriteContext | undefined {
  return contexts.getStore();
}

/** Runs `fn` (and everything it starts) inside `context`. */
export function runInContext<T>(context: WriteContext, fn: () => T): T {
  return contexts.run(context, fn);
}
