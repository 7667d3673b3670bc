import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { Express } from "express";
import request from "supertest";
import { TRACKS, recommend } from "../../examples/music-app/catalog.ts";
import type { Consentgate } from "../../src/index.ts";
import { onPostgres } from "../support/database.ts";
import { exampleApp } from "../support/example.ts";
import type { PrismaClient } from "../support/host.ts";
import { suiteScope } from "../support/scope.ts";

describe(`the example music app on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let gate: Consentgate;
  let app: Express;
  /** The app's own tables, read without the gate. */
  let music: PrismaClient;

  before(async () => {
    ({ gate, app, music } = await exampleApp(suite));
  });

  /** A browser-like client signed in through the example's own form. */
  async function listener(name: string, region: string) {
    const agent = request.agent(app);
    await agent.post("/signin").type("form").send({ name, region }).expect(303).expect("location", "/");
    return agent;
  }
  const play = (itemId: string, durationMs = 200_000) => ({
    itemId,
    action: "play",
    durationMs,
    userAgent: "Mozilla/5.0",
    location: { lat: 52.52, lon: 13.405 },
  });
  const genresOf = (tracks: { genre: string }[]) => new Set(tracks.map((t) => t.genre));

  test("signing in takes a name and a region; anything else is refused", async () => {
    await request(app)
      .get("/")
      .expect(200)
      .expect(/<form method="post" action="\/signin">/);
    await request(app).post("/signin").type("form").send({ name: "alice", region: "XX" }).expect(400);
    await request(app).post("/signin").type("form").send({ name: "<b>", region: "DE" }).expect(400);
    const alice = await listener("alice-home", "DE");
    await alice
      .get("/")
      .expect(200)
      .expect(/Signed in as <strong>alice-home<\/strong> in DE/);
    await alice.post("/signout").expect(303);
    await alice.get("/").expect(/action="\/signin"/);
  });

  test("the demo's privacy officer box gives the role dpo, which opens the console; nothing else does", async () => {
    const officer = request.agent(app);
    await officer.post("/signin").type("form").send({ name: "olga", region: "DE", dpo: "on" }).expect(303);
    await officer.get("/").expect(/<a href="\/privacy-console">Privacy console<\/a>/);
    await officer
      .get("/privacy-console")
      .expect(200)
      .expect(/Region <strong>EU<\/strong>/);

    const alice = await listener("alice-dpo", "DE");
    const home = await alice.get("/").expect(200);
    assert.doesNotMatch(home.text, /Privacy console/);
    await alice.get("/privacy-console").expect(403);
    await request(app).get("/privacy-console").expect(401);
    // A cookie naming another role is no sign-in at all.
    await request(app).get("/privacy-console").set("Cookie", "listener=mallory%7CDE%7Cadmin").expect(401);
  });

  test("an EU listener: nothing is recorded until they opt in, then recommendations follow their listening", async () => {
    const alice = await listener("alice", "DE");
    const refused = await alice.post("/api/plays").send(play("trk_04")).expect(403);
    assert.equal(refused.body.error.code, "consent_required");
    assert.equal(refused.body.error.region, "EU");
    assert.equal((await alice.get("/api/recommendations").expect(200)).body.basedOn, "popular");

    await alice.put("/privacy/consents/personalization").send({ granted: true }).expect(200);
    const played = await alice.post("/api/plays").send(play("trk_04", 183_456)).expect(201);
    assert.deepEqual(
      played.body.recorded,
      { itemId: "trk_04", action: "play", durationMs: 183_000, location: "u33dc" },
      "minimized: no user agent, coarse place",
    );
    await alice.post("/api/likes").send({ itemId: "trk_05", action: "like" }).expect(201);

    const recs = (await alice.get("/api/recommendations").expect(200)).body;
    assert.equal(recs.basedOn, "recent-listening");
    assert.equal(recs.tracks[0].genre, "jazz", "jazz first after a jazz play and like");
    assert.ok(!recs.tracks.some((t: { id: string }) => ["trk_04", "trk_05"].includes(t.id)), "nothing just heard");
    await alice.get("/").expect(/Recommended from your recent listening/);
    // The play is one of Consentgate's interactions; the like is a row of the app's own likes table.
    assert.deepEqual(
      (await gate.store.interactions.forSubject("alice")).map((i) => [i.kind, i.data]),
      [["play", { itemId: "trk_04", action: "play", durationMs: 183_000, location: "u33dc" }]],
    );
    assert.deepEqual(
      await music.like.findMany({ where: { listenerId: "alice" }, select: { listenerId: true, itemId: true } }),
      [{ listenerId: "alice", itemId: "trk_05" }],
    );
    // The privacy center counts both: what Consentgate holds and the app's gated rows.
    await alice
      .get("/privacy-center")
      .expect(200)
      .expect(/id="held-personalization">2 records</);
  });

  test("a like is written to the app's likes table through the gate: refused without consent, nothing stored", async () => {
    const erin = await listener("erin", "FR");
    const refused = await erin.post("/api/likes").send({ itemId: "trk_07" }).expect(403);
    assert.deepEqual([refused.body.error.code, refused.body.error.purpose], ["consent_required", "personalization"]);
    assert.equal(await music.like.count({ where: { listenerId: "erin" } }), 0);

    await erin.put("/privacy/consents/personalization").send({ granted: true }).expect(200);
    const liked = await erin.post("/api/likes").send({ itemId: "trk_07", userAgent: "Mozilla/5.0" }).expect(201);
    assert.deepEqual([liked.body.like.listenerId, liked.body.like.itemId], ["erin", "trk_07"]);
    assert.deepEqual(await music.like.findMany({ where: { listenerId: "erin" }, select: { itemId: true } }), [
      { itemId: "trk_07" },
    ]);
    assert.deepEqual(await gate.store.interactions.forSubject("erin"), [], "not among the interactions");
    await erin.post("/api/likes").send({ itemId: "trk_99" }).expect(404);
    await request(app).post("/api/likes").set("x-region", "US-CA").send({ itemId: "trk_07" }).expect(401);
  });

  test("recommendations follow likes alone, while personalization is allowed", async () => {
    const frank = await listener("frank", "US-CA");
    for (const itemId of ["trk_04", "trk_05"]) await frank.post("/api/likes").send({ itemId }).expect(201);
    const recs = (await frank.get("/api/recommendations").expect(200)).body;
    assert.equal(recs.basedOn, "recent-listening");
    assert.equal(recs.tracks[0].id, "trk_06", "the one jazz track not liked yet");
    assert.ok(!recs.tracks.some((t: { id: string }) => ["trk_04", "trk_05"].includes(t.id)), "nothing already liked");
    await frank.get("/").expect(/value="trk_04" checked/);

    await frank.put("/privacy/consents/personalization").send({ granted: false }).expect(200);
    assert.equal((await frank.get("/api/recommendations").expect(200)).body.basedOn, "popular");
    await frank.get("/").expect((res) => assert.doesNotMatch(res.text, /checked/));
  });

  test("a playlist is kept in the app's tables, minimized by the library purpose, and listed", async () => {
    const gina = await listener("gina", "DE");
    const name = "n".repeat(150);
    const made = await gina
      .post("/api/playlists")
      .send({ name, tracks: ["trk_03", "trk_01", "trk_03"], mood: "rainy" })
      .expect(201);
    assert.equal(made.body.playlist.name, "n".repeat(100), "no consent needed: the library is the service itself");
    assert.deepEqual(made.body.playlist.tracks, ["trk_03", "trk_01", "trk_03"]);

    const stored = await music.playlist.findMany({ where: { listenerId: "gina" }, include: { tracks: true } });
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.name, "n".repeat(100), "the name cut to the purpose's maxLength: 100");
    assert.deepEqual(
      stored[0]!.tracks.map((t) => [t.listenerId, t.itemId, t.position]).sort((a, b) => Number(a[2]) - Number(b[2])),
      [
        ["gina", "trk_03", 0],
        ["gina", "trk_01", 1],
        ["gina", "trk_03", 2],
      ],
    );
    assert.deepEqual(await music.listener.findMany({ where: { id: "gina" }, select: { id: true } }), [{ id: "gina" }]);

    await gina
      .post("/api/playlists")
      .send({ name: "Folk", tracks: ["trk_12"] })
      .expect(201);
    const listed = (await gina.get("/api/playlists").expect(200)).body.playlists;
    assert.deepEqual(
      listed.map((p: { name: string; tracks: string[] }) => [p.name, p.tracks]),
      [
        ["Folk", ["trk_12"]],
        ["n".repeat(100), ["trk_03", "trk_01", "trk_03"]],
      ],
      "newest first, tracks in order",
    );
    const home = (await gina.get("/").expect(200)).text;
    assert.match(home, /<h2 id="playlists-heading">Your playlists<\/h2>/);
    assert.match(home, /<summary>Folk <small>1 track<\/small><\/summary>/);
    // The privacy center counts the app's rows for the library: 1 listener, 2 playlists, 4 tracks.
    const center = (await gina.get("/privacy-center").expect(200)).text;
    assert.match(center, /id="held-library">7 records</);
    assert.match(center, /Until you delete it, or erase your data here/);
    assert.deepEqual(
      (await (await listener("hana", "DE")).get("/api/playlists").expect(200)).body,
      { playlists: [] },
      "another listener sees none of them",
    );
  });

  test("a playlist the app cannot make is refused before anything is stored", async () => {
    const ivan = await listener("ivan", "GB");
    for (const body of [
      { name: "Mix", tracks: [] },
      { name: "Mix", tracks: Array.from({ length: 51 }, () => "trk_01") },
      { name: "Mix", tracks: ["trk_01", "trk_99"] },
      { name: "Mix", tracks: "trk_01" },
      { name: "   ", tracks: ["trk_01"] },
      { tracks: ["trk_01"] },
    ]) {
      const refused = await ivan.post("/api/playlists").send(body).expect(400);
      assert.equal(refused.body.error.code, "invalid_body");
    }
    assert.equal(await music.playlist.count({ where: { listenerId: "ivan" } }), 0);
    assert.equal(await music.listener.count({ where: { id: "ivan" } }), 0);
    await request(app).get("/api/playlists").expect(401);
    await request(app)
      .post("/api/playlists")
      .send({ name: "Mix", tracks: ["trk_01"] })
      .expect(401);
  });

  test("a Californian: opt-out, so listening counts at once, until they withdraw", async () => {
    const bob = await listener("bob", "US-CA");
    await bob.post("/api/plays").send(play("trk_10")).expect(201);
    assert.deepEqual(
      genresOf((await bob.get("/api/recommendations").expect(200)).body.tracks.slice(0, 1)),
      new Set(["classical"]),
    );

    await bob.put("/privacy/consents/personalization").send({ granted: false }).expect(200);
    assert.equal((await bob.get("/api/recommendations").expect(200)).body.basedOn, "popular");
    await bob.post("/api/plays").send(play("trk_10")).expect(403);
    assert.deepEqual(await gate.store.interactions.forSubject("bob"), [], "the withdrawal erased what was collected");
  });

  test("a region the policy does not name gets the strictest rules", async () => {
    const carol = await listener("carol", "US-NY");
    const refused = await carol.post("/api/likes").send({ itemId: "trk_01" }).expect(403);
    assert.equal(refused.body.error.region, "EU");
  });

  test("anonymous listeners get popular tracks and cannot write", async () => {
    const recs = (await request(app).get("/api/recommendations").expect(200)).body;
    assert.equal(recs.basedOn, "popular");
    await request(app).post("/api/plays").send(play("trk_01")).expect(403);
    await request(app)
      .get("/privacy-center")
      .expect(401)
      .expect(/href="\/"/);
    await request(app).get("/privacy/consents").expect(401);
  });

  test("Tunes states at /.well-known/gpc.json that it honours GPC, dated by its policy's version", async () => {
    const res = await request(app)
      .get("/.well-known/gpc.json")
      .expect(200)
      .expect("content-type", /^application\/json/);
    assert.deepEqual(res.body, { gpc: true, lastUpdate: gate.policy.version });
  });

  test("unknown tracks are the app's own 404, after the gate", async () => {
    const dave = await listener("dave", "US-CO");
    await dave.post("/api/plays").send(play("trk_99")).expect(404);
  });
});

describe("the example's recommender", () => {
  const heard = (kind: string, itemId: string, durationMs?: number) => ({ kind, data: { itemId, durationMs } });

  test("cold start: the most popular tracks", () => {
    const popular = [...TRACKS].sort((a, b) => b.popularity - a.popularity).slice(0, 5);
    assert.deepEqual(recommend([]), { basedOn: "popular", tracks: popular });
  });

  test("skips count against a genre, likes for it", () => {
    const recs = recommend([heard("play", "trk_07", 5_000), heard("play", "trk_08", 4_000), heard("like", "trk_12")]);
    assert.equal(recs.tracks[0]!.genre, "folk");
    assert.ok(!recs.tracks.some((t) => t.genre === "electronic"), "only skipped: no more of it");
    assert.equal(recs.tracks.length, 5);
  });
});
