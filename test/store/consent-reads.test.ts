/**
 * The consent read path under many subjects: cache misses for one subject
 * share one read, misses for many subjects travel in one query, a read that
 * takes too long fails every waiting request closed, and the one-second
 * bound on a change made elsewhere holds while the batched path is busy.
 * The store's tests count the queries the cache sends on a real database;
 * the gate's tests go through HTTP, two instances on PostgreSQL.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import request from "supertest";
import { ConsentgateError } from "../../src/errors.ts";
import { silentLogger } from "../../src/logger.ts";
import type { Connection } from "../../src/store/connection.ts";
import { type CacheSettings, type ConsentCache, createConsentCache } from "../../src/store/consent-cache.ts";
import type { Store } from "../../src/store/store.ts";
import { type TestApp, testApp } from "../support/app.ts";
import { type TestDatabase, onPostgres, sqlClient, testDatabase, testStore } from "../support/database.ts";
import { onCleanup, suiteScope } from "../support/scope.ts";
import { ca, eu, grant, withdraw } from "../support/subjects.ts";

const play = { itemId: "trk_1", action: "play" };
const SETTINGS: Omit<CacheSettings, "logger"> = { subjects: 10_000, timeoutMs: 2000, maxStalenessMs: 1000 };

/** Every statement the cache sends, with its subjects; `holdNext` delays the next one's answer until released. */
function countingConnection(connection: Connection) {
  const reads: string[][] = [];
  let hold: Promise<void> | undefined;
  let fail: Error | undefined;
  const counted: Connection = {
    ...connection,
    async query<Row>(sql: string, params?: unknown[], name?: string): Promise<Row[]> {
      reads.push([...((params?.[0] as string[]) ?? [])]);
      if (fail) throw fail;
      const held = hold;
      hold = undefined;
      const rows = await connection.query<Row>(sql, params, name);
      await held;
      return rows;
    },
  };
  return {
    connection: counted,
    reads,
    /** The next query's answer waits (after the database answered) until the returned function is called. */
    holdNext(): () => void {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return release;
    },
    failWith(error: Error | undefined) {
      fail = error;
    },
  };
}

async function seedChoices(store: Store, rows: { subject: string; purpose: string; granted: boolean }[]) {
  if (rows.length === 0) return;
  await store.connection.query(
    `INSERT INTO consent_state ("subjectId", purpose, granted, "receiptId", "policyVersion", "updatedAt")
     SELECT s, p, g, gen_random_uuid(), 'test', now() FROM unnest($1::text[], $2::text[], $3::boolean[]) AS t(s, p, g)`,
    [rows.map((r) => r.subject), rows.map((r) => r.purpose), rows.map((r) => r.granted)],
  );
}

