/**
 * In-memory gates: the first of a process opens as ever and leaves a snapshot
 * of its migrated database; later ones start from it
 * (src/store/memory-snapshot.ts), each still a database of its own. These run
 * on PGlite in memory whatever TEST_DATABASE_URL says: that is the feature.
 * Whether a gate started from the snapshot is read from its "consentgate:
 * ready" log line; how fast it started is for `npm run bench -- startup`.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { describe, test } from "node:test";
import request from "supertest";
import { type Logger, createConsentgate } from "../../src/index.ts";
import {
  type MemorySnapshot,
  type SnapshotClaim,
  claimMemorySnapshot,
  giveUpMemorySnapshot,
  snapshotKey,
} from "../../src/store/memory-snapshot.ts";
import { readMigrations } from "../../src/store/migrations.ts";
import { TEST_SECRET, testApp, testGateOptions } from "../support/app.ts";
import { runNode } from "../support/child.ts";
import { CONSENTGATE_TABLES, type TestDatabase, testStore } from "../support/database.ts";
import { eu, grant } from "../support/subjects.ts";

const MEMORY: TestDatabase = { option: "memory", database: { kind: "pglite-memory" }, drop: async () => {} };

/** Another secret than the first gate's: a fingerprint carried over in the snapshot would refuse it (secret_mismatch). */
const OTHER_SECRET = "another-test-secret-another-test-secret";

const play = { itemId: "trk_1", action: "play" };

/** A logger that notes, for each gate started with it, whether it started from the snapshot, and any warning. */
function startLog() {
  const fromSnapshot: boolean[] = [];
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => {},
    error: () => {},
    warn: (_fields, message) => warnings.push(message ?? ""),
    info: (fields) => {
      if ("fromSnapshot" in fields) fromSnapshot.push(fields.fromSnapshot === true);
    },
  };
  return { logger, fromSnapshot, warnings };
}

/** What `who` holds in the gate of `app`: the effective choice for personalization, the consent history, the interactions. */
async function heldBy(t: Awaited<ReturnType<typeof testApp>>, who: string) {
  const consents = await request(t.app).get("/privacy/consents").set(eu(who)).expect(200);
  const purposes = consents.body.purposes as { purpose: string; granted: boolean; source: string }[];
  return {
    personalization: purposes.find((p) => p.purpose === "personalization")!,
    history: await t.gate.store.consents.history(who),
    interactions: await t.gate.store.interactions.forSubject(who),
  };
}

