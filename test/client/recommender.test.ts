/**
 * createDeviceRecommender end to end in Node, against a small Express app
 * that implements the learning routes' contract with an in-memory model
 * (GET {api}/learning/{model}, POST {api}/learning/{model}/updates), over
 * real HTTP with the global fetch: what the device sends (a dense delta for
 * the open round, within the model's clip, never its plays) and what it does
 * with each answer.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import express from "express";
import {
  createDeviceRecommender,
  decodeFloat32,
  encodeFloat32,
  LearningError,
  MAX_PLAYS,
  memoryStorage,
} from "../../src/client/index.ts";

const ITEMS = Array.from({ length: 30 }, (_, i) => `track-${i}`);
const DIMENSIONS = 4;
const CLIP = 0.5;

/** The server's state: the model, the open round, and every POST body it received. */
const server = {
  version: 3,
  round: 4 as number | null,
  factors: new Float32Array(ITEMS.length * DIMENSIONS),
  posts: [] as { round: number; delta: string }[],
  /** The devices (by header) that reported in each round: a second report is a 409 already_reported. */
  reported: new Map<number, Set<string>>(),
  /** Forced answer for the next POST, when a test needs one. */
  next: undefined as { status: number; code: string } | undefined,
};

function resetServer() {
  server.version = 3;
  server.round = 4;
  // Items 0–9 point along dimension 0, 10–19 along 1, the rest along 2 (three tastes).
  server.factors = Float32Array.from({ length: ITEMS.length * DIMENSIONS }, (_, j) => {
    const item = Math.floor(j / DIMENSIONS);
    return j % DIMENSIONS === Math.floor(item / 10) ? 0.5 + item / 100 : 0.01;
  });
  server.posts = [];
  server.reported = new Map();
  server.next = undefined;
}

const app = express();
app.use(express.json({ limit: "1mb" }));
app.get("/privacy/learning/:model", (req, res) => {
  if (req.params.model !== "recommender")
    return void res.status(404).json({ error: { code: "not_found", message: "no such model" } });
  res.json({
    model: "recommender",
    purpose: "on-device",
    version: server.version,
    round: server.round,
    status: server.round === null ? "stopped" : "training",
    items: ITEMS,
    dimensions: DIMENSIONS,
    clip: CLIP,
    factors: encodeFloat32(server.factors),
  });
});
app.post("/privacy/learning/:model/updates", (req, res) => {
  const { round, delta } = req.body as { round: number; delta: string };
  server.posts.push(req.body);
  if (server.next) {
    const { status, code } = server.next;
    server.next = undefined;
    return void res.status(status).json({ error: { code, message: code } });
  }
  if (round !== server.round) return void res.status(409).json({ error: { code: "round_closed", message: "closed" } });
  const device = req.get("x-device") ?? "anonymous";
  const reported = server.reported.get(round) ?? new Set();
  if (reported.has(device))
    return void res.status(409).json({ error: { code: "already_reported", message: "already reported" } });
  try {
    decodeFloat32(delta, ITEMS.length * DIMENSIONS);
  } catch {
    return void res.status(400).json({ error: { code: "invalid_body", message: "bad delta" } });
  }
  reported.add(device);
  server.reported.set(round, reported);
  res.status(202).json({ round });
});

let api = "";
let listening: ReturnType<typeof app.listen>;
before(async () => {
  listening = app.listen(0);
  await new Promise((resolve) => listening.once("listening", resolve));
  api = `http://127.0.0.1:${(listening.address() as AddressInfo).port}/privacy`;
});
after(() => listening.close());
beforeEach(resetServer);

const device = (name: string, storage = memoryStorage()) =>
  createDeviceRecommender({ api, model: "recommender", storage, headers: { "x-device": name } });

