import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { Express } from "express";
import type { PrivacyRequestView } from "../../src/store/requests.ts";
import { type TestApp, testApp } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { eu } from "../support/subjects.ts";

/**
 * Starts GET /privacy/export over a real connection and closes it as soon as
 * the first chunk arrives. `serverSawClose` runs when the server's end of the
 * connection closes.
 */
async function abortAfterFirstChunk(app: Express, who: string, serverSawClose: () => void = () => {}): Promise<void> {
  const server = app.listen(0);
  server.on("connection", (socket) => socket.once("close", serverSawClose));
  try {
    await new Promise((resolve) => server.once("listening", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ port, path: "/privacy/export", headers: eu(who) }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once("data", () => req.destroy());
        res.on("close", resolve);
      });
      req.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" ? resolve() : reject(error)));
    });
  } finally {
    // Resolves once the server has handled the closed connection; the export may still be finishing.
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * The subject's one export request once its record has changed from
 * `received`, which it does when the export ends (however it ends). Polled,
 * a bounded number of times, so code that never ends the export fails the
 * assertion that follows instead of hanging.
 */
async function settledExport(t: TestApp, who: string): Promise<PrivacyRequestView | undefined> {
  let request: PrivacyRequestView | undefined;
  for (let attempt = 0; attempt < 1000; attempt++) {
    [request] = await t.gate.store.requests.forSubject(who);
    if (request && request.status !== "received") break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return request;
}

/** A deferred: a promise and the function that resolves it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

describe(`an export the client aborts on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("is recorded as aborted, not completed, and stops reading its data source", async (ctx) => {
    const clientGone = signal();
    let stopped = false;
    let yielded = 0;
    const t = await testApp(ctx, {});
    // Serves one item, then waits until the server has seen the client go, then would serve three more.
    t.gate.registerDataSource({
      name: "library",
      export: async function* () {
        try {
          yield { item: ++yielded };
          await clientGone.promise;
          for (let i = 0; i < 3; i++) yield { item: ++yielded };
        } finally {
          stopped = true;
        }
      },
      erase: () => 0,
    });
    // The source waits for the server to see the client go (an event, not a clock).
    await abortAfterFirstChunk(t.app, "leaver", clientGone.fire);
    const request = await settledExport(t, "leaver");
    assert.equal(request?.type, "export");
    assert.equal(request?.status, "aborted");
    assert.deepEqual(request?.details, { format: "consentgate-export/1", reason: "client_closed" });
    // Where the abort lands depends on when the server sees it (over PostgreSQL, often before the sources are reached).
    assert.ok(
      yielded < 4 && (yielded === 0 || stopped),
      `the source was not read to its end for nobody, and was closed (${yielded} items read)`,
    );
  });

  test("is recorded as aborted when the client leaves while the server waits for it to read", async (ctx) => {
    let stopped = false;
    let read = 0;
    const t = await testApp(ctx, {});
    // Far more than socket buffers hold: the export has to wait for the reader, who never reads again.
    const chunk = "x".repeat(64 * 1024);
    t.gate.registerDataSource({
      name: "archive",
      export: async function* () {
        try {
          for (; read < 4096; read++) yield { i: read, chunk };
        } finally {
          stopped = true;
        }
      },
      erase: () => 0,
    });
    await abortAfterFirstChunk(t.app, "impatient");
    const request = await settledExport(t, "impatient");
    assert.equal(request?.status, "aborted");
    assert.deepEqual(request?.details, { format: "consentgate-export/1", reason: "client_closed" });
    assert.ok(
      read < 4096 && (read === 0 || stopped),
      `the source was not read to its end for nobody, and was closed (${read} items read)`,
    );
  });
});
