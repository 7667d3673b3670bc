/**
 * The access matrix: every route of gate.router() × every way a request can
 * name another subject (path, query, body, header) × every kind of caller
 * (anonymous, a subject, an agent, a DPO, malformed actors). Bob has consent
 * state, interactions and a request; after each call his data must be
 * unchanged and absent from the answer, except when an agent names him with
 * `?subject=` (then the agent acts for him and is recorded as the actor).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { Express } from "express";
import request from "supertest";
import type { Consentgate } from "../../src/index.ts";
import { handled, hostApp, testGate } from "../support/app.ts";
import { assertCoded4xx } from "../support/arbitraries.ts";
import { onPostgres } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { eu, grant } from "../support/subjects.ts";

interface Caller {
  name: string;
  /** x-user: whose data the request is about. */
  user?: string;
  /** The actor the host's actor() returns, as is (malformed ones included). */
  actor?: unknown;
  agent?: boolean;
  dpo?: boolean;
}

const callers: Caller[] = [
  { name: "anonymous" },
  { name: "subject alice", user: "alice" },
  { name: "agent", user: "agent-1", actor: { id: "agent-1", roles: ["agent"] }, agent: true },
  { name: "agent, not signed in as a subject", actor: { id: "agent-2", roles: ["agent"] }, agent: true },
  { name: "dpo", user: "dpo-1", actor: { id: "dpo-1", roles: ["dpo"] }, dpo: true },
  { name: "roles as a string", user: "mallory", actor: { id: "mallory", roles: "support_agent_readonly" } },
  { name: "roles as the string dpo", user: "mallory", actor: { id: "mallory", roles: "dpo" } },
  { name: "agent with an empty id", user: "mallory", actor: { id: "", roles: ["agent"] } },
  { name: "agent with no id", user: "mallory", actor: { roles: ["agent", "dpo"] } },
  { name: "agent with a numeric id", user: "mallory", actor: { id: 7, roles: ["agent"] } },
  { name: "roles holding a non-string", user: "mallory", actor: { id: "mallory", roles: ["agent", { dpo: true }] } },
  { name: "actor null", user: "mallory", actor: null },
];

type Method = "get" | "put" | "delete";
interface Route {
  name: string;
  method: Method;
  path: string;
  body?: object;
  admin?: boolean;
  /** Readable by anyone (public keys): no subject data can be in it. */
  public?: boolean;
}

const routes: Route[] = [
  { name: "GET /consents", method: "get", path: "/consents" },
  { name: "PUT /consents/:purpose", method: "put", path: "/consents/personalization", body: { granted: false } },
  { name: "GET /export", method: "get", path: "/export" },
  { name: "DELETE /data", method: "delete", path: "/data" },
  { name: "GET /requests", method: "get", path: "/requests" },
  { name: "GET /requests/:id", method: "get", path: "/requests/00000000-0000-4000-8000-000000000000" },
  { name: "GET /admin/compliance/:region", method: "get", path: "/admin/compliance/EU", admin: true },
  { name: "GET /admin/compliance/:region/verify", method: "get", path: "/admin/compliance/EU/verify", admin: true },
  { name: "GET /admin/report/:region", method: "get", path: "/admin/report/EU", admin: true },
  { name: "GET /keys", method: "get", path: "/keys", public: true },
];

/** Bob as seeded: his id and the values that are his data. */
interface Bob {
  id: string;
  receiptId: string;
  requestId: string;
  item: string;
}

/** One way of naming bob: how it changes the path, query, body and headers of a call. */
interface Naming {
  name: string;
  /** The only naming an agent may use. */
  agentQuery?: boolean;
  apply(route: Route, bob: Bob): { path: string; query: string; body?: object; headers: Record<string, string> };
}

