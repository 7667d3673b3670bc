/**
 * The privacy officer's console in a real browser: Chromium driven by
 * playwright-core, against the example music app, on data its listeners made
 * through the gate's routes. Chromium is found, and the test skipped without
 * it on a developer's machine (never in CI), by find-chromium.ts.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import request from "supertest";
import { serve } from "../support/app.ts";
import { testClock } from "../support/clock.ts";
import { onPostgres } from "../support/database.ts";
import { type ExampleApp, exampleApp } from "../support/example.ts";
import { suiteScope } from "../support/scope.ts";
import { ARTIFACTS, launchChromium, skipWithoutChromium, watchedPage } from "./find-chromium.ts";

/** The example's sign-in cookie: a listener's name and region (what its form sets). */
const as = (name: string, region: string) => ({ Cookie: `listener=${encodeURIComponent(`${name}|${region}|`)}` });

describe(`the privacy console in Chromium on ${onPostgres ? "PostgreSQL" : "PGlite"}`, {
  skip: skipWithoutChromium(),
}, () => {
  const suite = suiteScope();
  const clock = testClock("2026-03-01T09:00:00Z");
  let example: ExampleApp;
  let origin: string;
  let browser: BrowserContext;

  before(async () => {
    example = await exampleApp(suite, { now: clock.now });
    const { app, gate } = example;
    let failing = true;
    gate.registerDataSource({
      name: "mailing-list",
      export: () => [],
      erase: () => {
        if (failing) throw new Error("the mailing list is down");
        return 0;
      },
    });
    const consent = (who: Record<string, string>, purpose: string, granted: boolean) =>
      request(app).put(`/privacy/consents/${purpose}`).set(who).send({ granted }).expect(200);

    // 1 March: ann allows personalization and plays two tracks (kept 90 days).
    await consent(as("ann", "DE"), "personalization", true);
    for (const itemId of ["trk_01", "trk_02"])
      await request(app).post("/api/plays").set(as("ann", "DE")).send({ itemId, action: "play" }).expect(201);

    // 20 May: more choices in the EU and in California; plays refused without consent are counted.
    clock.set("2026-05-20T10:00:00Z");
    await consent(as("bob", "FR"), "personalization", true);
    await consent(as("bob", "FR"), "advertising", true);
    await consent(as("ann", "DE"), "advertising", true);
    await consent(as("cal", "US-CA"), "advertising", false);
    await consent(as("cody", "US-CA"), "personalization", false);
    for (let i = 0; i < 4; i++)
      await request(app).post("/api/plays").set(as("dee", "DE")).send({ itemId: "trk_01", action: "play" }).expect(403);
    await gate.runJob("compliance-report");
    // An erasure the mailing list fails stays open past its deadline (one month in the EU).
    await request(app).delete("/privacy/data").set(as("eve", "DE")).expect(200);
    failing = false;

    // 22 May: ann turns advertising off; bob downloads his data.
    clock.set("2026-05-22T15:00:00Z");
    await consent(as("ann", "DE"), "advertising", false);
    await request(app).get("/privacy/export").set(as("bob", "FR")).expect(200);

    // 25 June: the purge removes ann's March plays; eve's erasure is overdue.
    clock.set("2026-06-25T08:00:00Z");
    await gate.runJob("purge");
    await gate.runJob("deadlines");

    origin = await serve(suite, app);
    browser = await launchChromium(suite);
  });

  const tableRows = (page: Page, chart: string) =>
    page
      .locator(`#${chart} table tbody tr`)
      .evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent ?? "")));

  test("a DPO signs in, reads a region's charts and tables, switches region and period, and opens an overdue request", async () => {
    const { page, problems } = await watchedPage(browser, origin);
    await page.goto(`${origin}/`);
    await page.getByLabel("Listener name").fill("olga");
    await page.getByLabel("Where you are").selectOption("DE");
    await page.getByLabel(/Sign in as the privacy officer/).check();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Privacy console" }).click();

    // The last 30 days of the officer's own region.
    await page.getByRole("heading", { level: 1, name: "Tunes: privacy console" }).waitFor();
    assert.match(await page.locator("header").innerText(), /Region EU, 2026-05-27 to 2026-06-25/);
    assert.match(await page.locator("#chain-state").innerText(), /Verified: the hash chain of EU is intact/);
    assert.deepEqual(await tableRows(page, "rows-purged"), [["2026-06-25", "2"]]);
    const overdue = page.locator("#requests tr.overdue");
    assert.equal(await overdue.count(), 1, "the overdue erasure is listed, though received before the period");

    // A period that takes in May.
    await page.getByLabel("From", { exact: true }).fill("2026-05-01");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForURL(/from=2026-05-01/);
    assert.equal(await page.getByRole("img", { name: "Consents given per day" }).locator("rect").count(), 2);
    await page.getByText("Table: Consents given per day").click();
    assert.deepEqual(await tableRows(page, "consents-given"), [["2026-05-20", "1", "2", "3"]]);
    assert.deepEqual(await tableRows(page, "consents-withdrawn"), [["2026-05-22", "1"]]);
    assert.deepEqual(await tableRows(page, "blocked-writes"), [["personalization", "4"]]);
    assert.deepEqual(await tableRows(page, "requests-daily"), [
      ["2026-05-20", "1", "0", "1"],
      ["2026-05-22", "1", "1", "2"],
    ]);
    assert.ok((await tableRows(page, "privacy-budget")).length > 0, "the example's release and model are listed");
    // The whole page in both schemes, and its first screen (docs/images/ has copies of those).
    for (const colorScheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme });
      await page.screenshot({ path: path.join(ARTIFACTS, `console-${colorScheme}.png`), fullPage: true });
      await page.screenshot({
        path: path.join(ARTIFACTS, `console-${colorScheme}-top.png`),
        fullPage: true,
        clip: { x: 0, y: 0, width: 1280, height: 1000 },
      });
    }
    await page.emulateMedia({ colorScheme: "light" });

    // Another region, from the keyboard: its own numbers only.
    await page.getByLabel("Region", { exact: true }).focus();
    await page.getByLabel("Region", { exact: true }).selectOption("US-CA");
    await page.getByRole("button", { name: "Show" }).press("Enter");
    await page.waitForURL(/region=US-CA/);
    await page.getByText("Table: Consents withdrawn per day").click();
    assert.deepEqual(await tableRows(page, "consents-withdrawn"), [["2026-05-20", "1", "1", "2"]]);
    assert.equal(await page.locator("#requests tr.overdue").count(), 0);

    // Back to the EU, and into the overdue request.
    await page.getByLabel("Region", { exact: true }).selectOption("EU");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForURL(/region=EU/);
    await page.locator("#requests tr.overdue a").click();
    await page.getByRole("heading", { level: 1, name: /Erasure request/ }).waitFor();
    assert.match(await page.locator("main").innerText(), /Overdue: its deadline passed/);
    const events = await page.locator("main table tbody td:nth-child(3)").allInnerTexts();
    assert.deepEqual(events, ["request.received", "request.completed", "request.overdue"]);
    await page.screenshot({ path: path.join(ARTIFACTS, "console-request.png"), fullPage: true });
    await page.getByRole("link", { name: "Back to the console" }).click();
    await page.waitForURL(/region=EU&from=2026-05-01&to=2026-06-25/);

    assert.deepEqual(problems, []);
  });

  test("a listener who is not the privacy officer is refused", async () => {
    const { page } = await watchedPage(browser, origin);
    await page.goto(`${origin}/`);
    await page.getByLabel("Listener name").fill("alice");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Signed in as alice").waitFor();
    assert.equal(await page.getByRole("link", { name: "Privacy console" }).count(), 0);
    const response = await page.goto(`${origin}/privacy-console`);
    assert.equal(response?.status(), 403);
    await page.getByText("The privacy console is for the role dpo").waitFor();
  });
});
