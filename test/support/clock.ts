/**
 * Time in tests: a clock the test moves (the gate's `now` option), the
 * lengths tests move it by, and waiting for an event rather than for time.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export interface TestClock {
  /** The time it shows: pass it as the gate's `now` option. */
  readonly now: () => Date;
  /** Stops the clock at `at`; it shows that time until moved again. */
  set(at: Date | string | number): Date;
  /** Moves the clock by `ms` (back when negative), stopped or running; returns the time it now shows. */
  advance(ms: number): Date;
}

/**
 * A clock stopped at `start`; without a start, one that runs with real time
 * (for expiries and leases the database compares with its own clock) until
 * the test moves it.
 */
export function testClock(start?: Date | string | number): TestClock {
  let stopped: Date | undefined = start === undefined ? undefined : new Date(start);
  let offset = 0;
  const now = () => stopped ?? new Date(Date.now() + offset);
  return {
    now,
    set: (at) => (stopped = new Date(at)),
    advance(ms) {
      if (stopped === undefined) offset += ms;
      else stopped = new Date(stopped.getTime() + ms);
      return now();
    },
  };
}

/**
 * Polls `done` until it holds, for an event a test cannot await directly;
 * the deadline is only a safety net for a test that would otherwise hang.
 */
export async function until(
  done: () => Promise<boolean>,
  message: string,
  { safetyMs = 10_000, everyMs = 10 } = {},
): Promise<void> {
  const deadline = Date.now() + safetyMs;
  while (!(await done())) {
    if (Date.now() > deadline) assert.fail(message);
    await sleep(everyMs);
  }
}