const namings: Naming[] = [
  { name: "nobody", apply: (r) => ({ path: r.path, query: "", headers: {} }) },
  {
    name: "path /…/bob",
    apply: (r, bob) => ({
      path: r.name === "GET /requests/:id" ? `/requests/${bob.requestId}` : `${r.path}/${bob.id}`,
      query: "",
      headers: {},
    }),
  },
  {
    name: "path with bob before the route",
    apply: (r, bob) => ({ path: `/${bob.id}${r.path}`, query: "", headers: {} }),
  },
  {
    name: "?subject=bob",
    agentQuery: true,
    apply: (r, bob) => ({
      path: r.name === "GET /requests/:id" ? `/requests/${bob.requestId}` : r.path,
      query: `subject=${bob.id}`,
      headers: {},
    }),
  },
  { name: "?subjectId=bob", apply: (r, bob) => ({ path: r.path, query: `subjectId=${bob.id}`, headers: {} }) },
  { name: "?user=bob", apply: (r, bob) => ({ path: r.path, query: `user=${bob.id}`, headers: {} }) },
  { name: "?subject[]=bob", apply: (r, bob) => ({ path: r.path, query: `subject[]=${bob.id}`, headers: {} }) },
  {
    name: "?subject=bob&subject=alice",
    apply: (r, bob) => ({ path: r.path, query: `subject=${bob.id}&subject=alice`, headers: {} }),
  },
  { name: "?subject[id]=bob", apply: (r, bob) => ({ path: r.path, query: `subject[id]=${bob.id}`, headers: {} }) },
  { name: "?SUBJECT=bob", apply: (r, bob) => ({ path: r.path, query: `SUBJECT=${bob.id}`, headers: {} }) },
  {
    name: "body subject",
    apply: (r, bob) => ({ path: r.path, query: "", body: { ...r.body, subject: bob.id }, headers: {} }),
  },
  {
    name: "body subjectId",
    apply: (r, bob) => ({ path: r.path, query: "", body: { ...r.body, subjectId: bob.id }, headers: {} }),
  },
  { name: "header x-subject", apply: (r, bob) => ({ path: r.path, query: "", headers: { "x-subject": bob.id } }) },
  {
    name: "header x-subject-id",
    apply: (r, bob) => ({ path: r.path, query: "", headers: { "x-subject-id": bob.id } }),
  },
  {
    name: "header x-on-behalf-of",
    apply: (r, bob) => ({ path: r.path, query: "", headers: { "x-on-behalf-of": bob.id } }),
  },
  {
    name: "header x-forwarded-user",
    apply: (r, bob) => ({ path: r.path, query: "", headers: { "x-forwarded-user": bob.id } }),
  },
];

/** What is held about bob, as comparable JSON. */
async function holdings(gate: Consentgate, subject: string) {
  const [consents, history, requests, interactions] = await Promise.all([
    gate.store.consents.current(subject),
    gate.store.consents.history(subject),
    gate.store.requests.forSubject(subject),
    gate.store.interactions.countByPurpose(subject),
  ]);
  return {
    consents: JSON.stringify(consents),
    history: history.length,
    interactions: JSON.stringify(interactions),
    requests: JSON.stringify(requests.map((r) => [r.id, r.type, r.status])),
  };
}

