import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import type { ConsentgateOptions, Logger } from "../../src/index.ts";
import { createComplianceLog } from "../../src/audit/log.ts";
import { purge } from "../../src/jobs/purge.ts";
import { silentLogger } from "../../src/logger.ts";
import { silentMetrics } from "../../src/metrics/observations.ts";
import { loadPolicy } from "../../src/policy/load.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { createComplianceLogStore } from "../../src/store/compliance-log.ts";
import { createInteractionStore } from "../../src/store/interactions.ts";
import { TEST_SECRET, type TestApp, testApp, testGate } from "../support/app.ts";
import { DAY, testClock } from "../support/clock.ts";
import { interactionRow, onPostgres, persistentDatabase, testDatabase, testStore } from "../support/database.ts";
import { express } from "../support/express.ts";
import { testPolicy } from "../support/policy.ts";
import type { Scope } from "../support/scope.ts";
import { DPO, eu, eventsOf, grant, logOf, region, subject } from "../support/subjects.ts";

const T0 = new Date("2026-02-01T12:00:00.000Z");

describe(`the purge job on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const clock = testClock(T0);
  /** A gate of its own on a fresh database, on the test's clock. */
  const gate = (scope: Scope, options: ConsentgateOptions = {}) => {
    clock.set(T0);
    return testApp(scope, { now: clock.now, ...options });
  };
  const write = (
    t: TestApp,
    user: string,
    code: string,
    path: string,
    times: number,
    body: object = { itemId: "trk" },
  ) =>
    Promise.all(
      Array.from({ length: times }, () =>
        request(t.app)
          .post(path)
          .set(subject(user, region(code)))
          .send(body)
          .expect(201),
      ),
    );

  test("removes exactly the expired rows and logs the counts per region and purpose", async (ctx) => {
    const t = await gate(ctx);
    await grant(t.app, eu("eu-1"), "personalization").expect(200);
    await write(t, "eu-1", "DE", "/api/plays", 3);
    await write(t, "eu-1", "DE", "/api/service", 2);
    await write(t, "ca-1", "US-CA", "/api/plays", 2);
    await write(t, "ca-1", "US-CA", "/api/service", 4);
    await write(t, "ca-1", "US-CA", "/api/stats", 1);
    clock.set(T0.getTime() + 7 * DAY);
    await write(t, "ca-1", "US-CA", "/api/service", 1); // fresh: written on the day the others expire
    const before = await t.gate.runJob("purge", { dryRun: true });

    const result = await t.gate.runJob("purge");
    assert.deepEqual(result, {
      dryRun: false,
      expired: { EU: { service: 2 }, "US-CA": { service: 4 } },
      outOfWindow: {},
      emptyWindows: 1,
      tables: {},
      interrupted: false,
    });
    assert.deepEqual({ ...before, dryRun: false }, result, "the dry run predicted it exactly");
    assert.deepEqual(await t.gate.store.interactions.countByPurpose("eu-1"), { personalization: 3 });
    assert.deepEqual(await t.gate.store.interactions.countByPurpose("ca-1"), {
      personalization: 2,
      service: 1,
      analytics: 1,
    });

    const ran = (entries: Awaited<ReturnType<typeof logOf>>) => eventsOf(entries, "purge.ran").map((e) => e.details);
    const at = clock.now().toISOString();
    assert.deepEqual(ran(await logOf(t.app, "EU")), [{ before: at, expired: { service: 2 }, outOfWindow: {} }]);
    assert.deepEqual(ran(await logOf(t.app, "US-CA")), [{ before: at, expired: { service: 4 }, outOfWindow: {} }]);
    assert.deepEqual(
      ran(await logOf(t.app, "OTHER")),
      [{ before: at, expired: {}, outOfWindow: {} }],
      "every region logs the run, even with nothing due",
    );

    assert.deepEqual(
      await t.gate.runJob("purge"),
      { dryRun: false, expired: {}, outOfWindow: {}, emptyWindows: 0, tables: {}, interrupted: false },
      "a rerun finds nothing",
    );
    const report = await request(t.app).get("/privacy/admin/report/US-CA").set(DPO).expect(200);
    assert.deepEqual(report.body.rowsPurged, { total: 4, byPurpose: { service: 4 } });
  });

  test("a dry run counts and changes nothing, not even the log", async (ctx) => {
    const t = await gate(ctx);
    await write(t, "ca-2", "US-CA", "/api/service", 3);
    clock.set(T0.getTime() + 8 * DAY);
    const logged = (await logOf(t.app, "US-CA")).length;
    const result = await t.gate.runJob("purge", { dryRun: true });
    assert.deepEqual(result, {
      dryRun: true,
      expired: { "US-CA": { service: 3 } },
      outOfWindow: {},
      emptyWindows: 1,
      tables: {},
      interrupted: false,
    });
    assert.deepEqual(await t.gate.store.interactions.countByPurpose(), { service: 3 });
    assert.equal((await logOf(t.app, "US-CA")).length, logged);
  });

  test("onProgress: what is due first, then the running total after each statement; purge only", async (ctx) => {
    const t = await gate(ctx);
    await write(t, "ca-progress", "US-CA", "/api/service", 5);
    clock.set(T0.getTime() + 8 * DAY);
    let dryRunTold = 0;
    await t.gate.runJob("purge", { dryRun: true, onProgress: () => dryRunTold++ });
    assert.equal(dryRunTold, 0, "a dry run deletes nothing and tells nothing");

    const told: { deleted: number; expected: number }[] = [];
    const result = await t.gate.runJob("purge", { batchSize: 2, onProgress: (p) => told.push({ ...p }) });
    assert.deepEqual(result.expired, { "US-CA": { service: 5 } });
    assert.deepEqual(told, [
      { deleted: 0, expected: 5 },
      { deleted: 2, expected: 5 },
      { deleted: 4, expected: 5 },
      { deleted: 5, expected: 5 },
    ]);
    await assert.rejects(t.gate.runJob("deadlines", { onProgress: () => {} }), {
      code: "invalid_option",
      message: /dryRun, batchSize and onProgress apply to the purge job only/,
    });
  });

  test("an interrupted purge keeps what it deleted, logs it, and the next run finishes", async (ctx) => {
    const controller = new AbortController();
    let batches = 0;
    const logger: Logger = {
      debug: (obj) => {
        if ((obj as { job?: string }).job === "purge" && ++batches === 3) controller.abort();
      },
      info: () => {},
      warn: () => {},
      error: () => {},
    };
    const t = await gate(ctx, { logger });
    for (let i = 0; i < 4; i++) await write(t, `ca-batch-${i}`, "US-CA", "/api/service", 2);
    clock.set(T0.getTime() + 8 * DAY);

    const first = await t.gate.runJob("purge", { batchSize: 1, signal: controller.signal });
    assert.deepEqual(first, {
      dryRun: false,
      expired: { "US-CA": { service: 3 } },
      outOfWindow: {},
      emptyWindows: 0,
      tables: {},
      interrupted: true,
    });
    assert.deepEqual(await t.gate.store.interactions.countByPurpose(), { service: 5 });
    const second = await t.gate.runJob("purge", { batchSize: 1 });
    assert.deepEqual(second, {
      dryRun: false,
      expired: { "US-CA": { service: 5 } },
      outOfWindow: {},
      emptyWindows: 4,
      tables: {},
      interrupted: false,
    });
    assert.deepEqual(await t.gate.store.interactions.countByPurpose(), {});
    const ran = eventsOf(await logOf(t.app, "US-CA"), "purge.ran").map((e) => e.details);
    assert.deepEqual(
      ran.map((d) => [d["expired"], d["interrupted"]]),
      [
        [{ service: 3 }, true],
        [{ service: 5 }, undefined],
      ],
    );
  });

  test("a purge the database fails mid-way logs what it deleted, as interrupted, and reports the failure", async (ctx) => {
    const store = await testStore(ctx, await testDatabase(ctx));
    const interactions = createInteractionStore(store.connection);
    for (let i = 0; i < 4; i++) {
      await interactions.record(
        interactionRow(`failing-${i}`, {
          purpose: "service",
          window: 20,
          data: {},
          createdAt: T0,
          expiresAt: T0,
          source: "legal-basis",
          legalBasis: "contract",
          policyVersion: "test-1",
          decidedAt: T0,
          region: "US-CA",
        }),
      );
    }
    // The database goes away on the purge's third batch (batches of one row: after two rows went).
    let batches = 0;
    const failing: typeof interactions = {
      ...interactions,
      deleteExpired: async (now, limit) => {
        if (++batches === 3) throw new Error("connection lost");
        return interactions.deleteExpired(now, limit);
      },
    };
    const keyring = createKeyring(TEST_SECRET);
    const audit = createComplianceLog(createComplianceLogStore(store.connection), {
      pseudonym: keyring.pseudonym,
      chainKey: keyring.key("log-chain"),
      now: () => T0,
    });
    const deps = {
      interactions: failing,
      gatedTables: () => [],
      policy: await loadPolicy(testPolicy()),
      audit,
      logger: silentLogger,
      metrics: silentMetrics,
    };
    await assert.rejects(purge(deps, { now: T0, batchSize: 1 }), /connection lost/);
    const logged: unknown[] = [];
    for await (const entry of audit.entries("US-CA")) logged.push(entry.details);
    assert.deepEqual(logged, [
      { before: T0.toISOString(), expired: { service: 2 }, outOfWindow: {}, interrupted: true },
    ]);
  });

  test("a shrunk window keeps its newest rows, rows of purposes the policy dropped go; rows of a dropped region count for the default one", async (ctx) => {
    const db = await persistentDatabase(ctx);
    const before = await gate(ctx, { database: db.option });
    for (let i = 0; i < 5; i++) await write(before, "ca-3", "US-CA", "/api/plays", 1, { itemId: `trk-${i}` });
    await write(before, "ca-3", "US-CA", "/api/stats", 2);
    await write(before, "ca-3", "US-CA", "/api/service", 3);
    await before.gate.close();

    // The test app gates every purpose in code, so the new policy runs in a bare gate.
    const after = await testGate(ctx, {
      policies: testPolicy({
        version: "test-2",
        purposes: { analytics: null, personalization: { window: 2 } },
        regions: { "US-CA": null },
      }),
      database: db.option,
      now: clock.now,
      actor: () => ({ id: "dpo-1", roles: ["dpo"] }),
    });

    const result = await after.runJob("purge", { batchSize: 1 });
    assert.deepEqual(result, {
      dryRun: false,
      expired: {},
      outOfWindow: { EU: { personalization: 3, analytics: 2 } },
      emptyWindows: 1,
      tables: {},
      interrupted: false,
    });
    assert.deepEqual(await after.store.interactions.countByPurpose("ca-3"), { personalization: 2, service: 3 });
    const kept = await after.store.interactions.forSubject("ca-3", { purpose: "personalization" });
    assert.deepEqual(
      kept.map((r) => (r.data as { itemId: string }).itemId),
      ["trk-4", "trk-3"],
      "the newest rows stay",
    );
    const app = express().use("/privacy", after.router());
    assert.deepEqual(eventsOf(await logOf(app, "EU"), "purge.ran").at(-1)!.details["outOfWindow"], {
      personalization: 3,
      analytics: 2,
    });
  });
});
