/**
 * Just-in-time consent on the example's home page, in a real browser
 * (Chromium driven by playwright-core, found or skipped by find-chromium.ts):
 * a refused play is explained in the listener's words, Allow records a
 * receipt and sends the play again, and a listener who said no is never
 * asked. The refused plays themselves are expected 403s, and only those are
 * let through the watched page's problems.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import type { Consentgate } from "../../src/index.ts";
import { onPostgres } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { ARTIFACTS, exampleInChromium, signIn, skipWithoutChromium, watchedPage } from "./find-chromium.ts";

describe(`just-in-time consent on the example's home page in Chromium on ${onPostgres ? "PostgreSQL" : "PGlite"}`, {
  skip: skipWithoutChromium(),
}, () => {
  const suite = suiteScope();
  let origin: string;
  let gate: Consentgate;
  let browser: BrowserContext;

  before(async () => {
    ({ gate, origin, browser } = await exampleInChromium(suite));
  });

  const status = (page: Page) => page.getByRole("status");
  const ask = (page: Page) => page.getByRole("region", { name: "Remember what you play?" });
  const play = (page: Page, title: string) =>
    page.locator("#tracks > li").filter({ hasText: title }).getByRole("button", { name: "Play" }).click();
  const plays = async (listener: string) =>
    (await gate.store.interactions.countByPurpose(listener)).personalization ?? 0;

  /**
   * The problems left once each of `refusals` expected refused plays is taken
   * out (its 403 answer, and the console line Chromium writes for it); fails
   * unless every one of them was there.
   */
  function unexpected(problems: readonly string[], refusals: number): string[] {
    const left = [...problems];
    for (const expected of [`403: ${origin}/api/plays`, /^console: Failed to load resource: .* 403 /]) {
      for (let i = 0; i < refusals; i++) {
        const at = left.findIndex((p) => (typeof expected === "string" ? p === expected : expected.test(p)));
        assert.notEqual(at, -1, `expected ${String(expected)} ${refusals} times in ${JSON.stringify(problems)}`);
        left.splice(at, 1);
      }
    }
    return left;
  }

  test("an EU listener who has not chosen is asked in plain words; Allow saves a receipt and the play", async () => {
    const { page, problems } = await watchedPage(browser, origin);
    await signIn(page, origin, "gina", "DE");
    await play(page, "Circuit Bloom");

    const question = ask(page);
    await question.waitFor();
    assert.match(
      await question.innerText(),
      /we need your permission to use your listening history for: Recommend music from recent listening\./,
    );
    const shown = await page.locator("main").innerText();
    assert.doesNotMatch(shown, /consent_required|PUT \/consents/, "the raw refusal is not shown");
    assert.equal(await plays("gina"), 0, "nothing kept before the answer");
    // The question takes the focus, so a keyboard user answers it at once.
    assert.equal(await page.locator(":focus").innerText(), "Allow");
    await page.screenshot({ path: path.join(ARTIFACTS, "just-in-time.png"), fullPage: true });

    await page.keyboard.press("Enter");
    await status(page)
      .getByText(/^Saved\. Receipt \S+\. Circuit Bloom is remembered for your recommendations\.$/)
      .waitFor();
    assert.equal(await question.isVisible(), false);
    const receiptId = /Receipt (\S+)\./.exec(await status(page).innerText())?.[1];
    const choice = (await gate.store.consents.current("gina")).personalization;
    assert.deepEqual([choice?.granted, choice?.receiptId], [true, receiptId], "the status names the stored receipt");
    const stored = await gate.store.interactions.forSubject("gina", { purpose: "personalization" });
    assert.deepEqual(
      stored.map((p) => p.data),
      [{ itemId: "trk_07", action: "play", durationMs: 200000 }],
      "the play was sent again once, and kept minimized",
    );
    await page.screenshot({ path: path.join(ARTIFACTS, "just-in-time-saved.png"), fullPage: true });
    assert.deepEqual(unexpected(problems, 1), []);
  });

  test("a listener who said no in the privacy center is never asked: the play is quietly not remembered", async () => {
    const { page, problems } = await watchedPage(browser, origin);
    await signIn(page, origin, "hugo", "DE");
    await page.goto(`${origin}/privacy-center`);
    const personalization = page.getByRole("switch", { name: "Allow: Recommend music from recent listening" });
    await personalization.click();
    await page.getByRole("status").getByText("Allowed: Recommend music from recent listening").waitFor();
    await personalization.click();
    await page.getByRole("status").getByText("Turned off: Recommend music from recent listening").waitFor();

    await page.goto(`${origin}/`);
    for (const title of ["Circuit Bloom", "Afterimage"]) {
      await play(page, title);
      await status(page).getByText("This play is not remembered, as you chose.").waitFor();
    }
    assert.equal(await ask(page).isVisible(), false, "no question");
    assert.equal(
      await status(page).getByRole("link", { name: "your privacy choices" }).getAttribute("href"),
      "/privacy-center",
    );
    assert.equal(await plays("hugo"), 0);
    await page.screenshot({ path: path.join(ARTIFACTS, "just-in-time-refused.png"), fullPage: true });
    assert.deepEqual(unexpected(problems, 2), []);
  });

  test("Not now puts the question away for the session; nothing is stored", async () => {
    const { page, problems } = await watchedPage(browser, origin);
    await signIn(page, origin, "ines", "FR");
    await play(page, "Circuit Bloom");
    await ask(page).getByRole("button", { name: "Not now" }).click();
    await status(page).getByText("Not remembered. You can allow it any time in your privacy choices.").waitFor();
    assert.equal(await ask(page).isVisible(), false);

    await play(page, "Afterimage");
    await status(page).getByText("This play is not remembered, as you chose.").waitFor();
    assert.equal(await ask(page).isVisible(), false, "not asked again this session");
    assert.equal(await plays("ines"), 0);
    assert.equal((await gate.store.consents.current("ines")).personalization, undefined, "no choice recorded");
    assert.deepEqual(unexpected(problems, 2), []);
  });
});
