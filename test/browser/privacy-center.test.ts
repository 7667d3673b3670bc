/**
 * The privacy center in a real browser: Chromium driven by playwright-core,
 * against the example music app running in this process. Chromium is found,
 * and the test skipped without it on a developer's machine (never in CI), by
 * find-chromium.ts.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { onPostgres } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { ARTIFACTS, exampleInChromium, signIn, skipWithoutChromium, watchedPage } from "./find-chromium.ts";

describe(`the privacy center in Chromium on ${onPostgres ? "PostgreSQL" : "PGlite"}`, {
  skip: skipWithoutChromium(),
}, () => {
  const suite = suiteScope();
  let origin: string;
  let browser: BrowserContext;

  before(async () => {
    ({ origin, browser } = await exampleInChromium(suite, { acceptDownloads: true }));
  });

  const status = (page: Page) => page.getByRole("status").filter({ hasText: /\S/ });

  test("an EU listener grants, withdraws, downloads and erases", async () => {
    const { page, problems } = await watchedPage(browser, origin);
    await signIn(page, origin, "alice", "DE");

    await page.goto(`${origin}/privacy-center`);
    const personalization = page.getByRole("switch", { name: "Allow: Recommend music from recent listening" });
    assert.equal(await personalization.isChecked(), false, "EU is opt-in");
    await personalization.click();
    await status(page).getByText("Allowed: Recommend music from recent listening").waitFor();
    assert.equal(await personalization.isChecked(), true);
    assert.match(await page.locator("#explain-personalization").innerText(), /you allowed this on/);

    await page.goto(`${origin}/`);
    for (const title of ["Circuit Bloom", "Afterimage"]) {
      // The page reloads once the play is recorded.
      await Promise.all([
        page.waitForEvent("load"),
        page.getByRole("listitem").filter({ hasText: title }).getByRole("button", { name: "Play" }).click(),
      ]);
    }
    await page.getByRole("heading", { name: "Recommended from your recent listening" }).waitFor();

    await page.goto(`${origin}/privacy-center`);
    assert.equal(await page.locator("#held-personalization").innerText(), "2 records");

    // Granting and withdrawing from the keyboard alone.
    const advertising = page.getByRole("switch", { name: "Allow: Show ads from partners" });
    await advertising.focus();
    await page.keyboard.press("Space");
    await status(page).getByText("Allowed: Show ads from partners").waitFor();
    assert.equal(await advertising.isChecked(), true);
    await page.keyboard.press("Space");
    await status(page).getByText("Turned off: Show ads from partners").waitFor();
    assert.equal(await advertising.isChecked(), false);
    assert.equal(await page.locator(".receipts > li").count(), 3, "one receipt per choice");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download a copy of your data" }).click(),
    ]);
    await status(page).getByText("Downloaded your data").waitFor();
    const exported = JSON.parse(await readFile((await download.path())!, "utf8"));
    assert.equal(exported.subject, "alice");
    assert.equal(exported.interactions.personalization.length, 2);
    assert.deepEqual(
      exported.consents.history.map((r: { purpose: string; granted: boolean }) => `${r.purpose}:${r.granted}`),
      ["personalization:true", "advertising:true", "advertising:false"],
    );
    await page.getByRole("cell", { name: "Done" }).first().waitFor();

    await page.screenshot({ path: path.join(ARTIFACTS, "privacy-center.png"), fullPage: true });

    await page.getByRole("button", { name: "Erase all my data…" }).click();
    const confirm = page.getByRole("dialog", { name: "Erase all your data?" });
    await confirm.getByRole("button", { name: "Erase everything" }).click();
    await status(page).getByText("Your data was erased").waitFor();
    assert.equal(await page.locator("#held-summary").innerText(), "We hold no personal data about you.");
    assert.equal(await personalization.isChecked(), false, "consent must be given again");
    assert.match(await page.locator("#certificate").innerText(), /records: 2/);
    assert.deepEqual(
      await page.locator("#requests tbody th").allInnerTexts(),
      ["Erasure of your data"],
      "only the proof of the erasure is kept",
    );

    await page.screenshot({ path: path.join(ARTIFACTS, "privacy-center-erased.png"), fullPage: true });
    // 200% zoom on a 1280 px screen leaves 640 CSS pixels: nothing may need sideways scrolling.
    await page.setViewportSize({ width: 640, height: 900 });
    assert.equal(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), true);
    await page.screenshot({ path: path.join(ARTIFACTS, "privacy-center-zoom-200.png"), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("a Californian with Global Privacy Control sees the conflict and can confirm over it", async () => {
    const { page, problems } = await watchedPage(browser, origin, { "sec-gpc": "1" });
    await signIn(page, origin, "bob", "US-CA");
    await page.goto(`${origin}/privacy-center`);
    assert.match(await page.locator("#gpc-state").innerText(), /opts you out of any selling or sharing/);
    const advertising = page.getByRole("switch", { name: "Allow: Show ads from partners" });
    assert.equal(await advertising.isChecked(), false, "GPC opts out of a sale or share");
    assert.equal(
      await page.getByRole("switch", { name: "Allow: Recommend music from recent listening" }).isChecked(),
      true,
      "US-CA is opt-out",
    );

    await advertising.click();
    const dialog = page.getByRole("dialog", { name: "Allow despite Global Privacy Control?" });
    await dialog.getByRole("button", { name: "Keep it off" }).click();
    await status(page).getByText("Kept off: Show ads from partners").waitFor();
    assert.equal(await advertising.isChecked(), false);

    await advertising.click();
    await dialog.waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, "privacy-center-gpc.png") });
    await dialog.getByRole("button", { name: "Allow anyway" }).click();
    await status(page).getByText("Allowed: Show ads from partners").waitFor();
    assert.equal(await advertising.isChecked(), true);
    assert.match(
      await page.locator("#explain-advertising").innerText(),
      /over your browser's Global Privacy Control signal/,
    );
    assert.deepEqual(problems, []);
    await page.close();
  });
});
