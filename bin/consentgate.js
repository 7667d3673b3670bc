#!/usr/bin/env node
// The `consentgate` command (package.json "bin"): src/cli/main.ts, as built into dist/ or as source.
//
// A file of its own, always present, rather than a bin pointing into dist/: npm links a package's bin
// when it installs it, and `npx consentgate` inside this repository installs the repository itself
// into npx's cache once. A bin pointing into a dist/ not built yet was never linked there, and the
// cached install kept answering "consentgate: not found" even after a build.
//
// In a checkout (src/ is there and tsx, a devDependency, is installed) it runs the source, so it is
// never older than the code beside it; an installed package has only dist/, which `prepare` builds.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const built = new URL("../dist/cli/main.js", import.meta.url);

if (existsSync(source) && resolvable("tsx/esm/api")) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  console.error("consentgate: dist/ is missing: run `npm run build` in the consentgate package");
  process.exitCode = 1;
}

function resolvable(specifier) {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}
