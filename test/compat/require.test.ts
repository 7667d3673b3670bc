/**
 * A CommonJS host on Express 4 loads the built package with require("consentgate")
 * (Node ≥ 20.19 requires an ES module graph without top-level await) and mounts it
 * as the README shows. Runs against dist/, which `npm run build` makes: this test
 * builds nothing; it skips without dist/ on a developer's machine and fails in CI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../../", import.meta.url));
const built = existsSync(join(root, "dist", "index.js"));
const skip = !built && !process.env.CI && "dist/ is missing: run `npm run build` first";

const HOST = String.raw`
const express = require("express");
const { createConsentgate, isConsentgateError } = require("consentgate");

(async () => {
  const gate = await createConsentgate({
    policies: process.env.POLICIES,
    database: "memory",
    subject: (req) => req.get("x-user") || undefined,
  });
  const app = express();
  app.use(express.json());
  app.use(gate.middleware());
  app.post("/api/plays", gate.purpose("personalization"), (req, res) => res.status(201).json(req.body));
  app.post("/api/notes", (req, res) => res.status(201).end());
  app.use("/privacy", gate.router());
  app.use(gate.errorHandler());
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const base = "http://127.0.0.1:" + server.address().port;
  const send = async (method, path, body) => {
    const res = await fetch(base + path, { method, headers: { "content-type": "application/json", "x-user": "cjs" }, body: JSON.stringify(body) });
    const text = await res.text();
    return [res.status, text ? JSON.parse(text) : null];
  };
  const answers = {
    express: require("express/package.json").version,
    isConsentgateError: typeof isConsentgateError,
    refused: await send("POST", "/api/plays", { itemId: "t1" }),
    grant: (await send("PUT", "/privacy/consents/personalization", { granted: true }))[0],
    admitted: await send("POST", "/api/plays", { itemId: "t1", ip: "203.0.113.9" }),
    unmapped: await send("POST", "/api/notes", { a: 1 }),
  };
  server.close();
  await gate.close();
  process.stdout.write(JSON.stringify(answers));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

test("require('consentgate') from a CommonJS app on Express 4", { skip }, async () => {
  assert.ok(built, "dist/index.js is missing: CI must build before it tests");
  const dir = await mkdtemp(join(tmpdir(), "consentgate-cjs-"));
  try {
    // The host's node_modules: the package itself, and its own Express 4.
    await mkdir(join(dir, "node_modules"));
    await symlink(root, join(dir, "node_modules", "consentgate"), "dir");
    await symlink(join(root, "node_modules", "express4"), join(dir, "node_modules", "express"), "dir");
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "cjs-host", private: true, type: "commonjs" }));
    await writeFile(join(dir, "server.js"), HOST);
    const { stdout } = await promisify(execFile)(process.execPath, ["server.js"], {
      cwd: dir,
      env: { ...process.env, POLICIES: join(root, "policies"), NODE_OPTIONS: "" },
      timeout: 60_000,
    });
    const answers = JSON.parse(stdout);
    assert.match(answers.express, /^4\./);
    assert.equal(answers.isConsentgateError, "function");
    assert.equal(answers.refused[0], 403);
    assert.equal(answers.refused[1].error.code, "consent_required");
    assert.equal(answers.grant, 200);
    assert.deepEqual(answers.admitted, [201, { itemId: "t1" }]);
    assert.equal(answers.unmapped[0], 403);
    assert.equal(answers.unmapped[1].error.code, "unmapped_write");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
