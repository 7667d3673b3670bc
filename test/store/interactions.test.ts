import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import request from "supertest";
import { saveChoice } from "../../src/store/consents.ts";
import { createInteractionStore } from "../../src/store/interactions.ts";
import type { Store } from "../../src/store/store.ts";
import type { Interaction } from "../../src/index.ts";
import { type TestApp, handled, hostApp, testApp, testGate } from "../support/app.ts";
import { DAY, testClock } from "../support/clock.ts";
import { interactionRow as row, onPostgres, persistentDatabase, testDatabase, testStore } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { ca, eu } from "../support/subjects.ts";

describe(`interaction store on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let store: Store;
  before(async () => {
    store = await testStore(suite, await testDatabase(suite));
  });
  const count = async (subjectId: string) => store.connection.prisma.interaction.count({ where: { subjectId } });

  test("a batch over one ring keeps exactly the newest `window` rows, in order", async () => {
    const interactions = createInteractionStore(store.connection);
    await Promise.all(Array.from({ length: 12 }, (_, i) => interactions.record(row("ring", { data: { i } }))));
    assert.equal(await count("ring"), 5);
    const recent = await interactions.recent("ring", "personalization", { limit: 50, now: new Date() });
    assert.deepEqual(
      recent.map((r) => (r.data as { i: number }).i),
      [11, 10, 9, 8, 7],
    );
  });

  test("a window made smaller keeps the newest rows, and the ring goes on in the new window", async () => {
    const interactions = createInteractionStore(store.connection);
    const recentOf = async () =>
      (await interactions.recent("shrinking", "personalization", { limit: 50, now: new Date() })).map(
        (r) => (r.data as { i: number }).i,
      );
    for (let i = 0; i < 7; i++) await interactions.record(row("shrinking", { data: { i } })); // window 5: 2..6 kept
    assert.deepEqual(await recentOf(), [6, 5, 4, 3, 2]);
    await interactions.record(row("shrinking", { window: 2, data: { i: 7 } }));
    assert.deepEqual(await recentOf(), [7, 6], "the newest two, not whatever sat in slots 0 and 1");
    // Concurrent writes after the shrink, some for the same ring in one batch.
    await Promise.all([8, 9, 10].map((i) => interactions.record(row("shrinking", { window: 2, data: { i } }))));
    assert.deepEqual(await recentOf(), [10, 9]);
    const slots = await store.connection.query<{ slot: number }>(
      `SELECT slot FROM interactions WHERE "subjectId" = 'shrinking' ORDER BY slot`,
    );
    assert.deepEqual(
      slots.map((s) => s.slot),
      [0, 1],
      "the survivors sit in the new window's slots",
    );
  });

  test("a new policy with a smaller window: the user's next play keeps their newest plays, over HTTP", async (ctx) => {
    const db = await persistentDatabase(ctx);
    const as = ca("listener"); // opt-out: plays are recorded without a grant
    const play = (t: TestApp, itemId: string) => request(t.app).post("/api/plays").set(as).send({ itemId }).expect(201);
    const before = await testApp(ctx, { database: db.option });
    for (let i = 0; i < 5; i++) await play(before, `trk-${i}`);
    await before.gate.close();
    const after = await testApp(ctx, {
      database: db.option,
      policies: testPolicy({ version: "test-2", purposes: { personalization: { window: 2 } } }),
    });
    await play(after, "trk-5");
    const recommendations = await request(after.app).get("/api/recommendations").set(as).expect(200);
    assert.deepEqual(
      recommendations.body.map((r: { data: { itemId: string } }) => r.data.itemId),
      ["trk-5", "trk-4"],
    );
  });

  test("a window made larger keeps every row it held and fills up before overwriting", async () => {
    const interactions = createInteractionStore(store.connection);
    const recentOf = async () =>
      (await interactions.recent("growing", "personalization", { limit: 50, now: new Date() })).map(
        (r) => (r.data as { i: number }).i,
      );
    for (let i = 0; i < 5; i++) await interactions.record(row("growing", { window: 3, data: { i } })); // 2..4 kept
    for (let i = 5; i < 7; i++) await interactions.record(row("growing", { window: 5, data: { i } }));
    assert.deepEqual(
      await recentOf(),
      [6, 5, 4, 3, 2],
      "the two new rows fill the larger window; none of the three overwritten",
    );
    await interactions.record(row("growing", { window: 5, data: { i: 7 } }));
    assert.deepEqual(await recentOf(), [7, 6, 5, 4, 3]);
  });

  test("concurrent writers are grouped into few statements", async () => {
    let statements = 0;
    const counting = {
      ...store.connection,
      query: (sql: string, params?: unknown[]) => (statements++, store.connection.query(sql, params)),
    };
    const interactions = createInteractionStore(counting as typeof store.connection);
    await Promise.all(Array.from({ length: 100 }, (_, i) => interactions.record(row(`group-${i % 10}`))));
    assert.ok(statements <= 5, `${statements} statements for 100 writes`);
    for (let i = 0; i < 10; i++) assert.equal(await count(`group-${i}`), 5);
  });

  test("a batch that fails rejects every caller in it and stores nothing", async () => {
    await store.connection.query(`
      CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger AS $$
      BEGIN IF NEW.kind = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await store.connection.query(
      `CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON interactions FOR EACH ROW EXECUTE FUNCTION refuse_poison()`,
    );
    try {
      const interactions = createInteractionStore(store.connection);
      const outcomes = await Promise.allSettled([
        ...Array.from({ length: 9 }, (_, i) => interactions.record(row(`batch-${i}`))),
        interactions.record(row("batch-poison", { kind: "poison" })),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        Array(10).fill("rejected"),
      );
      for (let i = 0; i < 9; i++) assert.equal(await count(`batch-${i}`), 0);
      assert.equal(
        await store.connection.prisma.interactionWindow.count({ where: { subjectId: { startsWith: "batch-" } } }),
        0,
      );
    } finally {
      await store.connection.query("DROP TRIGGER refuse_poison ON interactions");
    }
  });

  test("a row PostgreSQL cannot hold is refused alone, before it can fail its batch", async () => {
    const interactions = createInteractionStore(store.connection);
    const outcomes = await Promise.allSettled([
      interactions.record(row("unstorable-ok")),
      interactions.record(row("unstorable-nul", { data: { itemId: "a\u0000b" } })),
      interactions.record(row("unstorable-surrogate", { data: { itemId: "a\ud800b" } })),
      interactions.record(row("unstorable-low-surrogate", { data: { note: ["x", "\udc00"] } })),
      interactions.record(row("unstorable-subject\u0000")),
      // Text that only looks like those escapes once encoded is fine.
      interactions.record(row("unstorable-lookalike", { data: { itemId: "a\\u0000b\\ud800", emoji: "\ud83c\udfb5" } })),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["fulfilled", "rejected", "rejected", "rejected", "rejected", "fulfilled"],
    );
    for (const refused of outcomes.slice(1, 5)) {
      assert.equal((refused as PromiseRejectedResult).reason.code, "invalid_body");
    }
    assert.equal(await count("unstorable-ok"), 1);
    const [stored] = await store.connection.prisma.interaction.findMany({
      where: { subjectId: "unstorable-lookalike" },
    });
    assert.deepEqual(stored?.data, { itemId: "a\\u0000b\\ud800", emoji: "\ud83c\udfb5" });
  });

  test("a write decided under a consent that was withdrawn before it committed is refused", async () => {
    const interactions = createInteractionStore(store.connection);
    const granted = randomUUID();
    const event = {
      subjectId: "racer",
      purpose: "personalization",
      overrideGpc: false,
      gpc: false,
      region: "EU",
      policyVersion: "v1",
      actorId: undefined,
      signature: "s",
      at: new Date(),
    };
    await saveChoice(store.connection, { ...event, id: granted, granted: true }, { purgeInteractions: true });
    await interactions.record(row("racer", { receiptId: granted, source: "explicit" }));
    await saveChoice(store.connection, { ...event, id: randomUUID(), granted: false }, { purgeInteractions: true });
    await assert.rejects(
      interactions.record(row("racer", { receiptId: granted, source: "explicit" })),
      /withdrawn or the subject's data erased/,
    );
    await assert.rejects(interactions.record(row("racer")), /withdrawn/, "nor may the region default bring it back");
    assert.equal(await count("racer"), 0);
  });

  test("a write decided before an erasure was received is refused", async () => {
    const interactions = createInteractionStore(store.connection);
    const decidedAt = new Date(Date.now() - 1000);
    await store.connection.prisma.privacyRequest.create({
      data: {
        id: randomUUID(),
        subjectId: "erased",
        type: "erasure",
        status: "completed",
        region: "EU",
        dueAt: new Date(Date.now() + DAY),
      },
    });
    await assert.rejects(interactions.record(row("erased", { decidedAt })), /erased/);
    assert.equal(await count("erased"), 0);
  });

  test("refused rows in a batch leave the others written, numbered in their rings without gaps", async () => {
    const interactions = createInteractionStore(store.connection);
    const receivedAt = new Date();
    await store.connection.prisma.privacyRequest.create({
      data: {
        id: randomUUID(),
        subjectId: "mixed",
        type: "erasure",
        status: "completed",
        region: "EU",
        receivedAt,
        dueAt: new Date(Date.now() + DAY),
      },
    });
    const at = (ms: number) => new Date(receivedAt.getTime() + ms);
    const write = (subjectId: string, itemId: string, decidedAt: Date) =>
      interactions.record(row(subjectId, { data: { itemId }, decidedAt }));
    // One batch: in the same ring, rows decided before the erasure (refused) between rows decided after it.
    const outcomes = await Promise.allSettled([
      write("mixed", "before-1", at(-2000)),
      write("mixed", "after-1", at(1000)),
      write("bystander", "b-1", at(0)),
      write("mixed", "before-2", at(-1000)),
      write("mixed", "after-2", at(2000)),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["rejected", "fulfilled", "fulfilled", "rejected", "fulfilled"],
    );
    assert.match(String((outcomes[0] as PromiseRejectedResult).reason), /erased/);
    const stored = await store.connection.query<{ itemId: string; seq: string; slot: number }>(
      `SELECT data->>'itemId' AS "itemId", seq::text, slot FROM interactions WHERE "subjectId" = 'mixed' ORDER BY seq`,
    );
    assert.deepEqual(stored, [
      { itemId: "after-1", seq: "0", slot: 0 },
      { itemId: "after-2", seq: "1", slot: 1 },
    ]);
    const [head] = await store.connection.query<{ nextSeq: string }>(
      `SELECT "nextSeq"::text AS "nextSeq" FROM interaction_windows WHERE "subjectId" = 'mixed'`,
    );
    assert.equal(head?.nextSeq, "2");
    assert.equal(await count("bystander"), 1);
  });
});

