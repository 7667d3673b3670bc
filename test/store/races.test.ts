/**
 * Races between writes in flight and the promises that should stop them: a
 * withdrawal erases what its consent let in, an erasure is complete, and a
 * re-grant does not revive what a withdrawal ended. Each test runs many
 * writers, on PostgreSQL through two gates on one database (two instances),
 * and asserts exact row counts once the writes have settled.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type pg from "pg";
import request from "supertest";
import { type TestApp, testApp } from "../support/app.ts";
import { DAY, testClock } from "../support/clock.ts";
import { type TestDatabase, onPostgres, sqlClient, testDatabase } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { type Headers, ca, eu, grant, withdraw } from "../support/subjects.ts";

const play = { itemId: "trk_1", action: "play" };

/** One latch per test: handlers on /api/held-plays wait on it between admission and record(). */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let waiting = 0;
  let arrived!: () => void;
  const allArrived = new Promise<void>((resolve) => (arrived = resolve));
  let expected = Number.POSITIVE_INFINITY;
  return {
    open,
    expect(n: number) {
      expected = n;
      if (waiting >= n) arrived();
    },
    allArrived,
    async pass() {
      if (++waiting >= expected) arrived();
      await opened;
    },
  };
}

describe(`writes racing withdrawals and erasures on ${onPostgres ? "PostgreSQL, two instances" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let held = latch();
  before(async () => {
    db = await testDatabase(suite);
    a = await testApp(suite, { database: db.option });
    // PGlite is one process's database: there the second "instance" is the first.
    b = onPostgres ? await testApp(suite, { database: db.option }) : a;
    for (const t of new Set([a, b])) {
      // A handler that awaits I/O between the gate's decision and record(), as real handlers do.
      t.app.post("/api/held-plays", t.gate.purpose("personalization"), async (req, res, next) => {
        try {
          await held.pass();
          await req.privacy.record("play", req.body);
          res.status(201).end();
        } catch (error) {
          next(error);
        }
      });
      t.app.use(t.gate.errorHandler());
    }
  });

  /** PostgreSQL only: a query on a connection of its own, outside both gates. */
  let client: pg.Client | undefined;
  const sql = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> => {
    client ??= await sqlClient(suite, db);
    return (await client.query<T>(text, values)).rows;
  };
  const held_rows = async (subject: string) => {
    const counts = await a.gate.store.interactions.countByPurpose(subject);
    return counts.personalization ?? 0;
  };

  /**
   * Keeps `writers` concurrent POST /api/plays for `headers` running on both
   * instances until `stop` resolves; returns the statuses they got.
   */
  async function writeUntil(headers: Headers, writers: number, stop: Promise<unknown>): Promise<number[]> {
    let stopped = false;
    void stop.finally(() => (stopped = true));
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const app = (w % 2 === 0 ? a : b).app;
        while (!stopped) statuses.push((await request(app).post("/api/plays").set(headers).send(play)).status);
      }),
    );
    return statuses;
  }

  for (let trial = 0; trial < 5; trial++) {
    test(`trial ${trial}: after a withdrawal answers and the writes settle, none of the purpose's rows remain`, async () => {
      const user = `withdraw-${trial}`;
      await grant(a.app, eu(user), "personalization").expect(200);
      await request(b.app).post("/api/plays").set(eu(user)).send(play).expect(201);
      let withdrawal!: Promise<unknown>;
      const statuses = await writeUntil(
        eu(user),
        30,
        (async () => {
          await new Promise((r) => setTimeout(r, 30));
          withdrawal = withdraw(a.app, eu(user), "personalization").expect(200);
          await withdrawal;
        })(),
      );
      assert.ok(
        statuses.every((s) => s === 201 || s === 403),
        `only 201 or 403: ${[...new Set(statuses)]}`,
      );
      assert.equal(await held_rows(user), 0, "a write that raced the withdrawal survived it");
      if (onPostgres) {
        const heads = await sql(`SELECT 1 FROM interaction_windows WHERE "subjectId" = $1`, [user]);
        assert.equal(heads.length, 0, "the ring head, which names the subject, is gone too");
      }
      // Once it has answered, every later write is refused on both instances (within the one-second bound).
      await new Promise((r) => setTimeout(r, 1000));
      for (const t of [a, b]) await request(t.app).post("/api/plays").set(eu(user)).send(play).expect(403);
    });

    test(`trial ${trial}: after an erasure answers and the writes settle, nothing of the subject remains`, async () => {
      const user = `erase-${trial}`;
      // California is opt-out: writes are let in by the region default, with no receipt.
      await request(a.app).post("/api/plays").set(ca(user)).send(play).expect(201);
      const erasure = (async () => {
        await new Promise((r) => setTimeout(r, 30));
        return request(a.app).delete("/privacy/data").set(ca(user)).expect(200);
      })();
      const statuses = await writeUntil(ca(user), 30, erasure);
      const certificate = (await erasure).body;
      assert.equal(certificate.status, "completed");
      assert.ok(
        statuses.every((s) => s === 201 || s === 403),
        `only 201 or 403: ${[...new Set(statuses)]}`,
      );
      // Writes decided after the erasure are new data the region's default lets in;
      // the promise is that nothing from before the erasure is left.
      const erasedAt = new Date(certificate.receivedAt);
      const rows = await a.gate.store.interactions.forSubject(user);
      assert.deepEqual(
        rows.filter((r) => r.at < erasedAt),
        [],
        "a write that raced the erasure survived it",
      );
    });
  }

  test("a write decided on a region default before a withdrawal and a re-grant is refused, not kept", async () => {
    const user = "regrant";
    held = latch();
    held.expect(5);
    const inFlight = Array.from({ length: 5 }, (_, i) =>
      request((i % 2 === 0 ? a : b).app)
        .post("/api/held-plays")
        .set(ca(user))
        .send(play),
    );
    const results = Promise.all(inFlight.map((r) => r.then((res) => res.status)));
    await held.allArrived;
    await withdraw(a.app, ca(user), "personalization").expect(200);
    const regrant = await grant(b.app, ca(user), "personalization").expect(200);
    held.open();
    assert.deepEqual(await results, [403, 403, 403, 403, 403], "writes decided before the withdrawal lose the race");
    assert.equal(await held_rows(user), 0);
    // The re-grant itself lets new writes in, under its own receipt.
    await request(b.app).post("/api/plays").set(ca(user)).send(play).expect(201);
    const rows = await a.gate.store.interactions.forSubject(user);
    assert.deepEqual(
      rows.map((r) => r.provenance.receiptId),
      [regrant.body.id],
    );
  });

  test("a write held between its decision and record() across an erasure is refused", async () => {
    const user = "held-erase";
    await grant(a.app, eu(user), "personalization").expect(200);
    held = latch();
    held.expect(4);
    const results = Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        request((i % 2 === 0 ? a : b).app)
          .post("/api/held-plays")
          .set(eu(user))
          .send(play)
          .then((r) => r.status),
      ),
    );
    await held.allArrived;
    await request(b.app).delete("/privacy/data").set(eu(user)).expect(200);
    held.open();
    assert.deepEqual(await results, [403, 403, 403, 403]);
    assert.equal(await held_rows(user), 0);
  });
});