describe("in-memory gates after the first start from its migrated snapshot", () => {
  test("a later gate starts from the snapshot and holds nothing of an earlier one's, nor it of the later's", async (t) => {
    const first = await testApp(t, { database: "memory" });
    await grant(first.app, eu("snap-listener"), "personalization").expect(200);
    await request(first.app).post("/api/plays").set(eu("snap-listener")).send(play).expect(201);

    const log = startLog();
    const second = await testApp(t, { database: "memory", secret: OTHER_SECRET, logger: log.logger });
    assert.deepEqual(log.fromSnapshot, [true], "it started from the snapshot");
    assert.deepEqual(log.warnings, []);

    const inSecond = await heldBy(second, "snap-listener");
    assert.equal(inSecond.personalization.granted, false, "the first gate's consent is not there (EU is opt-in)");
    assert.equal(inSecond.personalization.source, "region-default");
    assert.deepEqual(inSecond.history, []);
    assert.deepEqual(inSecond.interactions, []);
    await request(second.app).post("/api/plays").set(eu("snap-listener")).send(play).expect(403);
    const events: string[] = [];
    for await (const entry of second.gate.store.complianceLog.entries("EU")) events.push(entry.event);
    assert.ok(!events.includes("consent.changed"), `the first gate's log entries are not there: ${events}`);

    // The other way round: what the second writes stays in the second.
    await grant(second.app, eu("later-listener"), "personalization").expect(200);
    await request(second.app).post("/api/plays").set(eu("later-listener")).send(play).expect(201);
    const inFirst = await heldBy(first, "later-listener");
    assert.equal(inFirst.personalization.granted, false);
    assert.deepEqual(inFirst.history, []);
    assert.deepEqual(inFirst.interactions, []);

    // And each keeps its own.
    const own = await heldBy(first, "snap-listener");
    assert.equal(own.personalization.granted, true);
    assert.equal(own.interactions.length, 1);
    assert.equal((await second.gate.store.interactions.forSubject("later-listener")).length, 1);
  });

  test("a memory gate started after the others were closed works", async (t) => {
    const earlier = await createConsentgate(testGateOptions({ database: "memory" }));
    await earlier.close();

    const log = startLog();
    const later = await testApp(t, { database: "memory", logger: log.logger });
    assert.deepEqual(log.fromSnapshot, [true]);
    await grant(later.app, eu("after-close"), "personalization").expect(200);
    await request(later.app).post("/api/plays").set(eu("after-close")).send(play).expect(201);
    const held = await heldBy(later, "after-close");
    assert.equal(held.personalization.granted, true);
    assert.equal(held.history.length, 1);
    assert.equal(held.interactions.length, 1);
  });

  test("a store started from the snapshot has every migration recorded, and nothing of a gate's own", async (t) => {
    await testStore(t, MEMORY); // the process's first memory store, if no test before took the snapshot
    const store = await testStore(t, MEMORY);
    assert.equal(store.fromSnapshot, true);
    const migrations = await readMigrations();
    assert.deepEqual(
      store.migrated,
      migrations.map((m) => m.name),
      "in memory every start brings the whole schema",
    );
    const recorded = await store.connection.query<{ name: string; checksum: string }>(
      "SELECT name, checksum FROM consentgate_migrations ORDER BY name",
    );
    assert.deepEqual(
      recorded,
      migrations.map(({ name, checksum }) => ({ name, checksum })),
    );
    const tables = await store.connection.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    assert.deepEqual(
      tables.map((r) => r.tablename),
      CONSENTGATE_TABLES,
    );
    // The batch function of migration 0005 came along too (it is not a table).
    const [fn] = await store.connection.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'consentgate_record_batch'",
    );
    assert.equal(fn!.n, 1);
    const [rows] = await store.connection.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM secret_fingerprint) + (SELECT count(*) FROM compliance_log)
            + (SELECT count(*) FROM consent_events) + (SELECT count(*) FROM interactions) AS n`,
    );
    assert.equal(Number(rows!.n), 0);
  });

  test("the process's first memory gates, created at once, share one snapshot and are each their own", async () => {
    // A process of its own, so that these are its first memory gates (in this one a test above took the snapshot).
    const support = (file: string) => path.resolve("test/support", file);
    const script = `
      import request from "supertest";
      import { createConsentgate } from ${JSON.stringify(path.resolve("src/index.ts"))};
      import { hostApp, testGateOptions } from ${JSON.stringify(support("app.ts"))};
      import { eu, grant } from ${JSON.stringify(support("subjects.ts"))};
      const started = [];
      const logger = {
        debug() {}, error() {},
        warn: (_fields, message) => started.push("warning: " + message),
        info: (fields) => { if ("fromSnapshot" in fields) started.push(fields.fromSnapshot); },
      };
      const open = (secret) => createConsentgate(testGateOptions({ database: "memory", secret, logger }));
      const [a, b] = await Promise.all([open(${JSON.stringify(TEST_SECRET)}), open(${JSON.stringify(OTHER_SECRET)})]);
      const c = await open(${JSON.stringify(TEST_SECRET)});
      const apps = [a, b, c].map((gate) => hostApp(gate, (app) => app.post("/api/plays", async (req, res) => {
        await req.privacy.record("play", req.body);
        res.status(201).end();
      })));
      // Each gate records a play for a listener of its own after a consent.
      const wrote = [];
      for (const [i, app] of apps.entries()) {
        await grant(app, eu("listener-" + i), "personalization").expect(200);
        wrote.push((await request(app).post("/api/plays").set(eu("listener-" + i)).send({ itemId: "t" })).status);
      }
      // What each gate holds for each listener.
      const held = [];
      for (const gate of [a, b, c]) {
        const row = [];
        for (let i = 0; i < 3; i++) row.push((await gate.store.interactions.forSubject("listener-" + i)).length);
        held.push(row);
      }
      for (const gate of [a, b, c]) await gate.close();
      console.log(JSON.stringify({ started, wrote, held }));
    `;
    const { code, stdout, stderr } = await runNode(script, {}, 180_000);
    assert.equal(code, 0, stderr);
    const { started, wrote, held } = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
      started: (boolean | string)[];
      wrote: number[];
      held: number[][];
    };
    assert.equal(started.length, 3, `no warnings: ${started}`);
    assert.deepEqual(
      [...started.slice(0, 2)].sort(),
      [false, true],
      "of the two created at once, one took the snapshot and the other waited for it",
    );
    assert.equal(started[2], true, "a later one starts from it");
    assert.deepEqual(wrote, [201, 201, 201]);
    assert.deepEqual(
      held,
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      "each gate holds its own listener's play and nobody else's",
    );
  });
});

describe("the snapshot registry", () => {
  // Keys of their own (not a real migration set's), so that these never touch the snapshot the gates above use.
  const key = (label: string) => snapshotKey([{ name: `registry-test-${label}-${randomUUID()}`, checksum: "0" }]);
  const taken = { snapshot: { entries: [], mode: 0o40700 } as MemorySnapshot, migrated: ["0001"] };
  /** The snapshot a claim waits for; fails when the claim got the turn instead. */
  const awaited = (claim: SnapshotClaim) => {
    if (claim.turn !== undefined) assert.fail("expected to wait for the snapshot, got the turn to take it");
    return claim.taken;
  };

  test("a snapshot is keyed by the migration set: names and checksums, in order", async () => {
    const migrations = await readMigrations();
    const base = snapshotKey(migrations);
    assert.equal(snapshotKey(migrations.map((m) => ({ ...m }))), base);
    const changed = migrations.map((m, i) => (i === 0 ? { ...m, checksum: `${m.checksum}0` } : m));
    assert.notEqual(snapshotKey(changed), base);
    assert.notEqual(snapshotKey(migrations.slice(0, -1)), base);
    assert.notEqual(snapshotKey([...migrations].reverse()), base);
  });

  test("stores opening at once: one takes the snapshot, the others wait for that one", async () => {
    const k = key("wait");
    const first = claimMemorySnapshot(k);
    const second = claimMemorySnapshot(k);
    assert.ok(first.turn !== undefined);
    const waited = awaited(second);
    first.turn.keep(taken);
    assert.equal(await waited, taken);
    assert.equal(await awaited(claimMemorySnapshot(k)), taken);
    assert.ok(claimMemorySnapshot(key("other")).turn !== undefined, "another migration set takes its own");
  });

  test("a failed snapshot is not tried again; a store that did not open leaves the turn to the next", async () => {
    const failing = key("fail");
    const first = claimMemorySnapshot(failing);
    const waiting = claimMemorySnapshot(failing);
    first.turn!.fail();
    assert.equal(await awaited(waiting), undefined, "those waiting open the normal way");
    assert.equal(await awaited(claimMemorySnapshot(failing)), undefined, "no store takes another turn");

    const abandoned = key("abandon");
    const opening = claimMemorySnapshot(abandoned);
    const meanwhile = claimMemorySnapshot(abandoned);
    opening.turn!.abandon();
    assert.equal(await awaited(meanwhile), undefined);
    assert.ok(claimMemorySnapshot(abandoned).turn !== undefined, "the next store takes the turn");

    const unusable = key("unusable");
    claimMemorySnapshot(unusable).turn!.keep(taken);
    giveUpMemorySnapshot(unusable);
    assert.equal(
      await awaited(claimMemorySnapshot(unusable)),
      undefined,
      "a snapshot that failed to start a store is dropped",
    );
  });
});
