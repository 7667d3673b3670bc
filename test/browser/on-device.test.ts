/**
 * The example's on-device mode in a real browser: Chromium driven by
 * playwright-core imports {router}/learning/client.js under the page's CSP,
 * keeps plays in IndexedDB, recommends in the page and contributes one
 * update. The server must end up holding no play of the listener, and one
 * learning update. Chromium is found, and skipped, by find-chromium.ts. The
 * device client is served from dist/client: run `npx tsc -p tsconfig.json`
 * (CI's `npm run build`) first.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, test } from "node:test";
import type { BrowserContext } from "playwright-core";
import { TRACKS } from "../../examples/music-app/catalog.ts";
import type { Consentgate } from "../../src/index.ts";
import { onPostgres } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { ARTIFACTS, exampleInChromium, signIn, skipWithoutChromium, watchedPage } from "./find-chromium.ts";

const PLAYED = ["Circuit Bloom", "Afterimage", "Low Orbit", "Harbour Lights"];

describe(`on-device recommendations in Chromium on ${onPostgres ? "PostgreSQL" : "PGlite"}`, {
  skip: skipWithoutChromium(),
}, () => {
  const suite = suiteScope();
  let origin: string;
  let gate: Consentgate;
  let browser: BrowserContext;

  before(async () => {
    ({ gate, origin, browser } = await exampleInChromium(suite));
  });

  test("an EU listener's plays stay in the browser; only one model update reaches the server", async () => {
    const { page, problems } = await watchedPage(browser, origin);
    const writes: string[] = [];
    page.on("request", (request) => {
      if (request.method() !== "GET") writes.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    await signIn(page, origin, "erin", "DE");

    await Promise.all([
      page.waitForEvent("load"),
      page.getByRole("button", { name: "Recommend on this device only" }).click(),
    ]);
    await page.getByText("Your plays stay on this device.").waitFor();

    const status = page.getByRole("status");
    for (const title of PLAYED) {
      await page.getByRole("listitem").filter({ hasText: title }).getByRole("button", { name: "Play" }).click();
      await status.getByText(`Playing ${title}. The play is kept on this device only.`).waitFor();
    }
    await page.getByRole("heading", { name: "Recommended on this device" }).waitFor();
    const recommended = await page.locator("#recommendations > li").allInnerTexts();
    assert.equal(recommended.length, 5);
    assert.ok(!recommended.some((title) => PLAYED.includes(title)), `nothing just played: ${recommended.join(", ")}`);

    // The plays are in this browser's IndexedDB, under the listener's own database.
    // (A string, as the test is compiled without the DOM's types.)
    const stored = (await page.evaluate(`new Promise((resolve, reject) => {
      const open = indexedDB.open("tunes-on-device-erin", 1);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction("state").objectStore("state").get("consentgate:learning:recommender");
        get.onsuccess = () => resolve(get.result.plays);
        get.onerror = () => reject(get.error);
      };
    })`)) as string[];
    assert.deepEqual(
      stored,
      PLAYED.map((title) => TRACKS.find((t) => t.title === title)!.id),
    );

    await page.getByRole("button", { name: "Contribute to the shared model" }).click();
    await status.getByText(/^Contributed to round 1 of the shared model\./).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, "on-device.png"), fullPage: true });

    assert.deepEqual(writes, [
      "POST /signin",
      "PUT /privacy/consents/on-device",
      "PUT /privacy/consents/personalization",
      "POST /privacy/learning/recommender/updates",
    ]);
    // The interactions table holds nothing of erin's, under any purpose.
    assert.deepEqual(await gate.store.interactions.countByPurpose("erin"), {});
    assert.deepEqual(await gate.store.interactions.forSubject("erin"), []);
    // learning_updates holds exactly her one update: her export lists the rows of that table that are hers
    // (SELECT … FROM learning_updates WHERE "subjectId" = $1), and the round counts one pending in all.
    const exported = await (await page.request.get(`${origin}/privacy/export`)).json();
    assert.deepEqual(
      exported.learning.map((u: { model: string; round: number; purpose: string }) => [u.model, u.round, u.purpose]),
      [["recommender", 1, "on-device"]],
    );
    assert.equal((await gate.learning.status("recommender")).round?.pending, 1);

    assert.deepEqual(problems, []);
    await page.close();
  });
});
