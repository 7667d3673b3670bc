/**
 * A real Express app mounting Consentgate exactly as the README shows (Install it and mount it in your app),
 * for the acceptance tests. Signed-in users are named by the x-user header;
 * x-roles carries their roles (comma-separated).
 */
import { after, before } from "node:test";
import type { Express, RequestHandler } from "express";
import { type Consentgate, type ConsentgateOptions, createConsentgate } from "../../src/index.ts";
import { type TestDatabase, testDatabase } from "./database.ts";
import { express } from "./express.ts";
import { testPolicy } from "./policy.ts";

export const TEST_SECRET = "test-secret-test-secret-test-secret!";

export interface TestApp {
  app: Express;
  gate: Consentgate;
  /** Bodies the handlers received, by route. */
  seen: { path: string; body: unknown }[];
}

/** Runs `test` against a test app on a fresh test database, then closes the gate and drops the database. */
export async function withTestApp(options: Partial<ConsentgateOptions>, test: (t: TestApp) => Promise<void>): Promise<void> {
  const db = await testDatabase();
  try {
    const t = await createTestApp(db.option, options);
    try {
      await test(t);
    } finally {
      await t.gate.close();
    }
  } finally {
    await db.drop();
  }
}

/**
 * For a describe block whose tests share one app: a test database and an app
 * on it, made before the first test and closed and dropped after the last.
 * Its fields are filled in once the block's `before` hook has run.
 */
export function sharedTestApp(options: Partial<ConsentgateOptions> = {}): TestApp & { db: TestDatabase } {
  const shared = {} as TestApp & { db: TestDatabase };
  before(async () => {
    shared.db = await testDatabase();
    Object.assign(shared, await createTestApp(shared.db.option, options));
  });
  after(async () => {
    await shared.gate?.close();
    await shared.db?.drop();
  });
  return shared;
}

export async function createTestApp(database: string, options: Partial<ConsentgateOptions> = {}): Promise<TestApp> {
  const gate = await createConsentgate({
    policies: testPolicy(),
    database,
    secret: TEST_SECRET,
    subject: (req) => req.get("x-user") || undefined,
    actor: (req) => {
      const id = req.get("x-user");
      return id ? { id, roles: (req.get("x-roles") ?? "").split(",").filter(Boolean) } : undefined;
    },
    ...options,
  });
  const seen: TestApp["seen"] = [];
  const app = express();
  app.use(express.json({ limit: "8kb" }));
  app.use(gate.middleware());
  // Express 4 does not catch a handler's rejected promise: hand it to the error handlers as Express 5 does.
  const handled = (handler: (...args: Parameters<RequestHandler>) => Promise<void>): RequestHandler => (req, res, next) => {
    handler(req, res, next).catch(next);
  };
  // A handler that notes what it received and records it as one interaction of `kind`.
  const recording = (kind: string): RequestHandler =>
    handled(async (req, res) => {
      seen.push({ path: req.path, body: req.body });
      await req.privacy.record(kind, req.body);
      res.status(201).end();
    });
  app.post("/api/plays", recording("play"));
  app.post("/api/ads/click", gate.purpose("advertising"), recording("click"));
  app.post("/api/stats", gate.purpose("analytics"), recording("count"));
  app.post("/api/service", gate.purpose("service"), recording("play"));
  app.post("/api/unmapped", (req, res) => {
    seen.push({ path: req.path, body: req.body });
    res.status(201).end();
  });
  app.post(
    "/api/unmapped-record",
    handled(async (req, res) => {
      await req.privacy.record("note", req.body);
      res.status(201).end();
    }),
  );
  const api = express.Router();
  api.post("/nested", gate.purpose("service"), (req, res) => {
    seen.push({ path: req.path, body: req.body });
    res.status(201).end();
  });
  app.use("/api/v2", api);
  app.get(
    "/api/recommendations",
    handled(async (req, res) => {
      res.json(await req.privacy.recent("personalization"));
    }),
  );
  app.get(
    "/api/can/:purpose",
    handled(async (req, res) => {
      res.json({ can: await req.privacy.can(String(req.params.purpose)) });
    }),
  );
  app.get("/health", (_req, res) => {
    res.json({ ok: true });
  });
  app.use("/privacy", gate.router());
  app.use(gate.errorHandler());
  return { app, gate, seen };
}
