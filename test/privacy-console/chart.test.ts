/**
 * The console's pure parts: a chart's bars and its table carry the same
 * numbers, everything that came from a policy or the log is escaped, and
 * the period is read from the query or refused with a reason.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isConsentgateError } from "../../src/index.ts";
import { type ChartData, niceMax, renderChart } from "../../src/privacy-console/chart.ts";
import { daysOf, parsePeriod } from "../../src/privacy-console/view.ts";
import { chartTable } from "./html.ts";

/** The bars' values, summed per category and series, as the table would list them. */
function barValues(svg: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const m of svg.matchAll(/data-category="([^"]*)" data-series="([^"]*)" data-value="([^"]*)"/g)) {
    const key = `${m[1]}|${m[2]}`;
    values.set(key, (values.get(key) ?? 0) + Number(m[3]));
  }
  return values;
}

const chartOf = (data: Omit<ChartData, "id" | "title" | "description" | "categoryHeader">): ChartData => ({
  id: "c",
  title: "Consents given per day",
  description: "Per day and purpose",
  categoryHeader: "Day",
  ...data,
});

describe("the console's charts", () => {
  test("every non-zero cell of the table is one bar of the same value, and the totals add up", () => {
    const categories = fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(
        categories.chain((cats) =>
          fc.tuple(
            fc.constant(cats),
            fc.uniqueArray(fc.stringMatching(/^[a-z]{1,10}$/), { minLength: 1, maxLength: 10 }),
            fc.array(fc.nat(1000), { minLength: cats.length * 10, maxLength: cats.length * 10 }),
            fc.boolean(),
          ),
        ),
        ([cats, names, numbers, skipEmptyRows]) => {
          const series = names.map((name, s) => ({ name, values: cats.map((_, i) => numbers[s * cats.length + i]!) }));
          const out = renderChart(chartOf({ categories: cats, series, skipEmptyRows })).text;
          const bars = barValues(out);
          const rows = chartTable(`${out}`, "c");
          if (rows.length === 0) {
            assert.equal(bars.size, 0);
            return;
          }
          const [header, ...body] = rows;
          assert.deepEqual(header, ["Day", ...names, ...(names.length > 1 ? ["Total"] : [])]);
          const listed = cats.filter((_, i) => !skipEmptyRows || series.some((s) => s.values[i]! > 0));
          assert.deepEqual(
            body.map((r) => r[0]),
            listed,
          );
          for (const row of body) {
            const cells = row.slice(1, names.length + 1).map(Number);
            names.forEach((name, s) => assert.equal(bars.get(`${row[0]}|${name}`) ?? 0, cells[s]));
            if (names.length > 1)
              assert.equal(
                Number(row.at(-1)),
                cells.reduce((a, b) => a + b, 0),
              );
          }
          assert.equal(
            [...bars.values()].reduce((a, b) => a + b, 0),
            series.reduce((sum, s) => sum + s.values.reduce((a, b) => a + b, 0), 0),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  test("bars never reach past the plot: the axis top is at least the highest stack", () => {
    fc.assert(
      // Counts, and epsilons (no budget is below a millionth).
      fc.property(fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e9, noNaN: true })), (max) => {
        const top = niceMax(max);
        assert.ok(top >= max && top > 0);
        assert.ok(max === 0 || top <= max * 5 + Number.EPSILON, `${top} for ${max}`);
      }),
    );
    const out = renderChart(chartOf({ categories: ["a", "b"], series: [{ name: "n", values: [3, 7] }] })).text;
    for (const m of out.matchAll(/<rect[^>]* y="([\d.]+)"[^>]* height="([\d.]+)"/g)) {
      assert.ok(Number(m[1]) >= 12 && Number(m[1]) + Number(m[2]) <= 212.01, m[0]);
    }
  });

  test("names from the policy and the log are escaped in the SVG, the legend and the table", () => {
    const evil = `<script>alert("x")</script>&'`;
    const out = renderChart({
      id: "c",
      title: evil,
      description: evil,
      categoryHeader: evil,
      categories: [evil],
      series: [
        { name: evil, values: [1] },
        { name: "b", values: [2] },
      ],
    }).text;
    assert.doesNotMatch(out, /<script>/);
    assert.doesNotMatch(out, /"x"/);
    assert.match(out, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;&amp;&#39;/);
  });

  test("each chart is an image with a title and description, and a captioned table with scoped headers", () => {
    const out = renderChart(chartOf({ categories: ["2026-05-01"], series: [{ name: "music", values: [2] }] })).text;
    assert.match(out, /<svg role="img"[^>]* aria-labelledby="c-svg-title c-svg-desc"/);
    assert.match(out, /<title id="c-svg-title">Consents given per day<\/title>/);
    assert.match(out, /<desc id="c-svg-desc">Per day and purpose<\/desc>/);
    assert.match(out, /<caption>Consents given per day<\/caption>/);
    assert.match(out, /<th scope="col">Day<\/th><th scope="col">music<\/th>/);
    assert.match(out, /<th scope="row">2026-05-01<\/th><td>2<\/td>/);
  });
});

describe("the console's period", () => {
  const policy = { regions: { EU: {}, "US-CA": {} } } as never;
  const now = new Date("2026-06-05T12:34:00Z");
  const refused = (query: Record<string, unknown>, message: RegExp) =>
    assert.throws(
      () => parsePeriod(query, policy, "EU", now),
      (e) => isConsentgateError(e) && e.code === "invalid_body" && message.test(e.message),
    );

  test("defaults to the last 30 days, today included, in the fallback region", () => {
    const period = parsePeriod({}, policy, "EU", now);
    assert.deepEqual(period, {
      region: "EU",
      from: new Date("2026-05-07T00:00:00Z"),
      to: new Date("2026-06-06T00:00:00Z"),
      firstDay: "2026-05-07",
      lastDay: "2026-06-05",
    });
    assert.equal(daysOf(period).length, 30);
  });

  test("takes a region and both days (inclusive), up to 366 days", () => {
    const period = parsePeriod({ region: "US-CA", from: "2024-01-01", to: "2024-12-31" }, policy, "EU", now);
    assert.equal(period.region, "US-CA");
    assert.equal(daysOf(period).length, 366);
    assert.equal(daysOf(period).at(-1), "2024-12-31");
  });

  test("refuses what is not a region of the policy, not a day, backwards, or too long", () => {
    refused({ region: "MARS" }, /pick one of the policy's regions \(EU, US-CA\)/);
    refused({ region: ["EU", "US-CA"] }, /pick one of the policy's regions/);
    refused({ region: "toString" }, /pick one/);
    refused({ from: "2026-02-30" }, /the from date must be a day written YYYY-MM-DD/);
    refused({ to: "2026-6-1" }, /the to date/);
    refused({ to: ["2026-06-01"] }, /the to date/);
    refused({ from: "2026-06-02", to: "2026-06-01" }, /must not be after/);
    refused({ from: "2024-01-01", to: "2025-01-01" }, /at most 366 days at once; this period has 367/);
  });
});
