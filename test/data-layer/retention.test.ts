/**
 * The purge job on the app's own gated models: rows written longer than the
 * purpose's retention ago are deleted, each subject is trimmed to the
 * purpose's window (newest kept), in batches, with exact counts that a dry
 * run predicts, logged in the default region's purge.ran and counted in its
 * report; models of a purpose without a window are left alone.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import type { Logger } from "../../src/index.ts";
import { DAY } from "../support/clock.ts";
import { onPostgres } from "../support/database.ts";
import { type GatedMusic, gatedMusic } from "../support/gated-music.ts";
import { DPO, eu, eventsOf, grant, logOf } from "../support/subjects.ts";

const NOW = new Date("2026-06-01T12:00:00.000Z");
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);

/** Likes for `id`, one per age in days, written through the gate (createdAt passes as written). */
async function likes(t: GatedMusic, id: string, ages: number[]): Promise<void> {
  await grant(t.app, eu(id), "personalization").expect(200);
  await t.gate.as({ subject: id }, async () => {
    for (const age of ages)
      await t.music.like.create({ data: { listenerId: id, itemId: `${id}-${age}d`, createdAt: daysAgo(age) } });
  });
}

/** The items of the subject's likes still held, newest first. */
const kept = async (t: GatedMusic, id: string) =>
  (await t.host.like.findMany({ where: { listenerId: id }, orderBy: { createdAt: "desc" } })).map((l) => l.itemId);

/**
 * ada: two likes older than the 90 days personalization keeps, four within
 * them (one past the window of 3); bob: five within (two past); cy: two.
 * Plus a playlist of ada's written a year ago: library has no window, so
 * no retention applies to it.
 */
async function seed(t: GatedMusic): Promise<void> {
  await likes(t, "ada", [120, 91, 4, 3, 2, 1]);
  await likes(t, "bob", [50, 40, 30, 20, 10]);
  await likes(t, "cy", [60, 89]);
  await t.gate.as({ subject: "ada" }, async () => {
    await t.music.listener.create({ data: { id: "ada", createdAt: daysAgo(365) } });
    await t.music.playlist.create({ data: { listenerId: "ada", name: "old", createdAt: daysAgo(365) } });
  });
}

const DUE = { Like: { purpose: "personalization", expired: 2, outOfWindow: 3 } };

describe(`the purge job on the app's gated models, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("deletes expired rows and trims each subject to the window, newest kept, in batches; logs and reports them", async (ctx) => {
    const t = await gatedMusic(ctx);
    await seed(t);

    const dry = await t.gate.runJob("purge", { now: NOW, dryRun: true });
    assert.deepEqual(dry.tables, DUE, "the dry run counts exactly what the run deletes");
    assert.equal(await t.host.like.count(), 13, "a dry run deletes nothing");

    const result = await t.gate.runJob("purge", { now: NOW, batchSize: 2 });
    assert.deepEqual(result, {
      dryRun: false,
      expired: {},
      outOfWindow: {},
      emptyWindows: 0,
      tables: DUE,
      interrupted: false,
    });
    assert.deepEqual(await kept(t, "ada"), ["ada-1d", "ada-2d", "ada-3d"]);
    assert.deepEqual(await kept(t, "bob"), ["bob-10d", "bob-20d", "bob-30d"]);
    assert.deepEqual(await kept(t, "cy"), ["cy-60d", "cy-89d"]);
    assert.equal(await t.host.playlist.count(), 1, "no retention without a window: the library's rows stay");

    const ran = async (region: string) => eventsOf(await logOf(t.app, region), "purge.ran").map((e) => e.details);
    const before = NOW.toISOString();
    assert.deepEqual(await ran("EU"), [{ before, expired: {}, outOfWindow: {}, tables: DUE }], "the default region's");
    assert.deepEqual(await ran("US-CA"), [{ before, expired: {}, outOfWindow: {} }]);
    const report = await request(t.app).get("/privacy/admin/report/EU").set(DPO).expect(200);
    assert.deepEqual(report.body.rowsPurged, { total: 5, byPurpose: { personalization: 5 } });

    const again = await t.gate.runJob("purge", { now: NOW });
    assert.deepEqual(
      again.tables,
      { Like: { purpose: "personalization", expired: 0, outOfWindow: 0 } },
      "a rerun finds nothing",
    );
  });

  test("a purge stopped between two statements keeps what it deleted, and the next run finishes", async (ctx) => {
    const controller = new AbortController();
    const logger: Logger = {
      debug: (obj) => {
        if ((obj as { model?: string }).model === "Like") controller.abort();
      },
      info: () => {},
      warn: () => {},
      error: () => {},
    };
    const t = await gatedMusic(ctx, { options: { logger } });
    await seed(t);
    const first = await t.gate.runJob("purge", { now: NOW, batchSize: 1, signal: controller.signal });
    assert.equal(first.interrupted, true);
    assert.deepEqual(first.tables, { Like: { purpose: "personalization", expired: 1, outOfWindow: 0 } });
    assert.equal(await t.host.like.count(), 12);
    const second = await t.gate.runJob("purge", { now: NOW, batchSize: 1 });
    assert.equal(second.interrupted, false);
    assert.deepEqual(second.tables, { Like: { purpose: "personalization", expired: 1, outOfWindow: 3 } });
    assert.equal(await t.host.like.count(), 8);
  });
});
