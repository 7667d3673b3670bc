/**
 * Where a fixture's clean-up runs. Every fixture helper (test databases, gates,
 * apps, connections, scratch folders, CLI processes) takes a scope first and
 * registers its own clean-up there, so a test never closes anything by hand:
 *
 * - a test's context `t` (or a beforeEach hook's): when that test ends;
 * - suiteScope(), called in a describe body: after the block's last test, for
 *   fixtures its `before` hook makes and its tests share.
 *
 * Clean-ups run newest first (a gate closes before its database is dropped),
 * and every one runs, even when the set-up that registered it failed half-way
 * or an earlier clean-up threw: a failed second set-up never leaks the first.
 */
import { after } from "node:test";

/** A test's context satisfies it; so does suiteScope(). */
export interface Scope {
  after(fn: () => unknown): void;
}

type Cleanup = () => unknown;

const stacks = new WeakMap<Scope, Cleanup[]>();

/** Runs `cleanup` when `scope` ends, before the clean-ups registered earlier. */
export function onCleanup(scope: Scope, cleanup: Cleanup): void {
  let stack = stacks.get(scope);
  if (stack === undefined) {
    const created: Cleanup[] = [];
    stacks.set(scope, created);
    scope.after(() => unwind(created));
    stack = created;
  }
  stack.push(cleanup);
}

/**
 * A scope for the describe block this is called in (synchronously, in its
 * body): what its hooks or tests register is cleaned up after its last test.
 */
export function suiteScope(): Scope {
  const cleanups: Cleanup[] = [];
  after(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  return { after: (fn) => void cleanups.push(fn) };
}

async function unwind(stack: Cleanup[]): Promise<void> {
  const errors: unknown[] = [];
  for (const cleanup of stack.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} clean-ups failed`);
}