describe(`access matrix: ${routes.length} routes × ${namings.length} namings × ${callers.length} callers on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let gate: Consentgate;
  let app: Express;
  before(async () => {
    gate = await testGate(suite, {
      // The host's actor() as the test describes it, malformed shapes passed through untouched.
      actor: (req) => {
        const header = req.get("x-actor");
        return header === undefined ? undefined : JSON.parse(header);
      },
      // The matrix makes hundreds of calls per caller; the rate limits have tests of their own.
      limits: { consentChanges: 1_000_000, requests: 1_000_000, reads: 1_000_000 },
    });
    app = hostApp(gate, (host) => {
      host.post(
        "/api/plays",
        handled(async (req, res) => {
          await req.privacy.record("play", req.body);
          res.status(201).end();
        }),
      );
    });
  });

  let seeded = 0;
  /** A fresh bob with a consent, an interaction and an export request. */
  async function seedBob(): Promise<Bob> {
    const id = `bob-${++seeded}`;
    const as = eu(id);
    const receipt = await grant(app, as, "personalization").expect(200);
    const item = `bob-secret-item-${seeded}`;
    await request(app).post("/api/plays").set(as).send({ itemId: item }).expect(201);
    await request(app).get("/privacy/export").set(as).expect(200);
    const [exported] = await gate.store.requests.forSubject(id);
    return { id, receiptId: String(receipt.body.id), requestId: exported!.id, item };
  }

  // PostgreSQL text cannot hold NUL: such an id must be refused as input, not fail in the database
  // (it answered 500 on GET /requests and 503 elsewhere).
  const unstorable = ["%00", "a%00b"];
  for (const route of routes.filter((r) => !r.admin && !r.public)) {
    test(`${route.name}: an agent naming a subject id the database cannot hold gets a coded 400`, async () => {
      for (const tail of unstorable) {
        const res = await request(app)
          [route.method](`/privacy${route.path}?subject=bob${tail}`)
          .set({ "x-user": "agent-1", "x-actor": JSON.stringify({ id: "agent-1", roles: ["agent"] }) })
          .send(route.body);
        assert.deepEqual(
          [res.status, res.body.error?.code],
          [400, "invalid_body"],
          `?subject=bob${tail}: ${res.status} ${res.text.slice(0, 200)}`,
        );
      }
    });
  }

  for (const route of routes) {
    test(route.name, async () => {
      const failures: string[] = [];
      let bob = await seedBob();
      let baseline = await holdings(gate, bob.id);
      for (const caller of callers) {
        for (const naming of namings) {
          const call = naming.apply(route, bob);
          const url = `/privacy${call.path}${call.query ? `?${call.query}` : ""}`;
          const headers: Record<string, string> = { "x-region": "DE", ...call.headers };
          if (caller.user !== undefined) headers["x-user"] = caller.user;
          if (caller.actor !== undefined) headers["x-actor"] = JSON.stringify(caller.actor);
          const body = call.body ?? route.body;
          const sent = request(app)[route.method](url).set(headers);
          const res = body === undefined ? await sent : await sent.send(body);
          const where = `${caller.name} × ${naming.name}: ${route.method.toUpperCase()} ${url} → ${res.status}`;
          const check = (ok: boolean, what: string) => void (ok || failures.push(`${where}: ${what}`));

          check(res.status < 500, `server error ${res.text.slice(0, 200)}`);
          if (res.status >= 400 && res.status < 500) {
            try {
              assertCoded4xx(res.status, res.body, where);
            } catch (error) {
              check(false, (error as Error).message);
            }
          }
          const after = await holdings(gate, bob.id);
          const forBob = caller.agent === true && naming.agentQuery === true && !route.admin && !route.public;
          if (forBob) {
            // The agent acts for bob: the call succeeds, and what it changed names the agent as the actor.
            check(res.status === 200, `an agent naming bob with ?subject= was refused: ${res.text.slice(0, 200)}`);
            const actorId = (caller.actor as { id: string }).id;
            if (route.name === "PUT /consents/:purpose") {
              const last = (await gate.store.consents.history(bob.id)).at(-1) as
                | { actorId?: string | null; granted?: boolean }
                | undefined;
              check(
                last?.granted === false && last.actorId === actorId,
                `bob's withdrawal is not recorded with the agent as actor: ${JSON.stringify(last, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`,
              );
            }
            if (route.name === "GET /export" || route.name === "DELETE /data") {
              const [newest] = await gate.store.requests.forSubject(bob.id);
              check(
                newest?.actorId === actorId,
                `bob's ${route.name} request does not name the agent: ${JSON.stringify(newest)}`,
              );
            }
            if (route.method === "get" && route.name !== "GET /export")
              check(
                res.text.includes(bob.id) || res.text.includes(bob.requestId),
                "the agent's answer is not about bob",
              );
          } else {
            for (const key of Object.keys(baseline) as (keyof typeof baseline)[]) {
              check(after[key] === baseline[key], `bob's ${key} changed: ${baseline[key]} → ${after[key]}`);
            }
            if (!(caller.dpo && route.admin)) {
              const text = res.text;
              const leaked = [
                bob.item,
                bob.receiptId,
                `"subject":"${bob.id}"`,
                ...(url.includes(bob.requestId) ? [] : [bob.requestId]),
              ].filter((marker) => text.includes(marker));
              check(leaked.length === 0, `bob's data in the answer: ${leaked.join(", ")}`);
            }
            if (route.admin && !caller.dpo)
              check(res.status === 401 || res.status === 403 || res.status === 404, "a non-DPO read an admin route");
          }
          if (forBob && route.method !== "get") {
            bob = await seedBob();
            baseline = await holdings(gate, bob.id);
          } else if (forBob) {
            baseline = await holdings(gate, bob.id);
          }
        }
      }
      assert.deepEqual(failures, [], `${failures.length} cross-subject failures:\n${failures.join("\n")}`);
    });
  }
});
