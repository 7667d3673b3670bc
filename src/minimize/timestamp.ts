import { civilFromDays, daysFromCivil, daysInMonth } from "./calendar.ts";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Years 0000 to 9999: what a four-digit ISO-8601 year can write; a timestamp outside them is not a real event. */
const MIN_MS = daysFromCivil(0, 1, 1) * DAY_MS;
const END_MS = daysFromCivil(10_000, 1, 1) * DAY_MS;

/**
 * A date, or a date-time with an explicit offset. A date-time without one is
 * refused: ECMAScript reads it as the server's local time, so the stored hour
 * would depend on where the server runs. Fractions of a second are not
 * captured: they cannot move a time across an hour.
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|([+-])(\d{2}):(\d{2})))?$/i;

/**
 * The ISO string of the start of the UTC `stepMs` period (a day or an hour)
 * holding an ISO-8601 string or epoch milliseconds; undefined if it is neither.
 */
export function truncateTimestamp(value: unknown, stepMs: number): string | undefined {
  const ms = typeof value === "number" ? value : typeof value === "string" ? parseIso(value) : NaN;
  if (!(ms >= MIN_MS && ms < END_MS)) return undefined;
  return formatHour(Math.floor(ms / stepMs) * stepMs);
}

function parseIso(text: string): number {
  const match = ISO_8601.exec(text);
  if (!match) return NaN;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = orZero(match[4]);
  const minute = orZero(match[5]);
  const second = orZero(match[6]);
  const offsetHours = orZero(match[8]);
  const offsetMinutes = orZero(match[9]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return NaN;
  const offset = (match[7] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  return daysFromCivil(year, month, day) * DAY_MS + (hour * 60 + minute - offset) * 60_000 + second * 1000;
}

const orZero = (digits: string | undefined) => (digits === undefined ? 0 : Number(digits));

/** toISOString for a time on a whole hour between years 0000 and 9999. */
function formatHour(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  const { year, month, day } = civilFromDays(days);
  const hour = (ms - days * DAY_MS) / HOUR_MS;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:00:00.000Z`;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");
