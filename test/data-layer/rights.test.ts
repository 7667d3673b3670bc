/**
 * The app's own gated models join the rights: GET /export lists their rows
 * with the purpose and legal basis they are held under, DELETE /data erases
 * them (children before the parents they cascade from, so every row is
 * counted) and the certificate counts them, a failed delete leaves the
 * erasure partial for the erasure-retry job, and a withdrawal of a purpose
 * with `onWithdrawal: purge` deletes that purpose's rows of the subject only.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import type { ErasureCertificate } from "../../src/index.ts";
import { onPostgres } from "../support/database.ts";
import { type GatedMusic, gatedMusic, musicPolicy } from "../support/gated-music.ts";
import { asText, eu, eventsOf, grant, logOf, withdraw } from "../support/subjects.ts";

/** Two likes and a playlist of two tracks for `id`, written through the app's routes. */
async function listen(t: GatedMusic, id: string): Promise<void> {
  await grant(t.app, eu(id), "personalization").expect(200);
  for (const itemId of ["trk-1", "trk-2"])
    await request(t.app).post("/api/likes").set(eu(id)).send({ itemId }).expect(201);
  await request(t.app)
    .post("/api/playlists")
    .set(eu(id))
    .send({ name: `${id}'s mix ${"♪".repeat(120)}`, tracks: ["trk-3", "trk-4"] })
    .expect(201);
}

/** How many rows of each model the subject has, read through the plain client. */
async function held(t: GatedMusic, id: string) {
  return {
    Listener: await t.host.listener.count({ where: { id } }),
    Playlist: await t.host.playlist.count({ where: { listenerId: id } }),
    PlaylistTrack: await t.host.playlistTrack.count({ where: { listenerId: id } }),
    Like: await t.host.like.count({ where: { listenerId: id } }),
  };
}

const nothing = { Listener: 0, Playlist: 0, PlaylistTrack: 0, Like: 0 };
const all = { Listener: 1, Playlist: 1, PlaylistTrack: 2, Like: 2 };

/** Makes the likes table unreachable (renamed) until the returned function puts it back. */
async function breakLikes(t: GatedMusic): Promise<() => Promise<void>> {
  await t.host.$executeRawUnsafe("ALTER TABLE likes RENAME TO likes_away");
  return async () => {
    await t.host.$executeRawUnsafe("ALTER TABLE likes_away RENAME TO likes");
  };
}

