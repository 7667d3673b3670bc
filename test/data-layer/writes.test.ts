/**
 * The gate in the host's own data layer, through real Express routes and
 * the example app's real generated Prisma client, on both databases: the
 * host's writes to its own tables are decided, minimized, kept to the
 * request's subject, and refused outside any context.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import { isConsentgateError } from "../../src/errors.ts";
import { handled, hostApp, testGate } from "../support/app.ts";
import { testDatabase } from "../support/database.ts";
import { gatedMusic, musicPolicy } from "../support/gated-music.ts";
import { hostDatabase } from "../support/host.ts";
import type { Scope } from "../support/scope.ts";
import { agent, ca, eu, grant } from "../support/subjects.ts";

/** The music app's gated models (test/support/gated-music.ts), with the routes these tests need besides its two. */
async function fixture(scope: Scope) {
  const {
    gate,
    app,
    music: db,
    host: plain,
  } = await gatedMusic(scope, {
    routes: (app, db) => {
      // A play of the service that also likes the track: the like is personalization, decided by the extension.
      app.post(
        "/api/listen",
        handled(async (req, res) => {
          const like = await db.like.create({
            data: { listenerId: req.body.as ?? req.privacy.subject, itemId: req.body.itemId },
          });
          res.status(201).json(like);
        }),
      );
      // A playlist whose tracks may name another listener (trackOwner): a nested write into a gated model.
      app.post(
        "/api/playlists/shared",
        handled(async (req, res) => {
          const subject = req.privacy.subject!;
          const tracks = (req.body.tracks as string[]).map((itemId, position) => ({
            listenerId: req.body.trackOwner ?? subject,
            itemId,
            position,
          }));
          await db.listener.upsert({ where: { id: subject }, create: { id: subject }, update: {} });
          const playlist = await db.playlist.create({
            data: { listenerId: subject, name: req.body.name, tracks: { create: tracks } },
          });
          res.status(201).json(playlist);
        }),
      );
      app.post(
        "/api/likes/batch",
        handled(async (req, res) => {
          const { count } = await db.like.createMany({
            data: req.body.likes as { listenerId: string; itemId: string }[],
          });
          res.status(201).json({ count });
        }),
      );
      app.delete(
        "/api/likes",
        handled(async (req, res) => {
          const { count } = await db.like.deleteMany({ where: req.body.where ?? {} });
          res.json({ count });
        }),
      );
      app.post(
        "/api/raw",
        handled(async (req, res) => {
          const run = () => db.$queryRawUnsafe<{ n: number }[]>("SELECT 1 AS n");
          const rows = req.body.allow ? await gate.allowRaw(run) : await run();
          res.json(rows);
        }),
      );
    },
  });
  return { gate, app, db, plain };
}

const errorCode = (res: request.Response) => (res.body as { error?: { code?: string } }).error?.code;