describe(`writes racing the purge on ${onPostgres ? "PostgreSQL, two instances" : "PGlite"}`, () => {
  const suite = suiteScope();
  let a: TestApp;
  let b: TestApp;
  // Both instances share one clock that the test moves past the retention.
  const clock = testClock();
  before(async () => {
    const db = await testDatabase(suite);
    a = await testApp(suite, { database: db.option, now: clock.now });
    b = onPostgres ? await testApp(suite, { database: db.option, now: clock.now }) : a;
  });

  test("rings the purge empties while writers refill them keep exactly the window's newest rows", async () => {
    const subjects = Array.from({ length: 12 }, (_, i) => `purged-${i}`);
    const window = 5;
    const writeAll = (round: number, perSubject: number) =>
      Promise.all(
        subjects.map(async (user, s) => {
          for (let n = 0; n < perSubject; n++) {
            const app = ((s + n) % 2 === 0 ? a : b).app;
            await request(app)
              .post("/api/plays")
              .set(ca(user))
              .send({ itemId: `r${round}-${n}`, action: "play" })
              .expect(201);
          }
        }),
      );
    await writeAll(0, 8);
    clock.advance(91 * DAY); // every row written so far has expired
    let purging = true;
    const purges = Promise.all(
      [...new Set([a, b])].map(async (t) => {
        let runs = 0;
        while (purging || runs === 0) {
          await t.gate.runJob("purge");
          runs++;
          // PGlite answers in microtasks: let the writers' requests in between runs.
          await new Promise((resolve) => setImmediate(resolve));
        }
        return runs;
      }),
    );
    try {
      await writeAll(1, 8);
    } finally {
      purging = false;
      await purges;
    }
    await a.gate.runJob("purge");

    const expected = Array.from({ length: window }, (_, i) => `r1-${7 - i}`);
    for (const user of subjects) {
      const rows = await a.gate.store.interactions.forSubject(user);
      assert.deepEqual(
        rows.map((r) => (r.data as { itemId: string }).itemId),
        expected,
        `${user}: the window's newest rows, newest first`,
      );
    }
    const held = await a.gate.store.interactions.countByPurpose();
    assert.equal(held.personalization, subjects.length * window, "no expired row and nothing past a window is left");
  });
});
