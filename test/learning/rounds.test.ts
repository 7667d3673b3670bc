/**
 * Federated learning through the public surface, on PGlite and PostgreSQL:
 * a gate whose policy has a `learning` block, devices that GET the model and
 * POST dense float32 updates to /privacy/learning/:model/updates, the
 * learning job (gate.runJob("learning")) closing, aggregating and publishing
 * rounds, the privacy budget stopping training, and updates in export,
 * erasure and withdrawal. Two gates on one PostgreSQL database accept
 * updates for one round.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import request from "supertest";
import { decodeFloat32, encodeFloat32 } from "../../src/client/index.ts";
import type { Consentgate } from "../../src/index.ts";
import { hostApp, serve, testGate } from "../support/app.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { onDevicePolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { DPO, asText, eu, eventsOf, grant, logOf, withdraw } from "../support/subjects.ts";

const ITEMS = Array.from({ length: 10 }, (_, i) => `track-${i}`);
const DIMENSIONS = 4;
const VALUES = ITEMS.length * DIMENSIONS;

const policyWith = (changes: Record<string, unknown> = {}) =>
  onDevicePolicy({
    dimensions: DIMENSIONS,
    round: { minClients: 3, maxOpen: "1d" },
    aggregation: "mean",
    ...changes,
  });

/** A device's update: every value the same small number, so its norm is known (√40 · value). */
const update = (round: number, value = 0.01) => ({ round, delta: encodeFloat32(new Float32Array(VALUES).fill(value)) });

/** A gate with the model defined, served over HTTP, and a helper to sign a listener up for the purpose. */
async function learningGate(
  suite: ReturnType<typeof suiteScope>,
  database: string,
  changes: Record<string, unknown> = {},
) {
  const gate = await testGate(suite, { database, policies: policyWith(changes) });
  await gate.learning.define("recommender", { items: () => ITEMS });
  const app = hostApp(gate, (host) => host.use("/center", gate.privacyCenter()));
  const listener = async (id: string) => {
    const who = eu(id);
    await grant(app, who, "on-device").expect(200);
    return who;
  };
  return { gate, app, listener };
}

