/**
 * The console's HTML from a view, without a database: a broken chain names
 * its entry, and names that came from the log (a purpose the policy has
 * since dropped, a release) are escaped wherever they appear.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { renderConsole } from "../../src/privacy-console/page.ts";
import { type ConsoleView, parsePeriod } from "../../src/privacy-console/view.ts";
import { chartTable, section } from "./html.ts";

const EVIL = `<img src=x onerror="alert(1)">`;
const now = new Date("2026-06-05T12:00:00Z");

function view(overrides: Partial<ConsoleView> = {}): ConsoleView {
  const period = parsePeriod({ from: "2026-06-01", to: "2026-06-05" }, { regions: { EU: {} } } as never, "EU", now);
  return {
    period,
    regions: ["EU"],
    asOf: now,
    report: {
      region: "EU",
      from: period.from.toISOString(),
      to: period.to.toISOString(),
      asOf: now.toISOString(),
      consents: { given: 1, withdrawn: 0 },
      requests: { received: 0, completed: 0, overdue: 0, openOverdue: 0 },
      rowsPurged: { total: 0, byPurpose: {} },
      writesBlocked: { total: 2, byPurpose: { [EVIL]: 2 } },
    },
    daily: { consents: [{ day: "2026-06-02", purpose: EVIL, granted: true, n: 1 }], purged: [], requests: [] },
    chain: { ok: true, entries: 3 },
    overdue: [],
    overdueTotal: 0,
    received: [],
    receivedTotal: 0,
    releases: [{ at: now, name: EVIL, epsilon: 0.5, spent: 1, budget: 2 }],
    releasesTotal: 1,
    budgets: [{ kind: "release", name: EVIL, spent: 1, budget: 2, at: now }],
    purposes: { music: "Play music" },
    ...overrides,
  };
}

const ctx = { title: "Console", base: "/privacy-console" };

describe("the console's page", () => {
  test("a broken chain says at which entry and why", () => {
    const out = renderConsole(view({ chain: { ok: false, brokenAt: 7, reason: "entry 7 was changed" } }), ctx);
    assert.match(section(out, "chain"), /<strong>Broken at entry 7:<\/strong> entry 7 was changed\./);
    assert.doesNotMatch(section(out, "chain"), /Verified/);
  });

  test("names from the log are escaped in charts, tables and lists, and the page has no script", () => {
    const out = renderConsole(view(), ctx);
    assert.doesNotMatch(out, /<img/);
    assert.doesNotMatch(out, /<script/);
    const escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;";
    assert.deepEqual(chartTable(out, "consents-given"), [
      ["Day", escaped],
      ["2026-06-02", "1"],
    ]);
    assert.deepEqual(chartTable(out, "blocked-writes"), [
      ["Purpose", "blocked writes"],
      [escaped, "2"],
    ]);
    assert.deepEqual(chartTable(out, "privacy-budget"), [
      ["Release or model", "spent", "left", "Total"],
      [`release ${escaped}`, "1", "1", "2"],
    ]);
  });
});
