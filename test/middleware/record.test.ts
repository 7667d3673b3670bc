/**
 * req.privacy.record() through a real app: what a handler passes is stored
 * minimized whatever object it is, and a write that fails after the gate
 * admitted the request is an error for the client, never a 201.
 */
import assert from "node:assert/strict";
import { type TestContext, before, beforeEach, describe, test } from "node:test";
import type { Express, RequestHandler } from "express";
import request from "supertest";
import type { Consentgate } from "../../src/index.ts";
import { hostApp, testGate } from "../support/app.ts";
import { type PersistentDatabase, onPostgres, persistentDatabase } from "../support/database.ts";
import { type Scope, suiteScope } from "../support/scope.ts";
import { ca } from "../support/subjects.ts";

const play = { itemId: "trk_1", action: "play", durationMs: 183_456, userAgent: "Mozilla/5.0" };
const minimizedPlay = { itemId: "trk_1", action: "play", durationMs: 183_000 };

/** A test gate on `database` and a host app whose handlers record what the test asks them to. */
async function openApp(
  scope: Scope,
  database: string,
  handlers: Record<string, RequestHandler>,
): Promise<{ app: Express; gate: Consentgate; ran: string[] }> {
  const gate = await testGate(scope, { database });
  const ran: string[] = [];
  const app = hostApp(gate, (app) => {
    for (const [path, handler] of Object.entries(handlers)) {
      app.post(path, gate.purpose("personalization"), (req, res, next) => {
        ran.push(path);
        // Express 4 does not catch a handler's rejected promise: hand it to the error handlers as Express 5 does.
        Promise.resolve(handler(req, res, next)).catch(next);
      });
    }
  });
  return { app, gate, ran };
}

describe(`record() on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: PersistentDatabase;
  let gate: Consentgate;
  let app: Express;
  let ran: string[];
  let user: string;
  let n = 0;
  before(async () => {
    db = await persistentDatabase(suite);
  });
  // Each test its own gate, on the one database (a beforeEach hook gets its test's context).
  beforeEach(async (ctx) => {
    user = `recorder-${++n}`;
    ({ app, gate, ran } = await openApp(ctx as TestContext, db.option, {
      // A handler that builds its own object from the admitted body, adding to it.
      "/spread": async (req, res) => {
        await req.privacy.record("play", { ...req.body, extra: 1, userAgent: "x" });
        res.status(201).end();
      },
      // A handler that records an object of its own, unrelated to the body.
      "/fresh": async (req, res) => {
        await req.privacy.record("play", {
          itemId: "trk_2",
          durationMs: 5_999,
          location: { lat: 48.8584, lon: 2.2945 },
          secret: "s",
        });
        res.status(201).end();
      },
      // The database goes away after the gate admitted the request, before the write.
      "/store-gone": async (req, res) => {
        await gate.close();
        await req.privacy.record("play", req.body);
        res.status(201).end();
      },
    }));
  });
  const stored = async () => (await gate.store.interactions.forSubject(user)).map((i) => i.data);

  test("data built from the body is minimized again: added fields are dropped", async () => {
    await request(app).post("/spread").set(ca(user)).send(play).expect(201);
    assert.deepEqual(await stored(), [minimizedPlay]);
  });

  test("an object of the handler's own is minimized with the purpose's rules", async () => {
    await request(app).post("/fresh").set(ca(user)).send(play).expect(201);
    assert.deepEqual(await stored(), [{ itemId: "trk_2", durationMs: 5_000, location: "u09tu" }]);
  });

  test("a write that fails after admission answers 503 consent_unavailable and stores nothing", async (ctx) => {
    const res = await request(app).post("/store-gone").set(ca(user)).send(play);
    assert.deepEqual(ran, ["/store-gone"], "the gate admitted the request");
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, "consent_unavailable");
    // A new gate on the same database: nothing of that request was kept.
    ({ app, gate, ran } = await openApp(ctx, db.option, {}));
    assert.deepEqual(await stored(), []);
  });
});
