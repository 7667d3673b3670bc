/**
 * Which writes the gate lets reach the host's handlers: every layer Express
 * could hand a write to after gate.middleware() is either a purpose gate or
 * the write is refused as unmapped_write, on Express 4 and 5 (TEST_EXPRESS=4).
 */
import assert from "node:assert/strict";
import { before, beforeEach, describe, test } from "node:test";
import type { Express, RequestHandler } from "express";
import request from "supertest";
import type { Consentgate } from "../../src/index.ts";
import { hostApp as hostAppOf, testGate } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { express, expressMajor } from "../support/express.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { eu } from "../support/subjects.ts";

describe(`write routing on Express ${expressMajor} and ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let gate: Consentgate;
  /** The paths of the handlers that ran, and the bodies they got. */
  let ran: { at: string; body: unknown }[];
  const user = eu("listener");

  before(async () => {
    gate = await testGate(suite, {
      policies: testPolicy({
        routes: {
          "POST /api/plays": "personalization",
          "MERGE /api/merge": "personalization",
          "PURGE /api/purge": "service",
        },
      }),
    });
  });
  beforeEach(() => {
    ran = [];
  });

  /** A handler that answers the write itself, with whatever body it was given. */
  const answers =
    (at: string): RequestHandler =>
    (req, res) => {
      ran.push({ at, body: req.body });
      res.status(201).json({ at });
    };
  /** A handler that looks at the body and passes the request on. */
  const peeks =
    (at: string): RequestHandler =>
    (req, _res, next) => {
      ran.push({ at, body: req.body });
      next();
    };

  /** The host app of the README: body parser, the gate, then the host's own layers. */
  const hostApp = (mount: (app: Express) => void): Express => hostAppOf(gate, mount);

  async function refused(app: Express, method: string, path: string): Promise<void> {
    const res = await request(app)[method as "post"](path).set(user).send({ itemId: "x", secret: "raw" });
    assert.equal(res.status, 403, `${method.toUpperCase()} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, "unmapped_write");
    assert.deepEqual(ran, [], "no handler saw the raw body");
  }

  test("a sub-app mounted with app.use cannot be seen into, so its writes are refused", async () => {
    const legacy = express();
    legacy.post("/notes", answers("legacy"));
    const app = hostApp((a) => a.use("/legacy", legacy));
    await refused(app, "post", "/legacy/notes");
    // A gate in front of the sub-app covers it.
    const gated = hostApp((a) => a.use("/legacy", gate.purpose("service"), legacy));
    await request(gated).post("/legacy/notes").set(user).send({ itemId: "x", secret: "raw" }).expect(201);
    assert.deepEqual(ran, [{ at: "legacy", body: { itemId: "x" } }]);
  });

  test("a handler mounted with app.use (a proxy, GraphQL) is an ungated handler", async () => {
    const app = hostApp((a) => a.use("/graphql", answers("graphql")));
    await refused(app, "post", "/graphql");
    await refused(app, "post", "/graphql/batch");
    // Reads pass; paths nothing answers stay 404s.
    await request(app).get("/graphql").expect(201);
    ran = [];
    await request(app).post("/elsewhere").set(user).send({}).expect(404);
  });

  test("a handler mounted with router.use is an ungated handler, and so is a route's app.param callback", async () => {
    const api = express.Router();
    api.use(answers("router.use"));
    await refused(
      hostApp((a) => a.use("/api", api)),
      "post",
      "/api/anything",
    );

    const withParam = hostApp((a) => {
      a.param("id", (req, _res, next) => {
        ran.push({ at: "param", body: req.body });
        next();
      });
      a.post("/api/items/:id", gate.purpose("service"), answers("item"));
    });
    await refused(withParam, "post", "/api/items/1");
  });

  test("gate.middleware() inside a mounted sub-app sees the sub-app's routes and its parent's", async () => {
    const v1 = express();
    v1.use(express.json());
    v1.use(gate.middleware());
    v1.post("/notes", answers("v1 notes"));
    v1.post("/plays", gate.purpose("service"), answers("v1 plays"));
    const app = express();
    app.use("/v1", v1);
    app.post("/v1/after", answers("parent after"));
    app.use(gate.errorHandler());

    await refused(app, "post", "/v1/notes");
    await refused(app, "post", "/v1/after");
    await request(app).post("/v1/plays").set(user).send({ itemId: "x", secret: "raw" }).expect(201);
    assert.deepEqual(ran, [{ at: "v1 plays", body: { itemId: "x" } }]);
  });

  test("gate.middleware() inside a router mounted at a path", async () => {
    const api = express.Router();
    api.use(gate.middleware());
    api.post("/notes", answers("notes"));
    api.post("/listens", gate.purpose("service"), answers("listens"));
    const app = express();
    app.use(express.json());
    app.use("/api", api);
    app.post("/api/after", answers("after"));
    await refused(app, "post", "/api/notes");
    await refused(app, "post", "/api/after");
    await request(app).post("/api/listens").set(user).send({ itemId: "x" }).expect(201);
  });

  test("every method but GET, HEAD and OPTIONS is a write, mapped or not", async () => {
    const app = hostApp((a) => {
      a.all("/api/anything", answers("all"));
      a.all("/api/merge", answers("merge"));
      a.all("/api/purge", answers("purge"));
    });
    for (const method of ["merge", "purge", "patch", "propfind", "lock"]) await refused(app, method, "/api/anything");
    // Mapped in the policy: MERGE needs personalization consent in the EU…
    const merge = await request(app).merge("/api/merge").set(user).send({ itemId: "x", secret: "raw" });
    assert.equal(merge.status, 403);
    assert.equal(merge.body.error.code, "consent_required");
    assert.deepEqual(ran, []);
    // …and PURGE is a service write: admitted, minimized.
    await request(app).purge("/api/purge").set(user).send({ itemId: "x", secret: "raw" }).expect(201);
    assert.deepEqual(ran, [{ at: "purge", body: { itemId: "x" } }]);
    ran = [];
    for (const method of ["get", "head", "options"] as const)
      await request(app)
        [method]("/api/anything")
        .expect((res) => assert.notEqual(res.status, 403));
  });

  test("a route registered after a first request for its path is scanned again", async () => {
    const app = hostApp(() => {});
    // The privacy router and the error handler are already mounted; routes added later come after them.
    await request(app).post("/api/late").set(user).send({}).expect(404);
    app.post("/api/late", answers("late"));
    await refused(app, "post", "/api/late");

    const gatedLater = hostApp(() => {});
    await request(gatedLater).post("/api/late").set(user).send({}).expect(404);
    gatedLater.post("/api/late", gate.purpose("service"), answers("late"));
    await request(gatedLater).post("/api/late").set(user).send({ itemId: "x" }).expect(201);
  });

  test("a gate placed after an ungated handler on the same route, or on a later route, is too late", async () => {
    const sameRoute = hostApp((a) =>
      a.post("/api/late-gate", peeks("first"), gate.purpose("service"), answers("second")),
    );
    await refused(sameRoute, "post", "/api/late-gate");

    const laterRoute = hostApp((a) => {
      a.post("/api/twice", peeks("first"));
      a.post("/api/twice", gate.purpose("service"), answers("second"));
    });
    await refused(laterRoute, "post", "/api/twice");

    const useBefore = hostApp((a) => {
      a.use("/api", peeks("logger after the gate"));
      a.post("/api/listens", gate.purpose("service"), answers("listens"));
    });
    await refused(useBefore, "post", "/api/listens");
  });

  test("known pass-through layers after the gate do not hide a gated route", async () => {
    const app = hostApp((a) => {
      a.use(express.urlencoded({ extended: false }));
      a.use(gate.middleware());
      a.use("/privacy-center", gate.privacyCenter());
      a.use(((_error, _req, _res, next) => next()) as import("express").ErrorRequestHandler);
      const api = express.Router();
      api.post("/listens", gate.purpose("service"), answers("listens"));
      a.use("/api", api);
    });
    await request(app).post("/api/listens").set(user).send({ itemId: "x", secret: "raw" }).expect(201);
    assert.deepEqual(ran, [{ at: "listens", body: { itemId: "x" } }]);
    // Consentgate's own router takes its writes.
    await request(app).put("/privacy/consents/personalization").set(user).send({ granted: true }).expect(200);
    // A write to the privacy center's path falls through to a 404.
    await request(app).post("/privacy-center").set(user).send({}).expect(404);
  });

  test("a gate the scan cannot find (wrapped in another function) refuses", async () => {
    const inner = gate.middleware();
    const app = express();
    app.use(express.json());
    app.use((req, res, next) => inner(req, res, next));
    app.post("/api/service", gate.purpose("service"), answers("service"));
    await refused(app, "post", "/api/service");
  });
});