describe(`record and recent over HTTP on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("200 concurrent writes for one subject leave exactly `window` rows, each with provenance", async (ctx) => {
    const t = await testApp(ctx);
    const busy = ca("busy");
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        request(t.app)
          .post("/api/plays")
          .set(busy)
          .send({ itemId: `t${i}` })
          .then((r) => r.status),
      ),
    );
    assert.deepEqual(new Set(statuses), new Set([201]));
    assert.deepEqual(await t.gate.store.interactions.countByPurpose("busy"), { personalization: 5 });
    const recent = (await request(t.app).get("/api/recommendations").set(busy).expect(200)).body;
    assert.equal(recent.length, 5);
    for (const r of recent)
      assert.deepEqual(r.provenance, {
        source: "region-default",
        receiptId: null,
        legalBasis: "consent",
        policyVersion: "test-1",
      });
  });

  test("a play whose text PostgreSQL cannot store is a 400 for its sender alone", async (ctx) => {
    const t = await testApp(ctx);
    const lone = ca("lone");
    const send = (json: string) =>
      request(t.app).post("/api/plays").set(lone).set("content-type", "application/json").send(json);
    const [bad, nul, good] = await Promise.all([
      send('{"itemId":"a\\ud800"}'),
      send('{"itemId":"a\\u0000"}'),
      send('{"itemId":"fine"}'),
    ]);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_body");
    assert.equal(nul.status, 400);
    assert.equal(good.status, 201);
    assert.deepEqual(await t.gate.store.interactions.countByPurpose("lone"), { personalization: 1 });
  });

  test("two instances writing for the same subject keep the bound", {
    skip: !onPostgres && "PGlite is one process's database",
  }, async (ctx) => {
    const db = await testDatabase(ctx);
    // Each closes when the test ends, even when the other failed to start.
    const a = await testApp(ctx, { database: db.option });
    const b = await testApp(ctx, { database: db.option });
    const shared = ca("shared");
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        request((i % 2 ? a : b).app)
          .post("/api/plays")
          .set(shared)
          .send({ itemId: `t${i}` })
          .expect(201),
      ),
    );
    assert.deepEqual(await a.gate.store.interactions.countByPurpose("shared"), { personalization: 5 });
  });

  test("expired rows are never read, even before the purge job runs", async (ctx) => {
    const clock = testClock("2026-11-28T12:00:00Z");
    const t = await testApp(ctx, { now: clock.now });
    const listener = ca("clock");
    await request(t.app).post("/api/plays").set(listener).send({ itemId: "old" }).expect(201);
    const [stored] = await t.gate.store.interactions.forSubject("clock");
    assert.equal(stored!.expiresAt.toISOString(), "2027-02-26T12:00:00.000Z", "90 days of retention");
    clock.set("2027-02-26T12:00:00.001Z");
    assert.deepEqual((await request(t.app).get("/api/recommendations").set(listener).expect(200)).body, []);
    assert.deepEqual(await t.gate.store.interactions.forSubject("clock"), []);
    assert.deepEqual(
      await t.gate.store.interactions.countByPurpose("clock"),
      { personalization: 1 },
      "still held until the purge",
    );
  });

  test("req.privacy.recent(purpose, { limit }): newest first, at most the limit and the window, unexpired, with Dates", async (ctx) => {
    const clock = testClock("2026-11-28T12:00:00Z");
    const gate = await testGate(ctx, { now: clock.now });
    const answers: Interaction[][] = [];
    const app = hostApp(gate, (host) => {
      host.post(
        "/api/plays",
        handled(async (req, res) => {
          await req.privacy.record("play", req.body);
          res.status(201).end();
        }),
      );
      host.get(
        "/api/recent",
        handled(async (req, res) => {
          const { limit } = req.query;
          const recent = await req.privacy.recent(
            "personalization",
            limit === undefined ? {} : { limit: Number(limit) },
          );
          answers.push(recent);
          res.json(recent.map((r) => (r.data as { itemId: string }).itemId));
        }),
      );
    });
    const listener = ca("limits");
    for (let i = 0; i < 7; i++) {
      await request(app)
        .post("/api/plays")
        .set(listener)
        .send({ itemId: `trk-${i}` })
        .expect(201);
      clock.advance(DAY);
    }
    await request(app).post("/api/plays").set(ca("neighbour")).send({ itemId: "theirs" }).expect(201);
    const recent = async (query = "") => (await request(app).get(`/api/recent${query}`).set(listener).expect(200)).body;

    const window = ["trk-6", "trk-5", "trk-4", "trk-3", "trk-2"];
    assert.deepEqual(await recent(), window, "the purpose's window (5) by default");
    assert.deepEqual(await recent("?limit=2"), ["trk-6", "trk-5"]);
    assert.deepEqual(await recent("?limit=50"), window, "never more than the window");
    assert.deepEqual(await recent("?limit=0"), []);
    const newest = answers[1]![0]!;
    assert.ok(newest.at instanceof Date && newest.expiresAt instanceof Date);
    assert.equal(newest.at.toISOString(), "2026-12-04T12:00:00.000Z", "recorded on the sixth day");
    assert.equal(newest.expiresAt.getTime() - newest.at.getTime(), 90 * DAY);
    // trk-2 and trk-3 (days 2 and 3) have expired 90 days on; trk-4 has a day left.
    clock.set("2027-03-01T12:00:00.001Z");
    assert.deepEqual(await recent(), ["trk-6", "trk-5", "trk-4"]);
  });

  test("recent() returns nothing for a purpose not allowed now", async (ctx) => {
    const u = await testApp(ctx);
    await request(u.app).post("/api/plays").set(ca("ca")).send({ itemId: "x" }).expect(201);
    assert.deepEqual((await request(u.app).get("/api/recommendations").set(eu("ca")).expect(200)).body, []);
  });
});