describe(`the app's gated models in the rights, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("the export lists each model's rows with their purpose and legal basis, dates as ISO text", async (ctx) => {
    const t = await gatedMusic(ctx);
    await listen(t, "ada");
    await listen(t, "bob");
    const res = await asText(request(t.app).get("/privacy/export").set(eu("ada"))).expect(200);
    const { dataSources } = JSON.parse(res.body as string);
    assert.deepEqual(Object.keys(dataSources), [
      "prisma.PlaylistTrack",
      "prisma.Playlist",
      "prisma.Listener",
      "prisma.Like",
    ]);

    const likes = dataSources["prisma.Like"];
    assert.equal(likes.purpose, "personalization");
    assert.equal(likes.legalBasis, "consent");
    assert.deepEqual(
      likes.rows.map((row: { listenerId: string; itemId: string }) => [row.listenerId, row.itemId]),
      [
        ["ada", "trk-1"],
        ["ada", "trk-2"],
      ],
    );
    for (const row of likes.rows) {
      assert.equal(typeof row.id, "number");
      assert.equal(row.createdAt, new Date(row.createdAt).toISOString(), "a date is written as ISO text");
    }

    const playlists = dataSources["prisma.Playlist"];
    assert.equal(playlists.purpose, "library");
    assert.equal(playlists.legalBasis, "contract");
    assert.equal(playlists.rows.length, 1);
    assert.equal(playlists.rows[0].name, `ada's mix ${"♪".repeat(90)}`, "held as minimized: name cut to 100");
    assert.deepEqual(
      dataSources["prisma.PlaylistTrack"].rows.map((row: { itemId: string; position: number }) => [
        row.itemId,
        row.position,
      ]),
      [
        ["trk-3", 0],
        ["trk-4", 1],
      ],
    );
    assert.deepEqual(
      dataSources["prisma.Listener"].rows.map((row: { id: string }) => row.id),
      ["ada"],
    );
  });

  test("the export writes what a database row holds and JSON lacks as text: big integers, bytes", async (ctx) => {
    const t = await gatedMusic(ctx);
    t.gate.registerDataSource({
      name: "counters",
      export: () => [{ plays: 12345678901234567890n, key: new Uint8Array([1, 2, 3]), note: Buffer.from("hi") }],
      erase: () => 0,
    });
    const res = await asText(request(t.app).get("/privacy/export").set(eu("ada"))).expect(200);
    assert.deepEqual(JSON.parse(res.body as string).dataSources.counters, [
      { plays: "12345678901234567890", key: "AQID", note: "aGk=" },
    ]);
  });

  test("DELETE /data erases the subject's rows of every model, children first, and the certificate counts each", async (ctx) => {
    const t = await gatedMusic(ctx);
    await listen(t, "ada");
    await listen(t, "bob");
    const res = await request(t.app).delete("/privacy/data").set(eu("ada")).expect(200);
    const certificate = res.body as ErasureCertificate;
    assert.equal(certificate.status, "completed");
    // Listener cascades to Playlist, which cascades to PlaylistTrack: erased parent first, they would count 0.
    assert.deepEqual(certificate.erased.dataSources, {
      "prisma.PlaylistTrack": 2,
      "prisma.Playlist": 1,
      "prisma.Listener": 1,
      "prisma.Like": 2,
    });
    assert.deepEqual(await held(t, "ada"), nothing);
    assert.deepEqual(await held(t, "bob"), all, "nobody else's rows");
  });

  test("a model that fails to erase leaves the erasure partial; the erasure-retry job finishes it", async (ctx) => {
    const t = await gatedMusic(ctx);
    await listen(t, "ada");
    const restore = await breakLikes(t);
    const partial = (await request(t.app).delete("/privacy/data").set(eu("ada")).expect(200))
      .body as ErasureCertificate;
    assert.equal(partial.status, "partial");
    assert.deepEqual(
      partial.failures.map((f) => [f.dataSource, f.reason]),
      [["prisma.Like", "data_source_failed"]],
    );
    assert.deepEqual(partial.erased.dataSources, {
      "prisma.PlaylistTrack": 2,
      "prisma.Playlist": 1,
      "prisma.Listener": 1,
    });
    await restore();
    assert.equal((await held(t, "ada")).Like, 2);

    assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 1, completed: 1 });
    assert.deepEqual(await held(t, "ada"), nothing);
    const done = await request(t.app).get(`/privacy/requests/${partial.requestId}`).set(eu("ada")).expect(200);
    assert.equal(done.body.status, "completed");
    assert.deepEqual(done.body.details.erased.dataSources, {
      "prisma.PlaylistTrack": 2,
      "prisma.Playlist": 1,
      "prisma.Listener": 1,
      "prisma.Like": 2,
    });
  });

  test("a withdrawal with onWithdrawal: purge deletes the subject's rows of that purpose, and nobody else's", async (ctx) => {
    const t = await gatedMusic(ctx);
    await listen(t, "ada");
    await listen(t, "bob");
    await withdraw(t.app, eu("ada"), "personalization").expect(200);
    assert.deepEqual(await held(t, "ada"), { ...all, Like: 0 }, "the library's rows are another purpose's");
    assert.deepEqual(await held(t, "bob"), all);
    const changed = eventsOf(await logOf(t.app, "EU"), "consent.changed").at(-1)!;
    assert.equal(changed.details.granted, false);
    assert.equal(changed.details.erasedInteractions, 0, "the entry's fields are the store's, as before");
    const refused = await request(t.app).post("/api/likes").set(eu("ada")).send({ itemId: "trk-9" });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "consent_required");
  });

  test("a withdrawal with onWithdrawal: keep leaves the rows", async (ctx) => {
    const t = await gatedMusic(ctx, {
      options: { policies: musicPolicy({ personalization: { onWithdrawal: "keep" } }) },
    });
    await listen(t, "ada");
    await withdraw(t.app, eu("ada"), "personalization").expect(200);
    assert.deepEqual(await held(t, "ada"), all);
  });

  test("a withdrawal whose rows cannot be deleted stands, answers 503, and deletes them when sent again", async (ctx) => {
    const t = await gatedMusic(ctx);
    await listen(t, "ada");
    const restore = await breakLikes(t);
    const failed = await withdraw(t.app, eu("ada"), "personalization");
    assert.equal(failed.status, 503);
    assert.equal(failed.body.error.code, "consent_unavailable");
    assert.match(failed.body.error.message, /withdrawal was recorded/);
    const consents = await request(t.app).get("/privacy/consents").set(eu("ada")).expect(200);
    const personalization = consents.body.purposes.find((p: { purpose: string }) => p.purpose === "personalization");
    assert.equal(personalization.granted, false, "the withdrawal stands");
    await restore();
    assert.equal((await held(t, "ada")).Like, 2);
    await withdraw(t.app, eu("ada"), "personalization").expect(200);
    assert.deepEqual(await held(t, "ada"), { ...all, Like: 0 });
  });
});