describe(`federated learning over HTTP on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let gate: Consentgate;
  let app: ReturnType<typeof hostApp>;
  let listener: (id: string) => Promise<Record<string, string>>;
  const pending = async () => (await gate.learning.status("recommender")).round?.pending;

  before(async () => {
    const db = await testDatabase(suite);
    ({ gate, app, listener } = await learningGate(suite, db.option));
  });

  test("a signed-in device downloads the model: version 1, round 1, items × dimensions float32 factors", async () => {
    await request(app).get("/privacy/learning/recommender").expect(401);
    await request(app).get("/privacy/learning/unknown").set(eu("someone")).expect(404);
    const res = await request(app).get("/privacy/learning/recommender").set(eu("someone")).expect(200);
    assert.equal(res.body.version, 1);
    assert.equal(res.body.round, 1);
    assert.equal(res.body.status, "training");
    assert.deepEqual(res.body.items, ITEMS);
    assert.equal(res.body.dimensions, DIMENSIONS);
    assert.equal(res.body.clip, 1);
    const factors = decodeFloat32(res.body.factors, VALUES);
    assert.ok(factors.every((v) => Number.isFinite(v) && Math.abs(v) <= 0.01));
    assert.ok(
      factors.some((v) => v !== 0),
      "random, not all zero",
    );
  });

  test("an update without consent is 403, anonymous 401, and nothing is stored", async () => {
    const before = await pending();
    const res = await request(app).post("/privacy/learning/recommender/updates").set(eu("no-consent")).send(update(1));
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "consent_required");
    await request(app).post("/privacy/learning/recommender/updates").send(update(1)).expect(401);
    assert.equal(await pending(), before);
  });

  test("a wrong length, NaN, Infinity, a bad round or extra fields are 400 and nothing is stored", async () => {
    const who = await listener("bad-bodies");
    const before = await pending();
    const floats = (values: number[]) => encodeFloat32(Float32Array.from(values));
    const nan = new Float32Array(VALUES).fill(0.1);
    nan[7] = Number.NaN;
    const infinite = new Float32Array(VALUES).fill(0.1);
    infinite[VALUES - 1] = Number.POSITIVE_INFINITY;
    const bodies: unknown[] = [
      { round: 1, delta: floats(Array(VALUES - 1).fill(0)) },
      { round: 1, delta: floats(Array(VALUES + 1).fill(0)) },
      { round: 1, delta: Buffer.from(nan.buffer).toString("base64") },
      { round: 1, delta: Buffer.from(infinite.buffer).toString("base64") },
      { round: 1, delta: `${"!".repeat(update(1).delta.length)}` },
      // The right length, but padding that claims one byte more than the model's 160.
      { round: 1, delta: `${update(1).delta.slice(0, -2)}A=` },
      { round: 1.5, delta: update(1).delta },
      { round: "1", delta: update(1).delta },
      { round: 1 },
      { ...update(1), extra: true },
      [update(1)],
    ];
    for (const body of bodies) {
      const res = await request(app)
        .post("/privacy/learning/recommender/updates")
        .set(who)
        .send(body as object);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(res.body.error.code, "invalid_body");
    }
    // A round that is not open yet is refused too.
    const future = await request(app).post("/privacy/learning/recommender/updates").set(who).send(update(2));
    assert.equal(future.status, 400);
    assert.equal(await pending(), before);
  });

  test("one update per subject per round: a second is 409 already_reported", async () => {
    const who = await listener("twice");
    await request(app).post("/privacy/learning/recommender/updates").set(who).send(update(1)).expect(202, { round: 1 });
    const again = await request(app).post("/privacy/learning/recommender/updates").set(who).send(update(1, 0.02));
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "already_reported");
  });

  test("the export lists a pending update as it was sent; erasure deletes it and counts it", async () => {
    const who = await listener("erased");
    const sent = update(1, 0.03);
    await request(app).post("/privacy/learning/recommender/updates").set(who).send(sent).expect(202);
    const before = await pending();
    const exported = JSON.parse(
      (await asText(request(app).get("/privacy/export").set(who)).expect(200)).body as string,
    );
    assert.equal(exported.learning.length, 1);
    assert.equal(exported.learning[0].model, "recommender");
    assert.equal(exported.learning[0].round, 1);
    assert.equal(exported.learning[0].purpose, "on-device");
    assert.equal(exported.learning[0].delta, sent.delta);
    const erased = await request(app).delete("/privacy/data").set(who).expect(200);
    assert.equal(erased.body.erased.tables.learningUpdates, 1, JSON.stringify(erased.body));
    assert.equal(await pending(), before! - 1);
  });

  test("the privacy center counts a pending update as held for the purpose, and says how long it is kept", async () => {
    const who = await listener("centered");
    const heldHere = async () => {
      const page = (await request(app).get("/center").set(who).expect(200)).text;
      const found = /id="held-on-device"[^>]*>([^<]*)</.exec(page);
      assert.ok(found, "no held-on-device");
      return { held: found[1], page };
    };
    assert.equal((await heldHere()).held, "nothing");
    await request(app).post("/privacy/learning/recommender/updates").set(who).send(update(1)).expect(202);
    const { held, page } = await heldHere();
    assert.equal(held, "1 record");
    assert.match(page, /kept only until it is combined with other people&#39;s, then deleted/);
    await request(app).delete("/privacy/data").set(who).expect(200);
    assert.equal((await heldHere()).held, "nothing");
  });

  test("a withdrawal of the purpose deletes the subject's pending update", async () => {
    const who = await listener("withdrawn");
    await request(app).post("/privacy/learning/recommender/updates").set(who).send(update(1)).expect(202);
    const before = await pending();
    await withdraw(app, who, "on-device").expect(200);
    assert.equal(await pending(), before! - 1);
    const exported = JSON.parse(
      (await asText(request(app).get("/privacy/export").set(who)).expect(200)).body as string,
    );
    assert.deepEqual(exported.learning, []);
  });

  test("a round short of minClients is not aggregated; with enough it is published and its updates deleted", async () => {
    const status = await gate.learning.status("recommender");
    assert.equal(status.round?.pending, 1, "only 'twice' is left in round 1");
    const waiting = await gate.runJob("learning");
    assert.deepEqual(waiting.models, [{ model: "recommender", outcome: "waiting", round: 1, pending: 1 }]);
    assert.equal((await gate.learning.status("recommender")).version, 1);

    const factorsBefore = decodeFloat32(
      (await request(app).get("/privacy/learning/recommender").set(eu("x")).expect(200)).body.factors,
      VALUES,
    );
    const contributors = [await listener("c-1"), await listener("c-2")];
    for (const who of contributors)
      await request(app).post("/privacy/learning/recommender/updates").set(who).send(update(1, 0.05)).expect(202);
    const ran = await gate.runJob("learning");
    assert.equal(ran.models.length, 1);
    const [published] = ran.models;
    assert.equal(published?.outcome, "published");
    assert.equal(published?.round, 1);
    assert.equal(published?.participants, 3);
    assert.equal(published?.version, 2);
    assert.ok(published!.epsilon! > 0 && published!.epsilon! < 10, `epsilon ${published?.epsilon}`);

    const model = (await request(app).get("/privacy/learning/recommender").set(eu("x")).expect(200)).body;
    assert.equal(model.version, 2);
    assert.equal(model.round, 2);
    const factorsAfter = decodeFloat32(model.factors, VALUES);
    assert.ok(
      factorsAfter.some((v, i) => v !== factorsBefore[i]),
      "the step changed the factors",
    );
    // The round's updates are gone: personal data no longer, once aggregated.
    for (const who of contributors) {
      const exported = JSON.parse((await asText(request(app).get("/privacy/export").set(who)).expect(200)).body);
      assert.deepEqual(exported.learning, []);
    }
    // An update to the closed round is refused; the open round takes it.
    const late = await request(app).post("/privacy/learning/recommender/updates").set(contributors[0]!).send(update(1));
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, "round_closed");
    await request(app).post("/privacy/learning/recommender/updates").set(contributors[0]!).send(update(2)).expect(202);

    const status2 = await gate.learning.status("recommender");
    assert.equal(status2.rounds.length, 1);
    assert.equal(status2.rounds[0]?.participants, 3);
    assert.equal(status2.rounds[0]?.status, "published");
    assert.equal(status2.rounds[0]?.rho, 0.5, "noise multiplier 1: rho = 1/2");
    assert.equal(status2.spent.rho, 0.5);
    assert.equal(status2.round?.pending, 1);
    const log = eventsOf(await logOf(app, "EU"), "learning.round");
    assert.equal(log.length, 1);
    assert.equal(log[0]?.details.participants, 3);
  });

  test("the DPO reads the model's status over HTTP; others get 401 and 403", async () => {
    const res = await request(app).get("/privacy/admin/learning/recommender").set(DPO).expect(200);
    assert.equal(res.body.model, "recommender");
    assert.equal(res.body.aggregation, "mean");
    assert.equal(res.body.rounds[0].participants, 3);
    // The policy's learning parameters are on the record of every region, as a release's are.
    const [loaded] = eventsOf(await logOf(app, "EU"), "policy.loaded");
    const onDevice = (loaded?.details.purposes as Record<string, { learning?: object }>)["on-device"];
    assert.deepEqual(onDevice?.learning, {
      model: "recommender",
      clip: 1,
      aggregation: "mean",
      trim: 0,
      noise: 1,
      minClients: 3,
      budget: { epsilon: 10, delta: 1e-6 },
    });
    await request(app).get("/privacy/admin/learning/recommender").expect(401);
    await request(app).get("/privacy/admin/learning/recommender").set(eu("listener")).expect(403);
  });
});

describe(`the privacy budget stops training, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  test("a round that would exceed the budget is not aggregated: training stops, updates deleted, logged", async () => {
    const db = await testDatabase(suite);
    // Noise multiplier 1 is rho 1/2 a round: one round is epsilon ≈ 5.3 at delta 1e-6, two ≈ 7.9. A budget of 6 holds one.
    const { gate, app, listener } = await learningGate(suite, db.option, { budget: { epsilon: 6, delta: 1e-6 } });
    const post = async (id: string, round: number) =>
      request(app)
        .post("/privacy/learning/recommender/updates")
        .set(await listener(id))
        .send(update(round));
    for (const id of ["a", "b", "c"]) (await post(id, 1)).status === 202 || assert.fail(id);
    assert.equal((await gate.runJob("learning")).models[0]?.outcome, "published");
    for (const id of ["d", "e", "f"]) assert.equal((await post(id, 2)).status, 202);
    const stopped = await gate.runJob("learning");
    assert.equal(stopped.models[0]?.outcome, "stopped");
    const status = await gate.learning.status("recommender");
    assert.equal(status.status, "stopped");
    assert.equal(status.round, null);
    assert.equal(status.spent.rho, 0.5, "the refused round spent nothing");
    assert.ok(status.spent.epsilon <= 6);
    for (const id of ["d", "e", "f"]) {
      const exported = JSON.parse((await asText(request(app).get("/privacy/export").set(eu(id))).expect(200)).body);
      assert.deepEqual(exported.learning, [], `${id}'s update is deleted`);
    }
    const late = await post("g", 2);
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, "round_closed");
    const model = (await request(app).get("/privacy/learning/recommender").set(eu("x")).expect(200)).body;
    assert.equal(model.status, "stopped");
    assert.equal(model.round, null);
    const entries = eventsOf(await logOf(app, "EU"), "learning.stopped");
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.details.code, "budget_exhausted");
    assert.equal((await gate.runJob("learning")).models[0]?.outcome, "not_training");
  });
});

