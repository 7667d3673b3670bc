import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Request } from "express";
import request from "supertest";
import type { Actor } from "../../src/index.ts";
import { testApp } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { agent, eu, grant } from "../support/subjects.ts";

/** Actors a careless host could hand over, picked by the x-actor header. */
const MALFORMED: Record<string, (id: string) => unknown> = {
  // `includes` on a string matches substrings: "support_agent_readonly".includes("agent").
  "roles-string": (id) => ({ id, roles: "support_agent_readonly" }),
  "roles-string-dpo": (id) => ({ id, roles: "not_a_dpo" }),
  "roles-not-strings": (id) => ({ id, roles: [["agent"], { dpo: true }] }),
  "id-number": () => ({ id: 42, roles: ["agent", "dpo"] }),
  "id-empty": () => ({ id: "", roles: ["agent", "dpo"] }),
  "no-roles": (id) => ({ id }),
  "not-an-object": () => "agent",
  throws: () => {
    throw new Error("session store unreachable at redis://:pw@cache");
  },
};

function actor(req: Request): Actor | undefined {
  const id = req.get("x-user");
  if (!id) return undefined;
  const shape = req.get("x-actor");
  if (shape !== undefined) return MALFORMED[shape]!(id) as Actor;
  return { id, roles: (req.get("x-roles") ?? "").split(",").filter(Boolean) };
}

describe(`a malformed actor is no actor, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("it reaches nobody else's data, reads no compliance log, and is reported to the logger once", async (ctx) => {
    const warnings: { obj: object; msg: string | undefined }[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (obj: object, msg?: string) => warnings.push({ obj, msg }),
    };
    const t = await testApp(ctx, { actor, logger });
    const victim = eu("victim");
    await grant(t.app, victim, "personalization").expect(200);
    await request(t.app).post("/api/plays").set(victim).send({ itemId: "trk", action: "play" }).expect(201);

    for (const shape of Object.keys(MALFORMED)) {
      const caller = eu(`mallory-${shape}`, { "x-actor": shape });
      for (const [method, path] of [
        ["get", "/privacy/export?subject=victim"],
        ["delete", "/privacy/data?subject=victim"],
        ["get", "/privacy/consents?subject=victim"],
        ["put", "/privacy/consents/personalization?subject=victim"],
      ] as const) {
        const res = await request(t.app)[method](path).set(caller).send({ granted: false });
        assert.equal(res.status, 403, `${shape}: ${method} ${path}`);
        assert.equal(res.body.error.code, "forbidden");
      }
      const log = await request(t.app).get("/privacy/admin/compliance/EU").set(caller);
      assert.equal(log.status, 403, `${shape}: compliance log`);
      assert.equal(log.body.error.code, "forbidden");
      assert.doesNotMatch(log.text, /redis|pw@/);
      // What the subject may do for itself still works: a malformed actor is only the loss of its roles.
      const own = await request(t.app).get("/privacy/consents").set(caller);
      assert.equal(own.status, 200, `${shape}: own consents`);
      assert.equal(own.body.subject, `mallory-${shape}`);
    }

    assert.equal((await t.gate.store.interactions.forSubject("victim")).length, 1, "the victim's data is untouched");
    assert.equal((await t.gate.store.consents.current("victim")).personalization?.granted, true);
    assert.deepEqual(
      await t.gate.store.requests.forSubject("victim"),
      [],
      "no export or erasure was opened for the victim",
    );
    assert.equal(warnings.length, 1, "reported once, not once per request");
    assert.match(warnings[0]!.msg ?? "", /malformed actor/);
    assert.doesNotMatch(
      JSON.stringify(warnings[0]!.obj),
      /support_agent_readonly|not_a_dpo/,
      "the report names the problem, not the actor's content",
    );

    // A well-formed agent still acts for the subject.
    const consents = await request(t.app)
      .get("/privacy/consents?subject=victim")
      .set(agent("agent-1", { "x-region": "DE" }))
      .expect(200);
    assert.equal(consents.body.subject, "victim");
  });
});
