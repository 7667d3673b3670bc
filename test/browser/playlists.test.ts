/**
 * The example's playlists in a real browser: Chromium driven by
 * playwright-core makes one from the home page's form, by its labels alone,
 * under the page's strict CSP, and finds it in the listener's list and in the
 * app's own tables. Chromium is found, and skipped, by find-chromium.ts.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, test } from "node:test";
import type { BrowserContext } from "playwright-core";
import { onPostgres } from "../support/database.ts";
import type { PrismaClient } from "../support/host.ts";
import { suiteScope } from "../support/scope.ts";
import { ARTIFACTS, exampleInChromium, signIn, skipWithoutChromium, watchedPage } from "./find-chromium.ts";

describe(`playlists on the example's home page in Chromium on ${onPostgres ? "PostgreSQL" : "PGlite"}`, {
  skip: skipWithoutChromium(),
}, () => {
  const suite = suiteScope();
  let origin: string;
  let music: PrismaClient;
  let browser: BrowserContext;

  before(async () => {
    ({ music, origin, browser } = await exampleInChromium(suite));
  });

  test("a Californian likes two tracks and saves them, with one more, as a playlist", async () => {
    const { page, problems } = await watchedPage(browser, origin);
    await signIn(page, origin, "kim", "US-CA");
    for (const title of ["Glasshouse", "Low Orbit"]) {
      // The page reloads once the like is stored.
      await Promise.all([
        page.waitForEvent("load"),
        page.locator("#tracks > li").filter({ hasText: title }).getByRole("button", { name: "Like" }).click(),
      ]);
    }
    const form = page.getByRole("form", { name: "Make a playlist" });
    await form.getByRole("group", { name: "Tracks in it (the ones you like are ticked)" }).waitFor();
    assert.equal(await form.getByRole("checkbox", { name: /Glasshouse/ }).isChecked(), true, "liked: ticked");
    assert.equal(await form.getByRole("checkbox", { name: /Low Orbit/ }).isChecked(), true, "liked: ticked");
    assert.equal(await form.getByRole("checkbox", { name: /Harbour Lights/ }).isChecked(), false);

    await form.getByRole("checkbox", { name: /Harbour Lights/ }).check();
    await form.getByLabel("Playlist name").fill("Late night");
    await Promise.all([page.waitForEvent("load"), form.getByRole("button", { name: "Save as a playlist" }).click()]);

    const playlists = page.getByRole("region", { name: "Your playlists" });
    await playlists.getByText("Late night").click();
    assert.deepEqual(await playlists.locator("details ol > li").allInnerTexts(), [
      "Harbour Lights",
      "Glasshouse",
      "Low Orbit",
    ]);
    const stored = await music.playlist.findMany({
      where: { listenerId: "kim" },
      select: { name: true, tracks: { select: { itemId: true }, orderBy: { position: "asc" } } },
    });
    assert.deepEqual(stored, [
      { name: "Late night", tracks: [{ itemId: "trk_01" }, { itemId: "trk_03" }, { itemId: "trk_09" }] },
    ]);
    await page.screenshot({ path: path.join(ARTIFACTS, "playlists.png"), fullPage: true });

    // Nothing ticked: the page says so, and posts nothing.
    for (const title of [/Glasshouse/, /Low Orbit/]) await form.getByRole("checkbox", { name: title }).uncheck();
    await form.getByRole("button", { name: "Save as a playlist" }).click();
    await page.getByRole("status").getByText("Tick at least one track for the playlist.").waitFor();
    assert.equal(await music.playlist.count({ where: { listenerId: "kim" } }), 1);

    assert.deepEqual(problems, []);
    await page.close();
  });
});