describe("writes to the host's own models", () => {
  test("denied: 403 consent_required and no row; allowed after a grant: the row is written", async (t) => {
    const { app, plain } = await fixture(t);
    const denied = await request(app).post("/api/listen").set(eu("alice")).send({ itemId: "t1" });
    assert.equal(denied.status, 403);
    assert.equal(errorCode(denied), "consent_required");
    assert.equal(await plain.like.count(), 0);

    await grant(app, eu("alice"), "personalization").expect(200);
    const allowed = await request(app).post("/api/listen").set(eu("alice")).send({ itemId: "t1" });
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
    assert.deepEqual(
      (await plain.like.findMany()).map(({ listenerId, itemId }) => ({ listenerId, itemId })),
      [{ listenerId: "alice", itemId: "t1" }],
    );
  });

  test("allowed: the row holds only the purpose's fields, transformed (nested tracks too)", async (t) => {
    const { app, plain } = await fixture(t);
    const res = await request(app)
      .post("/api/playlists")
      .set(eu("alice"))
      .send({ name: `Songs for a long drive ${"x".repeat(120)}`, tracks: ["t1", "t2"] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const [playlist] = await plain.playlist.findMany({ include: { tracks: { orderBy: { position: "asc" } } } });
    assert.equal(playlist?.name, `Songs for a long drive ${"x".repeat(77)}`);
    assert.equal(playlist?.listenerId, "alice");
    assert.deepEqual(
      playlist?.tracks.map(({ listenerId, itemId, position }) => ({ listenerId, itemId, position })),
      [
        { listenerId: "alice", itemId: "t1", position: 0 },
        { listenerId: "alice", itemId: "t2", position: 1 },
      ],
    );
  });

  test("another subject's id in the subject field: 403 forbidden and nothing written, also nested", async (t) => {
    const { app, plain } = await fixture(t);
    await grant(app, eu("alice"), "personalization").expect(200);
    const res = await request(app).post("/api/listen").set(eu("alice")).send({ itemId: "t1", as: "bob" });
    assert.equal(res.status, 403);
    assert.equal(errorCode(res), "forbidden");
    const nested = await request(app)
      .post("/api/playlists/shared")
      .set(eu("alice"))
      .send({ name: "Mixed", tracks: ["t1"], trackOwner: "bob" });
    assert.equal(nested.status, 403);
    assert.equal(errorCode(nested), "forbidden");
    assert.equal(await plain.like.count(), 0);
    assert.equal(await plain.playlist.count(), 0);
    assert.equal(await plain.playlistTrack.count(), 0);
  });

  test("createMany with one row for another subject writes nothing; an agent may write for others", async (t) => {
    const { app, plain } = await fixture(t);
    await grant(app, eu("alice"), "personalization").expect(200);
    await grant(app, eu("bob"), "personalization").expect(200);
    const likes = [
      { listenerId: "alice", itemId: "t1" },
      { listenerId: "bob", itemId: "t2" },
    ];
    const mixed = await request(app).post("/api/likes/batch").set(eu("alice")).send({ likes });
    assert.equal(mixed.status, 403);
    assert.equal(await plain.like.count(), 0);

    const byAgent = await request(app)
      .post("/api/likes/batch")
      .set(agent("support-1", { "x-region": "DE" }))
      .send({ likes });
    assert.equal(byAgent.status, 201, JSON.stringify(byAgent.body));
    assert.equal(await plain.like.count(), 2);
    // Decided for each row's subject: carol never agreed, so the agent cannot write hers either.
    const forCarol = await request(app)
      .post("/api/likes/batch")
      .set(agent("support-1", { "x-region": "DE" }))
      .send({ likes: [{ listenerId: "carol", itemId: "t3" }] });
    assert.equal(forCarol.status, 403);
    assert.equal(errorCode(forCarol), "consent_required");
    assert.equal(await plain.like.count(), 2);
  });

  test("a bulk delete's filter reaches only the subject's own rows", async (t) => {
    const { app, plain } = await fixture(t);
    await plain.like.createMany({
      data: [
        { listenerId: "alice", itemId: "t1" },
        { listenerId: "bob", itemId: "t1" },
      ],
    });
    const res = await request(app)
      .delete("/api/likes")
      .set(eu("alice"))
      .send({ where: { itemId: "t1" } });
    assert.deepEqual(res.body, { count: 1 });
    const other = await request(app)
      .delete("/api/likes")
      .set(eu("alice"))
      .send({ where: { listenerId: "bob" } });
    assert.equal(other.status, 403);
    assert.deepEqual(
      (await plain.like.findMany()).map((like) => like.listenerId),
      ["bob"],
    );
  });

  test("GPC opts a CCPA listener out of a sale-or-share purpose's model", async (t) => {
    const database = await testDatabase(t);
    const gate = await testGate(t, { database: database.option, policies: musicPolicy() });
    const plain = await hostDatabase(t, database);
    const db = plain.$extends(
      gate.prismaExtension({ models: { Like: { purpose: "advertising", subject: "listenerId" } } }),
    );
    const app = hostApp(gate, (app) =>
      app.post(
        "/api/listen",
        handled(async (req, res) => {
          res
            .status(201)
            .json(await db.like.create({ data: { listenerId: req.privacy.subject!, itemId: req.body.itemId } }));
        }),
      ),
    );
    await request(app)
      .post("/api/listen")
      .set(ca("dave", { "sec-gpc": "1" }))
      .send({ itemId: "t1" })
      .expect(403);
    await request(app).post("/api/listen").set(ca("dave")).send({ itemId: "t1" }).expect(201);
    assert.equal(await plain.like.count(), 1);
  });

  test("raw queries are refused in a subject's context unless the call opts in", async (t) => {
    const { app } = await fixture(t);
    const refused = await request(app).post("/api/raw").set(eu("alice")).send({});
    assert.equal(refused.status, 403);
    const allowed = await request(app).post("/api/raw").set(eu("alice")).send({ allow: true });
    assert.equal(allowed.status, 200);
    assert.deepEqual(allowed.body, [{ n: 1 }]);
  });
});

describe("writes outside requests", () => {
  test("no context: no_context, nothing written; reads and ungated work pass", async (t) => {
    const { db, plain } = await fixture(t);
    await assert.rejects(
      db.like.create({ data: { listenerId: "alice", itemId: "t1" } }),
      (error) => isConsentgateError(error) && error.code === "no_context",
    );
    assert.equal(await plain.like.count(), 0);
    assert.equal(await db.like.count(), 0);
    // Raw SQL outside any subject's context is the host's own business (migrations, jobs).
    assert.deepEqual(await db.$queryRawUnsafe("SELECT 2 AS n"), [{ n: 2 }]);
  });

  test("fail closed: when the subject's choices cannot be read, consent_unavailable and nothing written", async (t) => {
    const { gate, db, plain } = await fixture(t);
    // The gate's database is gone (closed here); the host's is fine.
    await gate.close();
    await assert.rejects(
      gate.as({ subject: "zed", region: "US-CA" }, () => db.like.create({ data: { listenerId: "zed", itemId: "t1" } })),
      (e) => isConsentgateError(e) && e.code === "consent_unavailable",
    );
    assert.equal(await plain.like.count(), 0);
  });

  test("gate.as in a job: decided for its subject and region, limited to its purpose", async (t) => {
    const { gate, app, db, plain } = await fixture(t);
    // A nightly import, for each listener: EU's opt-in refuses alice until she grants.
    const importFor = (subject: string) =>
      gate.as({ subject, purpose: "personalization", region: "EU" }, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return db.like.createMany({ data: ["t1", "t2"].map((itemId) => ({ listenerId: subject, itemId })) });
      });
    await assert.rejects(importFor("alice"), (e) => isConsentgateError(e) && e.code === "consent_required");
    await grant(app, eu("alice"), "personalization").expect(200);
    assert.deepEqual(await importFor("alice"), { count: 2 });
    assert.deepEqual(
      (await plain.like.findMany({ orderBy: { itemId: "asc" } })).map((l) => `${l.listenerId}:${l.itemId}`),
      ["alice:t1", "alice:t2"],
    );
    await assert.rejects(
      gate.as({ subject: "alice", purpose: "personalization" }, () => db.listener.create({ data: { id: "alice" } })),
      (e) => isConsentgateError(e) && e.code === "forbidden",
    );
    await assert.rejects(
      gate.as({ subject: "" }, () => 1),
      (e) => isConsentgateError(e) && e.code === "invalid_option",
    );
    // US-CA is opt-out: a listener who never chose is allowed there.
    assert.deepEqual(
      await gate.as({ subject: "erin", region: "US-CA" }, () =>
        db.like.createMany({ data: [{ listenerId: "erin", itemId: "t3" }] }),
      ),
      { count: 1 },
    );
  });
});

describe("writes inside the host's transactions", () => {
  test("an interactive transaction is gated query by query; a refusal inside it rolls back the rest", async (t) => {
    const { gate, app, db, plain } = await fixture(t);
    await grant(app, eu("alice"), "personalization").expect(200);
    await gate.as({ subject: "alice", region: "EU" }, () =>
      db.$transaction(async (tx) => {
        await tx.listener.create({ data: { id: "alice" } });
        await tx.like.create({ data: { listenerId: "alice", itemId: "t1" } });
      }),
    );
    assert.equal(await plain.like.count(), 1);
    // bob never agreed to personalization: his like is refused, and his listener row goes with it.
    await assert.rejects(
      gate.as({ subject: "bob", region: "EU" }, () =>
        db.$transaction(async (tx) => {
          await tx.listener.create({ data: { id: "bob" } });
          await tx.like.create({ data: { listenerId: "bob", itemId: "t1" } });
        }),
      ),
      (e) => isConsentgateError(e) && e.code === "consent_required",
    );
    assert.deepEqual(
      (await plain.listener.findMany()).map((l) => l.id),
      ["alice"],
    );
    assert.equal(await plain.like.count(), 1);
  });

  test("a batch transaction is gated too", async (t) => {
    const { gate, app, db, plain } = await fixture(t);
    await grant(app, eu("alice"), "personalization").expect(200);
    await gate.as({ subject: "alice", region: "EU" }, () =>
      db.$transaction([
        db.like.create({ data: { listenerId: "alice", itemId: "t1" } }),
        db.like.create({ data: { listenerId: "alice", itemId: "t2" } }),
      ]),
    );
    assert.equal(await plain.like.count(), 2);
    await assert.rejects(
      gate.as({ subject: "alice", region: "EU" }, () =>
        db.$transaction([
          db.like.create({ data: { listenerId: "alice", itemId: "t3" } }),
          db.like.create({ data: { listenerId: "bob", itemId: "t4" } }),
        ]),
      ),
      (e) => isConsentgateError(e) && e.code === "forbidden",
    );
    assert.equal(await plain.like.count(), 2);
  });
});

describe("start-up checks", () => {
  test("a bad mapping stops $extends with every problem listed", async (t) => {
    const database = await testDatabase(t);
    const gate = await testGate(t, { database: database.option, policies: musicPolicy() });
    const plain = await hostDatabase(t, database);
    assert.throws(
      () =>
        plain.$extends(
          gate.prismaExtension({
            models: {
              Likes: { purpose: "personalization", subject: "listenerId" },
              Like: { purpose: "personalization", subject: "userId", createdAt: "itemId" },
              Playlist: { purpose: "personalization", subject: "listenerId" },
            },
          }),
        ),
      (error) => {
        assert.ok(isConsentgateError(error) && error.code === "invalid_option");
        assert.deepEqual(error.details.problems, [
          'models.Likes: no model "Likes" in the client\'s schema (models: Listener, Like, Playlist, PlaylistTrack)',
          'models.Like.subject: no scalar field "userId" in model Like',
          'models.Like.createdAt: field "itemId" of model Like is String, not DateTime',
          'models.Playlist: required field "name" has no default and purpose "personalization" drops it, so every create would fail; list it in the purpose\'s fields or in structural',
        ]);
        return true;
      },
    );
    assert.throws(
      () => gate.prismaExtension({ models: { Like: { purpose: "marketing", subject: "listenerId" } } }),
      (error) => isConsentgateError(error) && error.code === "invalid_option",
    );
  });
});
