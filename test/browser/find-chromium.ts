/**
 * What the browser tests share: where Chromium is (CHROMIUM_PATH when set,
 * else the first of the names distributions and Google ship it under, on
 * PATH), when a test skips without it (on a developer's machine; in CI it
 * fails, since .ci/run installs Debian's Chromium and a browser test that
 * silently skipped there would prove nothing), launching it, a page that
 * records every problem, the example app served with Chromium to visit it,
 * and signing in to the example app.
 */
import assert from "node:assert/strict";
import { accessSync, constants, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { serve } from "../support/app.ts";
import { scratchFolder } from "../support/database.ts";
import { type ExampleApp, exampleApp } from "../support/example.ts";
import { onCleanup, type Scope } from "../support/scope.ts";

const NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return env.CHROMIUM_PATH;
  const directories = (env.PATH ?? "").split(path.delimiter).filter(Boolean);
  for (const name of NAMES) {
    for (const directory of directories) {
      const candidate = path.join(directory, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

/** CI services set CI (to "true", "1", …); only an empty or "false" value means a developer's machine. */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== "" && value !== "false" && value !== "0";
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Where the browser tests put their screenshots. */
export const ARTIFACTS = path.resolve("test-artifacts");

const MISSING =
  "no chromium, chromium-browser or google-chrome on PATH (apt-get install chromium, or set CHROMIUM_PATH)";

/** A describe block's `skip`: the reason on a developer's machine without Chromium, else false. */
export const skipWithoutChromium = (): string | false => findChromium() === undefined && !inCi() && MISSING;

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Chromium with a fresh profile of its own, closed when `scope` ends; the artifacts folder exists. */
export async function launchChromium(
  scope: Scope,
  options: { acceptDownloads?: boolean } = {},
): Promise<BrowserContext> {
  const executablePath = findChromium();
  assert.ok(executablePath !== undefined, `${MISSING}; .ci/run installs it`);
  const profile = await scratchFolder(scope, "consentgate-chromium-");
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ARGS,
    headless: true,
    ...options,
  });
  onCleanup(scope, () => browser.close());
  await mkdir(ARTIFACTS, { recursive: true });
  return browser;
}

/** The example app on a port of its own (`origin`) and Chromium launched to visit it, all closed when `scope` ends. */
export async function exampleInChromium(
  scope: Scope,
  options: { acceptDownloads?: boolean } = {},
): Promise<ExampleApp & { origin: string; browser: BrowserContext }> {
  const example = await exampleApp(scope);
  const origin = await serve(scope, example.app);
  return { ...example, origin, browser: await launchChromium(scope, options) };
}

/**
 * A fresh page (cookies cleared) that records every console error (a CSP
 * violation is one), page error, failed request, error status, and request
 * to an origin other than `origin` (blob: URLs the page makes itself aside).
 * Tests end with `assert.deepEqual(problems, [])`.
 */
export async function watchedPage(
  browser: BrowserContext,
  origin: string,
  headers: Record<string, string> = {},
): Promise<{ page: Page; problems: string[] }> {
  await browser.clearCookies();
  const page = await browser.newPage();
  await page.setExtraHTTPHeaders(headers);
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on("request", (request) => {
    if (!request.url().startsWith(origin) && !request.url().startsWith("blob:"))
      problems.push(`third-party request: ${request.url()}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
  });
  return { page, problems };
}

/** Signs in to the example app at `origin` through its own form, by its labels. */
export async function signIn(page: Page, origin: string, name: string, region: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel("Listener name").fill(name);
  await page.getByLabel("Where you are").selectOption(region);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(`Signed in as ${name}`).waitFor();
}