describe(`two gates on one ${onPostgres ? "PostgreSQL" : "PGlite"} database accept updates for one round`, {
  skip: !onPostgres && "PGlite has one process",
}, () => {
  const suite = suiteScope();
  test("40 devices, each posting twice through both instances while the job closes the round: every accepted update is counted once", async () => {
    const db = await testDatabase(suite);
    const first = await learningGate(suite, db.option, { round: { minClients: 10, maxOpen: "1d" } });
    const second = await testGate(suite, {
      database: db.option,
      policies: policyWith({ round: { minClients: 10, maxOpen: "1d" } }),
    });
    await second.learning.define("recommender", { items: () => ITEMS });
    const origins = [await serve(suite, first.app), await serve(suite, hostApp(second))];
    const devices = await Promise.all(Array.from({ length: 40 }, (_, i) => first.listener(`device-${i}`)));
    const posts = devices.flatMap((who, i) =>
      [0, 1].map((copy) =>
        request(origins[(i + copy) % 2]!)
          .post("/privacy/learning/recommender/updates")
          .set(who)
          .send(update(1)),
      ),
    );
    const [answers] = await Promise.all([Promise.all(posts), first.gate.runJob("learning")]);
    const byStatus = (status: number) => answers.filter((a) => a.status === status).length;
    // Each device: exactly one 202 for round 1, unless the round closed before its first post landed (409 round_closed).
    assert.equal(byStatus(202) + byStatus(409), 80, JSON.stringify(answers.map((a) => a.status)));
    const accepted = byStatus(202);
    assert.ok(accepted <= 40);
    const status = await second.learning.status("recommender");
    const published = status.rounds.find((r) => r.round === 1)?.participants ?? 0;
    const waiting = status.round?.number === 1 ? status.round.pending : 0;
    assert.equal(published + waiting, accepted, "every accepted update is in the published round or still pending");
  });
});

describe("the device client served by the router", () => {
  const suite = suiteScope();
  test("GET /privacy/learning/client.js is the compiled consentgate/client, and its sibling files are served beside it", async () => {
    const db = await testDatabase(suite);
    const { app } = await learningGate(suite, db.option);
    const entry = await request(app).get("/privacy/learning/client.js").expect(200);
    assert.match(String(entry.headers["content-type"]), /^text\/javascript/);
    assert.match(entry.text, /createDeviceRecommender/);
    // Every relative import of the entry resolves to a file the router serves.
    const imports = [...entry.text.matchAll(/from\s+"\.\/([\w-]+\.js)"/g)].map((m) => m[1]!);
    assert.ok(imports.length > 0, "the entry imports its siblings");
    for (const file of imports) {
      const sibling = await request(app).get(`/privacy/learning/${file}`).expect(200);
      assert.match(String(sibling.headers["content-type"]), /^text\/javascript/);
    }
    await request(app).get("/privacy/learning/nothing-here.js").expect(404);
    await request(app).get("/privacy/learning/..%2Fconsentgate.js").expect(404);
  });
});
