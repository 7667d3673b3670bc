/**
 * Policy durations. Months and years are calendar units, not multiples of
 * days: GDPR's "one month" to answer a request received on 31 January ends on
 * the last day of February, so `1mo` must never mean 30 days.
 */
import type { Duration, DurationUnit } from "./types.ts";

const PATTERN = /^([1-9][0-9]*)(d|mo|y)$/;
const DAY_MS = 86_400_000;

// Far beyond any legal period, and small enough that every resulting date stays valid.
const MAX_AMOUNT: Record<DurationUnit, number> = { d: 365_250, mo: 12_000, y: 1_000 };

/** "90d", "1mo", "3y" → Duration; anything else (including amounts over 1000 years) → undefined. */
export function parseDuration(text: string): Duration | undefined {
  const found = PATTERN.exec(text);
  if (!found) return undefined;
  const amount = Number(found[1]);
  const unit = found[2] as DurationUnit;
  return amount <= MAX_AMOUNT[unit] ? { amount, unit, text } : undefined;
}

/** `date` plus `duration`, in UTC; a day that the target month lacks becomes its last day. */
export function addDuration(date: Date, duration: Duration): Date {
  return shift(date, duration, 1);
}

/** `date` minus `duration`, in UTC, clamped like addDuration (for cut-offs such as log retention). */
export function subtractDuration(date: Date, duration: Duration): Date {
  return shift(date, duration, -1);
}

function shift(date: Date, { amount, unit }: Duration, sign: 1 | -1): Date {
  if (unit === "d") return new Date(date.getTime() + sign * amount * DAY_MS);
  const months = sign * amount * (unit === "y" ? 12 : 1);
  const target = new Date(date.getTime());
  // Day 1 first, so that setting the month cannot overflow into the next one.
  target.setUTCDate(1);
  target.setUTCMonth(target.getUTCMonth() + months);
  target.setUTCDate(Math.min(date.getUTCDate(), daysInMonth(target.getUTCFullYear(), target.getUTCMonth())));
  return target;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}
