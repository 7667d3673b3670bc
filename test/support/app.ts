/**
 * Gates and the Express apps that mount them, for the tests that go through
 * HTTP. Every test gate starts from the same options (the test policy,
 * TEST_SECRET, signed-in subjects named by x-user and their roles by x-roles:
 * see subjects.ts) and closes when its scope ends (scope.ts).
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { before } from "node:test";
import type { Express, RequestHandler } from "express";
import { type Consentgate, type ConsentgateOptions, createConsentgate } from "../../src/index.ts";
import { type TestDatabase, testDatabase } from "./database.ts";
import { express } from "./express.ts";
import { testPolicy } from "./policy.ts";
import { type Scope, onCleanup, suiteScope } from "./scope.ts";
import { createDocumentSigner, signingKeyFromSecret } from "../../src/signatures/ed25519.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { HMAC_RECEIPT_VERSION, type Receipt } from "../../src/rights/receipts.ts";

export const TEST_SECRET = "test-secret-test-secret-test-secret!";

/** Checks receipts and certificates as a gate started with TEST_SECRET and no signing keys does. */
export const testSigner = (secret = TEST_SECRET) =>
  createDocumentSigner([signingKeyFromSecret(secret)], createKeyring(secret));

/**
 * A personalization receipt as gates signed them before Ed25519: version 1, an HMAC with TEST_SECRET, no kid.
 * For the tests that check such receipts, stored then, are exported as issued and keep verifying.
 */
export function hmacReceipt(subject: string, at: Date): Receipt {
  const body = {
    version: HMAC_RECEIPT_VERSION,
    id: randomUUID(),
    subject,
    purpose: "personalization",
    granted: true,
    policyVersion: "test-1",
    region: "EU",
    at: at.toISOString(),
    gpc: false,
    overrideGpc: false,
  } as const;
  return { ...body, signature: createKeyring(TEST_SECRET).sign(body) };
}

export interface TestApp {
  app: Express;
  gate: Consentgate;
  /** Bodies the handlers received, by route. */
  seen: { path: string; body: unknown }[];
}

/** The options every test gate starts from, with `options` over them. */
export function testGateOptions(options: ConsentgateOptions = {}): ConsentgateOptions {
  return {
    policies: testPolicy(),
    secret: TEST_SECRET,
    subject: (req) => req.get("x-user") || undefined,
    actor: (req) => {
      const id = req.get("x-user");
      return id ? { id, roles: (req.get("x-roles") ?? "").split(",").filter(Boolean) } : undefined;
    },
    ...options,
  };
}

/**
 * A gate with the test options, closed when `scope` ends. Its database is
 * `options.database` (a TestDatabase's option, or "memory"), else a fresh
 * test database of the scope's.
 */
export async function testGate(scope: Scope, options: ConsentgateOptions = {}): Promise<Consentgate> {
  const database = options.database ?? (await testDatabase(scope)).option;
  const gate = await createConsentgate(testGateOptions({ ...options, database }));
  onCleanup(scope, () => gate.close());
  return gate;
}

/**
 * A host app mounting `gate` as the README shows (Mount it in your app): JSON
 * bodies, gate.middleware(), the host's own layers (`mount`), the privacy
 * endpoints at /privacy, and the gate's error handler.
 */
export function hostApp(
  gate: Consentgate,
  mount: (app: Express) => void = () => {},
  { bodyLimit }: { bodyLimit?: string } = {},
): Express {
  const app = express();
  app.use(express.json(bodyLimit === undefined ? {} : { limit: bodyLimit }));
  app.use(gate.middleware());
  mount(app);
  app.use("/privacy", gate.router());
  app.use(gate.errorHandler());
  return app;
}

/** Express 4 does not catch a handler's rejected promise: hand it to the error handlers as Express 5 does. */
export const handled =
  (handler: (...args: Parameters<RequestHandler>) => Promise<void>): RequestHandler =>
  (req, res, next) => {
    handler(req, res, next).catch(next);
  };

/**
 * The acceptance tests' app: a test gate (see testGate) in a host app whose
 * routes note what their handlers received (`seen`) and record it, some
 * gated in code, some mapped in the policy, some not covered at all.
 */
export async function testApp(scope: Scope, options: ConsentgateOptions = {}): Promise<TestApp> {
  const gate = await testGate(scope, options);
  const seen: TestApp["seen"] = [];
  // A handler that notes what it received and records it as one interaction of `kind`.
  const recording = (kind: string): RequestHandler =>
    handled(async (req, res) => {
      seen.push({ path: req.path, body: req.body });
      await req.privacy.record(kind, req.body);
      res.status(201).end();
    });
  const app = hostApp(
    gate,
    (app) => {
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
    },
    { bodyLimit: "8kb" },
  );
  return { app, gate, seen };
}

/** Serves `app` on a free port of 127.0.0.1 until `scope` ends; resolves to its origin (http://127.0.0.1:port). */
export async function serve(scope: Scope, app: Express): Promise<string> {
  const server = app.listen(0, "127.0.0.1");
  onCleanup(scope, () => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise((resolve, reject) => server.once("listening", resolve).once("error", reject));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * For a describe block whose tests share one app: a test database and a test
 * app on it, made before the first test, closed and dropped after the last.
 * Its fields are filled in once the block's `before` hook has run.
 */
export function sharedTestApp(options: ConsentgateOptions = {}): TestApp & { db: TestDatabase } {
  const shared = {} as TestApp & { db: TestDatabase };
  const suite = suiteScope();
  before(async () => {
    shared.db = await testDatabase(suite);
    Object.assign(shared, await testApp(suite, { ...options, database: shared.db.option }));
  });
  return shared;
}