describe(`the consent cache's reads on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let store: Store;
  before(async () => {
    store = await testStore(suite, await testDatabase(suite));
  });
  /**
   * A cache on `counting`'s connection, once it serves from memory: on
   * PostgreSQL only after its listener has answered a first probe. The
   * warm-up's reads are not counted.
   */
  const cacheOn = async (
    counting: ReturnType<typeof countingConnection>,
    settings: Partial<CacheSettings> = {},
  ): Promise<ConsentCache> => {
    const cache = createConsentCache(counting.connection, { ...SETTINGS, logger: silentLogger, ...settings });
    onCleanup(suite, () => cache.close());
    for (let i = 0; i < 500 && cache.peek("warm-up") === undefined; i++) {
      await cache.choices("warm-up");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.notEqual(cache.peek("warm-up"), undefined, "the cache never became fresh");
    counting.reads.length = 0;
    return cache;
  };

  test("concurrent misses for one subject make one read, and everyone gets its answer", async () => {
    await seedChoices(store, [{ subject: "one-read", purpose: "personalization", granted: true }]);
    const counting = countingConnection(store.connection);
    const cache = await cacheOn(counting);
    const answers = await Promise.all(Array.from({ length: 50 }, () => cache.choices("one-read")));
    assert.equal(counting.reads.length, 1);
    assert.deepEqual(counting.reads[0], ["one-read"]);
    for (const answer of answers) assert.equal(answer.get("personalization")?.granted, true);
    // Now cached: no more reads.
    await cache.choices("one-read");
    assert.equal(counting.reads.length, 1);
  });

  test("misses for many subjects at once make one query, each subject getting its own choices", async () => {
    const subjects = Array.from({ length: 300 }, (_, i) => `many-${i}`);
    // A realistic mix: most people never chose; some granted, some withdrew, a few chose twice.
    const seeded = subjects.flatMap((subject, i) =>
      i % 10 === 0
        ? [{ subject, purpose: "personalization", granted: true }]
        : i % 10 === 1
          ? [
              { subject, purpose: "personalization", granted: false },
              { subject, purpose: "analytics", granted: true },
            ]
          : [],
    );
    await seedChoices(store, seeded);
    const counting = countingConnection(store.connection);
    const cache = await cacheOn(counting);
    const answers = await Promise.all(subjects.map((subject) => cache.choices(subject)));
    assert.equal(counting.reads.length, 1, "one query for the whole batch");
    assert.deepEqual([...counting.reads[0]!].sort(), [...subjects].sort());
    subjects.forEach((subject, i) => {
      const expected = seeded.filter((row) => row.subject === subject);
      const answer = answers[i]!;
      assert.equal(answer.size, expected.length, subject);
      for (const row of expected) assert.equal(answer.get(row.purpose)?.granted, row.granted, subject);
    });
    // Empty answers are cached like any other: the second pass reads nothing.
    for (const subject of subjects) assert.notEqual(cache.peek(subject), undefined, subject);
    await Promise.all(subjects.map((subject) => cache.choices(subject)));
    assert.equal(counting.reads.length, 1);
  });

  test("a batch never holds more than 512 subjects; the rest follow in the next", async () => {
    const counting = countingConnection(store.connection);
    const cache = await cacheOn(counting);
    const subjects = Array.from({ length: 1100 }, (_, i) => `big-${i}`);
    await Promise.all(subjects.map((subject) => cache.choices(subject)));
    assert.deepEqual(
      counting.reads.map((read) => read.length),
      [512, 512, 76],
    );
    assert.equal(new Set(counting.reads.flat()).size, 1100, "every subject read exactly once");
  });

  test("a read that times out fails every request waiting on it closed, with consent_unavailable", async () => {
    const counting = countingConnection(store.connection);
    const cache = await cacheOn(counting, { timeoutMs: 100 });
    const release = counting.holdNext();
    const waiting = [
      ...Array.from({ length: 10 }, () => cache.choices("slow-shared")),
      ...Array.from({ length: 10 }, (_, i) => cache.choices(`slow-${i}`)),
    ];
    const outcomes = await Promise.allSettled(waiting);
    release();
    assert.equal(counting.reads.length, 1, "they all waited on one query");
    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      assert.ok(outcome.reason instanceof ConsentgateError);
      assert.equal(outcome.reason.code, "consent_unavailable");
    }
  });

  test("a failed query fails every request in its batch closed; the next request reads again", async () => {
    const counting = countingConnection(store.connection);
    const cache = await cacheOn(counting);
    counting.failWith(new Error("connection reset"));
    const outcomes = await Promise.allSettled(["f-1", "f-2", "f-1"].map((subject) => cache.choices(subject)));
    assert.deepEqual(
      outcomes.map((o) => o.status === "rejected" && (o.reason as ConsentgateError).code),
      ["consent_unavailable", "consent_unavailable", "consent_unavailable"],
    );
    assert.equal(cache.peek("f-1"), undefined, "nothing cached from a failure");
    counting.failWith(undefined);
    assert.equal((await cache.choices("f-1")).size, 0);
    assert.equal(counting.reads.length, 2);
  });

  test("a change during a read: that read's answer is not cached, and later requests do not join it", async () => {
    await seedChoices(store, [{ subject: "racing", purpose: "personalization", granted: true }]);
    const counting = countingConnection(store.connection);
    const cache = await cacheOn(counting);
    const release = counting.holdNext();
    const before = cache.choices("racing");
    await waitFor(() => counting.reads.length === 1);
    // The change commits after that read's snapshot, and this instance hears of it.
    await store.connection.query(`UPDATE consent_state SET granted = false WHERE "subjectId" = 'racing'`);
    cache.changed("racing");
    // A new read, not the one in flight; it answers first, and then the held one does.
    assert.equal((await cache.choices("racing")).get("personalization")?.granted, false);
    assert.equal(counting.reads.length, 2);
    release();
    assert.equal((await before).get("personalization")?.granted, true, "the earlier request keeps its earlier answer");
    assert.equal(cache.peek("racing")?.get("personalization")?.granted, false, "only the fresh answer is cached");
  });
});

async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.ok(done());
}

describe("the gate's consent reads under load, two instances on PostgreSQL", {
  skip: !onPostgres && "needs TEST_DATABASE_URL",
}, () => {
  const suite = suiteScope();
  let a: TestApp;
  let b: TestApp;
  let db: TestDatabase;
  before(async () => {
    db = await testDatabase(suite);
    a = await testApp(suite, { database: db.option });
    b = await testApp(suite, { database: db.option, consentCache: { timeoutMs: 300 } });
  });

  test("reads blocked past the timeout answer 503 to every waiting request; no handler runs, nothing is stored", async () => {
    const blocker = await sqlClient(suite, db);
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE consent_state IN ACCESS EXCLUSIVE MODE");
    const seenBefore = b.seen.length;
    const who = [...Array.from({ length: 10 }, (_, i) => ca(`blocked-${i}`)), ...Array(10).fill(ca("blocked-same"))];
    const answers = await Promise.all(who.map((headers) => request(b.app).post("/api/plays").set(headers).send(play)));
    await blocker.query("ROLLBACK");
    for (const answer of answers) {
      assert.equal(answer.status, 503);
      assert.equal(answer.body.error.code, "consent_unavailable");
    }
    assert.equal(b.seen.length, seenBefore, "no handler ran");
    const stored = await Promise.all(
      ["blocked-same", ...Array.from({ length: 10 }, (_, i) => `blocked-${i}`)].map(
        async (subject) => (await b.gate.store.interactions.countByPurpose(subject)).personalization ?? 0,
      ),
    );
    assert.deepEqual(new Set(stored), new Set([0]));
    // Unblocked, the same subjects are read again (nothing was cached from the failure) and let in.
    await request(b.app).post("/api/plays").set(ca("blocked-same")).send(play).expect(201);
  });

  test("a withdrawal on instance A is honoured by B within one second while B reads for thousands of new subjects", async () => {
    const x = eu("withdrawn-under-load");
    const storedBefore = (await b.gate.store.interactions.countByPurpose()).personalization ?? 0;
    await grant(a.app, x, "personalization").expect(200);
    await request(b.app).post("/api/plays").set(x).send(play).expect(201);

    let running = true;
    let loadOk = 0;
    let next = 0;
    // Twelve writers, each request a subject B has never seen (an opt-out region: no choice needed first).
    const load = Array.from({ length: 12 }, async () => {
      while (running) {
        const answer = await request(b.app)
          .post("/api/plays")
          .set(ca(`load-${next++}`))
          .send(play);
        assert.equal(answer.status, 201, `load request answered ${answer.status}`);
        loadOk++;
      }
    });
    // And the withdrawn subject itself, over and over, on B.
    const xAnswers: { startedAt: number; status: number }[] = [];
    const xLoop = (async () => {
      while (running) {
        const startedAt = Date.now();
        const answer = await request(b.app).post("/api/plays").set(x).send(play);
        xAnswers.push({ startedAt, status: answer.status });
      }
    })();

    await new Promise((resolve) => setTimeout(resolve, 300));
    await withdraw(a.app, x, "personalization").expect(200);
    const withdrawnAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    running = false;
    await Promise.all([...load, xLoop]);

    const late = xAnswers.filter((r) => r.startedAt >= withdrawnAt + 1000);
    assert.ok(late.length > 0, "B kept answering the withdrawn subject");
    assert.deepEqual(
      late.filter((r) => r.status !== 403),
      [],
      "every request started a second after the withdrawal is refused",
    );
    assert.ok(loadOk > 100, `the batched path was under load (${loadOk} requests)`);
    // Exact counts: the withdrawal erased X's plays and nothing of X's came back (a write B let in
    // before it heard is refused by the store's own re-check); every load request stored its one play.
    const xHeld = (await b.gate.store.interactions.countByPurpose("withdrawn-under-load")).personalization ?? 0;
    assert.equal(xHeld, 0, "nothing of the withdrawn subject's survives");
    const storedAfter = (await b.gate.store.interactions.countByPurpose()).personalization ?? 0;
    assert.equal(storedAfter - storedBefore, loadOk);
  });
});