describe("createDeviceRecommender", () => {
  test("recommends unplayed items of the taste the device played, computed on the device", async () => {
    const recommender = device("a");
    assert.deepEqual(await recommender.recommend(5), [], "no plays, nothing to personalize");
    for (const id of ["track-12", "track-13", "track-12", "track-15"]) await recommender.observe(id);
    const top = await recommender.recommend(5);
    assert.equal(top.length, 5);
    for (const id of top) {
      const row = ITEMS.indexOf(id);
      assert.ok(row >= 10 && row < 20, `${id} is of the played taste`);
      assert.ok(!["track-12", "track-13", "track-15"].includes(id), `${id} was played already`);
    }
    assert.ok((await recommender.recommend(30, { includePlayed: true })).includes("track-12"));
    assert.equal(server.posts.length, 0, "recommending sends nothing");
  });

  test("contribute posts one dense delta within the clip for the open round, and never twice", async () => {
    const recommender = device("b");
    for (const id of ["track-1", "track-2", "track-2"]) await recommender.observe(id);
    const result = await recommender.contribute();
    assert.ok("norm" in result && result.round === 4 && result.norm > 0);
    assert.equal(server.posts.length, 1);
    const post = server.posts[0]!;
    assert.deepEqual(Object.keys(post).sort(), ["delta", "round"], "nothing but the round and the delta");
    const delta = decodeFloat32(post.delta, ITEMS.length * DIMENSIONS);
    let square = 0;
    for (const v of delta) square += v * v;
    assert.ok(Math.sqrt(square) <= CLIP, `norm ${Math.sqrt(square)}`);
    for (let item = 0; item < ITEMS.length; item++) {
      const row = delta.subarray(item * DIMENSIONS, (item + 1) * DIMENSIONS);
      assert.ok(
        row.some((v) => v !== 0),
        `item ${item}'s row is non-zero, played or not`,
      );
    }
    assert.deepEqual(await recommender.contribute(), { skipped: "already_contributed", round: 4 });
    assert.equal(server.posts.length, 1, "no second post for the round");
    server.round = 5;
    server.version = 4;
    const next = await recommender.contribute();
    assert.ok("norm" in next && next.round === 5);
    assert.equal(server.posts.length, 2);
  });

  test("concurrent calls share one post", async () => {
    const recommender = device("c");
    await recommender.observe("track-3");
    const [first, second] = await Promise.all([recommender.contribute(), recommender.contribute()]);
    assert.deepEqual(first, second);
    assert.equal(server.posts.length, 1);
  });

  test("the round survives the page: a new recommender on the same storage does not post again", async () => {
    const storage = memoryStorage();
    await device("d", storage).observe("track-21");
    assert.ok("norm" in (await device("d", storage).contribute()));
    assert.deepEqual(await device("d", storage).contribute(), { skipped: "already_contributed", round: 4 });
    assert.equal(server.posts.length, 1);
  });

  test("409 already_reported counts as done; round_closed and consent_required do not; no plays sends nothing", async () => {
    const storage = memoryStorage();
    const first = device("e", storage);
    assert.deepEqual(await first.contribute(), { skipped: "no_plays" });
    assert.equal(server.posts.length, 0);
    await first.observe("track-unknown");
    assert.deepEqual(await first.contribute(), { skipped: "no_known_plays", round: 4 });
    await first.observe("track-7");
    server.next = { status: 409, code: "round_closed" };
    assert.deepEqual(await first.contribute(), { skipped: "round_closed", round: 4 });
    server.next = { status: 403, code: "consent_required" };
    assert.deepEqual(await first.contribute(), { skipped: "consent_required", round: 4 });
    server.reported.set(4, new Set(["e"])); // reported from this device's earlier session
    assert.deepEqual(await first.contribute(), { skipped: "already_reported", round: 4 });
    const posts = server.posts.length;
    assert.deepEqual(await first.contribute(), { skipped: "already_contributed", round: 4 });
    assert.equal(server.posts.length, posts);
  });

  test("a stopped model is not trained; other errors are LearningErrors with the server's code", async () => {
    const recommender = device("f");
    await recommender.observe("track-1");
    server.round = null;
    assert.deepEqual(await recommender.contribute(), { skipped: "stopped" });
    server.round = 4;
    server.next = { status: 401, code: "unauthenticated" };
    await assert.rejects(recommender.contribute(), (error: unknown) => {
      assert.ok(error instanceof LearningError);
      assert.equal(error.status, 401);
      assert.equal(error.code, "unauthenticated");
      return true;
    });
    const missing = createDeviceRecommender({ api, model: "nope" });
    await assert.rejects(missing.refresh(), { name: "LearningError", status: 404, code: "not_found" });
  });

  test("refresh picks up a new version, and the user vector is solved again against it", async () => {
    const storage = memoryStorage();
    const recommender = device("g", storage);
    await recommender.observe("track-25");
    const before = await recommender.recommend(3);
    assert.ok(before.every((id) => ITEMS.indexOf(id) >= 20));
    // The server's model changes: track-25 moves to the taste of items 10–19.
    server.factors.set([0.01, 0.6, 0.01, 0.01], 25 * DIMENSIONS);
    server.version = 4;
    assert.deepEqual(await recommender.recommend(3), before, "the cached model until refresh");
    await recommender.refresh();
    const after = await recommender.recommend(3);
    assert.ok(
      after.every((id) => ITEMS.indexOf(id) >= 10 && ITEMS.indexOf(id) < 20),
      `${after}`,
    );
    const state = (await storage.get("consentgate:learning:recommender")) as { userVersion: number; user: number[] };
    assert.equal(state.userVersion, 4);
    assert.equal(state.user.length, DIMENSIONS);
  });

  test("keeps only the last MAX_PLAYS plays", async () => {
    const storage = memoryStorage();
    const recommender = device("h", storage);
    for (let i = 0; i < MAX_PLAYS + 20; i++) await recommender.observe(i < 20 ? "track-0" : "track-29");
    const state = (await storage.get("consentgate:learning:recommender")) as { plays: string[] };
    assert.equal(state.plays.length, MAX_PLAYS);
    assert.ok(!state.plays.includes("track-0"), "the oldest plays are gone");
  });
});
