import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addDuration, parseDuration, subtractDuration } from "../../src/policy/duration.ts";
import type { Duration } from "../../src/policy/types.ts";

const d = (text: string): Duration => {
  const duration = parseDuration(text);
  assert.ok(duration, `${text} should parse`);
  return duration;
};
const utc = (iso: string) => new Date(`${iso}Z`);
const add = (iso: string, text: string) => addDuration(utc(iso), d(text)).toISOString();
const subtract = (iso: string, text: string) => subtractDuration(utc(iso), d(text)).toISOString();

describe("parseDuration", () => {
  test("days, calendar months and years", () => {
    assert.deepEqual(parseDuration("90d"), { amount: 90, unit: "d", text: "90d" });
    assert.deepEqual(parseDuration("1mo"), { amount: 1, unit: "mo", text: "1mo" });
    assert.deepEqual(parseDuration("24mo"), { amount: 24, unit: "mo", text: "24mo" });
    assert.deepEqual(parseDuration("3y"), { amount: 3, unit: "y", text: "3y" });
  });
  test("anything else is refused", () => {
    for (const text of ["", "0d", "07d", "-1d", "1.5mo", "1m", "1w", "1 d", "1D", "d", "30 days", " 1d", "1y "]) {
      assert.equal(parseDuration(text), undefined, text);
    }
  });
  test("amounts beyond a thousand years are refused, so every resulting date stays valid", () => {
    assert.ok(parseDuration("1000y"));
    assert.equal(parseDuration("1001y"), undefined);
    assert.equal(parseDuration("99999999999999999999d"), undefined);
    assert.ok(!Number.isNaN(addDuration(new Date(), d("365250d")).getTime()));
  });
});

describe("addDuration", () => {
  test("days are 24 hours each, time of day kept", () => {
    assert.equal(add("2026-01-31T10:15:00.000", "1d"), "2026-02-01T10:15:00.000Z");
    assert.equal(add("2026-12-31T23:59:59.999", "45d"), "2027-02-14T23:59:59.999Z");
  });
  test("a month clamps to the last day of the target month", () => {
    assert.equal(add("2026-01-31T12:00:00.000", "1mo"), "2026-02-28T12:00:00.000Z");
    assert.equal(add("2028-01-31T12:00:00.000", "1mo"), "2028-02-29T12:00:00.000Z"); // leap year
    assert.equal(add("2026-03-31T00:00:00.000", "1mo"), "2026-04-30T00:00:00.000Z");
    assert.equal(add("2026-01-30T00:00:00.000", "1mo"), "2026-02-28T00:00:00.000Z");
    assert.equal(add("2026-02-28T00:00:00.000", "1mo"), "2026-03-28T00:00:00.000Z");
    assert.equal(add("2026-01-15T08:00:00.000", "1mo"), "2026-02-15T08:00:00.000Z");
  });
  test("months roll over the year", () => {
    assert.equal(add("2026-12-31T00:00:00.000", "2mo"), "2027-02-28T00:00:00.000Z");
    assert.equal(add("2026-11-30T00:00:00.000", "24mo"), "2028-11-30T00:00:00.000Z");
    assert.equal(add("2026-08-31T00:00:00.000", "18mo"), "2028-02-29T00:00:00.000Z");
  });
  test("years clamp 29 February to 28 February, and keep it in the next leap year", () => {
    assert.equal(add("2028-02-29T06:00:00.000", "1y"), "2029-02-28T06:00:00.000Z");
    assert.equal(add("2028-02-29T06:00:00.000", "4y"), "2032-02-29T06:00:00.000Z");
    assert.equal(add("2026-06-15T00:00:00.000", "3y"), "2029-06-15T00:00:00.000Z");
  });
  test("counts on the UTC calendar", () => {
    // Already 1 February east of UTC; in UTC it is 31 January, so one month later is the end of February.
    assert.equal(add("2026-01-31T23:30:00.000", "1mo"), "2026-02-28T23:30:00.000Z");
  });
  test("the input date is not changed", () => {
    const date = utc("2026-01-31T00:00:00.000");
    addDuration(date, d("1mo"));
    assert.equal(date.toISOString(), "2026-01-31T00:00:00.000Z");
  });
});

describe("subtractDuration", () => {
  test("days", () => assert.equal(subtract("2026-03-01T00:00:00.000", "1d"), "2026-02-28T00:00:00.000Z"));
  test("months clamp like addDuration", () => {
    assert.equal(subtract("2026-03-31T00:00:00.000", "1mo"), "2026-02-28T00:00:00.000Z");
    assert.equal(subtract("2028-03-31T00:00:00.000", "1mo"), "2028-02-29T00:00:00.000Z");
    assert.equal(subtract("2026-01-31T00:00:00.000", "2mo"), "2025-11-30T00:00:00.000Z");
    assert.equal(subtract("2026-05-31T00:00:00.000", "24mo"), "2024-05-31T00:00:00.000Z");
  });
  test("years", () => {
    assert.equal(subtract("2029-02-28T00:00:00.000", "3y"), "2026-02-28T00:00:00.000Z");
    assert.equal(subtract("2028-02-29T00:00:00.000", "1y"), "2027-02-28T00:00:00.000Z");
  });
});
