/**
 * `{router}/learning/client.js`: the compiled `consentgate/client` module
 * (ES module, no dependencies) served to browsers, so a page can import it
 * from the same origin without a bundler. The entry imports its sibling
 * files by relative path, so they are served beside it, by name, and
 * nothing else of the package is.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The client's compiled files by name (client.js is its index.js); empty when the package was not built. */
export function loadDeviceClient(): ReadonlyMap<string, string> {
  // Compiled (dist/rights/): the client is beside it. From source (src/rights/, tests): the build in dist/client/.
  const candidates = [new URL("../client/", import.meta.url), new URL("../../dist/client/", import.meta.url)];
  const folder = candidates.map((url) => fileURLToPath(url)).find((dir) => existsSync(`${dir}index.js`));
  const files = new Map<string, string>();
  if (folder === undefined) return files;
  for (const name of readdirSync(folder)) {
    if (!name.endsWith(".js")) continue;
    files.set(name === "index.js" ? "client.js" : name, readFileSync(`${folder}${name}`, "utf8"));
  }
  return files;
}
