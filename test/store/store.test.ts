import assert from "node:assert/strict";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, test } from "node:test";
import { isConsentgateError } from "../../src/errors.ts";
import { connect } from "../../src/store/connection.ts";
import { migrate, readMigrations } from "../../src/store/migrations.ts";
import { openStore } from "../../src/store/store.ts";
import {
  STORE_OPTIONS,
  type TestDatabase,
  onPostgres,
  scratchFolder,
  storedInteraction,
  testDatabase,
  testStore,
  CONSENTGATE_TABLES,
} from "../support/database.ts";
import { runNode } from "../support/child.ts";
import { suiteScope } from "../support/scope.ts";
import { existsSync } from "node:fs";

describe(`store on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: TestDatabase;
  let scratch: string;
  before(async () => {
    db = await testDatabase(suite);
    scratch = await scratchFolder(suite, "consentgate-store-");
  });

  // PGlite in memory starts empty every time, so persistence is checked on PGlite files.
  const persistent = () =>
    onPostgres ? db.database : ({ kind: "pglite-files", directory: path.join(scratch, "pgdata") } as const);

  test("migrations apply on an empty database and are a no-op on the next start", async () => {
    const all = (await readMigrations()).map((m) => m.name);
    assert.ok(all.length > 0);
    const first = await openStore(persistent(), STORE_OPTIONS);
    assert.deepEqual(first.migrated, all);
    const tables = await first.connection.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    assert.deepEqual(
      tables.map((t) => t.tablename),
      CONSENTGATE_TABLES,
    );
    await first.close();

    const second = await openStore(persistent(), STORE_OPTIONS);
    assert.deepEqual(second.migrated, []);
    const recorded = await second.connection.query<{ name: string }>(
      "SELECT name FROM consentgate_migrations ORDER BY name",
    );
    assert.deepEqual(
      recorded.map((r) => r.name),
      all,
    );
    await second.close();
  });

  test("data written before a restart is there after it", async () => {
    const store = await openStore(persistent(), STORE_OPTIONS);
    await store.connection.prisma.interaction.create({
      data: storedInteraction("restart-subject", {
        purpose: "service",
        data: {},
        source: "legal-basis",
        legalBasis: "contract",
      }),
    });
    await store.close();
    const again = await openStore(persistent(), STORE_OPTIONS);
    assert.equal(await again.connection.prisma.interaction.count({ where: { subjectId: "restart-subject" } }), 1);
    await again.close();
  });

  test("JSON data round-trips exactly", async () => {
    const store = await openStore(db.database, STORE_OPTIONS);
    const data = {
      itemId: "trk_1",
      durationMs: 183000,
      ratio: 0.25,
      nested: { deep: { list: [1, "two", null, true, { x: -1.5e-7 }] } },
      unicode: "Björk — 東京 🎧",
      quote: 'a "quoted" \\ backslash',
      empty: {},
    };
    const created = await store.connection.prisma.interaction.create({
      data: storedInteraction("json-subject", {
        purpose: "personalization",
        data,
        source: "legal-basis",
        legalBasis: "contract",
      }),
    });
    const read = await store.connection.prisma.interaction.findUniqueOrThrow({
      where: { subjectId_purpose_slot: { subjectId: created.subjectId, purpose: created.purpose, slot: created.slot } },
    });
    assert.deepEqual(read.data, data);
    await store.close();
  });

  test("concurrent start-ups apply each migration once", {
    skip: !onPostgres && "PGlite is one process's database",
  }, async (ctx) => {
    const fresh = await testDatabase(ctx);
    const stores = await Promise.all(Array.from({ length: 4 }, () => testStore(ctx, fresh, { poolSize: 2 })));
    const applied = stores.flatMap((s) => s.migrated);
    assert.deepEqual(applied.sort(), (await readMigrations()).map((m) => m.name).sort());
    const [count] = await stores[0]!.connection.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM consentgate_migrations",
    );
    assert.equal(count!.n, applied.length);
  });

  test("a failing migration leaves nothing behind and stops start-up", async (ctx) => {
    const fresh = await testDatabase(ctx);
    const dir = path.join(scratch, "broken-migrations");
    await mkdir(path.join(dir, "0001_ok"), { recursive: true });
    await mkdir(path.join(dir, "0002_broken"), { recursive: true });
    await writeFile(path.join(dir, "0001_ok", "migration.sql"), "CREATE TABLE ok_table (id int);");
    await writeFile(
      path.join(dir, "0002_broken", "migration.sql"),
      "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;",
    );
    const connection = await connect(fresh.database, STORE_OPTIONS);
    try {
      await assert.rejects(migrate(connection, await readMigrations(dir)), (e) =>
        isConsentgateError(e, "migration_failed"),
      );
      const tables = await connection.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
      );
      assert.deepEqual(
        tables.map((t) => t.tablename),
        ["consentgate_migrations", "ok_table"],
      );
      const recorded = await connection.query<{ name: string }>("SELECT name FROM consentgate_migrations");
      assert.deepEqual(
        recorded.map((r) => r.name),
        ["0001_ok"],
      );

      // Editing an applied migration is refused rather than silently ignored.
      await writeFile(path.join(dir, "0001_ok", "migration.sql"), "CREATE TABLE ok_table (id bigint);");
      await rm(path.join(dir, "0002_broken"), { recursive: true });
      await assert.rejects(migrate(connection, await readMigrations(dir)), (e) =>
        isConsentgateError(e, "migration_changed"),
      );
    } finally {
      await connection.close();
    }
  });

  test("a closed store leaves no handle that keeps the process alive", async () => {
    const script = `
      import { openStore } from "./src/store/store.ts";
      const database = JSON.parse(process.env.DB);
      const store = await openStore(database, ${JSON.stringify(STORE_OPTIONS)});
      await store.connection.prisma.interaction.count();
      await store.close();
      await store.close();
      console.log("closed");
    `;
    const { code, stdout, stderr } = await runNode(script, { DB: JSON.stringify(db.database) }, 30_000);
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), "closed");
  });

  test("the embedded database refuses a second process and takes over a dead one's lock", {
    skip: onPostgres && "PGlite only",
  }, async () => {
    const directory = path.join(scratch, "locked");
    const store = await openStore({ kind: "pglite-files", directory }, STORE_OPTIONS);
    try {
      await assert.rejects(
        openStore({ kind: "pglite-files", directory }, STORE_OPTIONS),
        /already open in this process/,
      );
      const script = `
        import { openStore } from "./src/store/store.ts";
        await openStore({ kind: "pglite-files", directory: process.env.DIR }, ${JSON.stringify(STORE_OPTIONS)}).then(
          () => console.log("opened"),
          (e) => console.log(e.code + ": " + e.message),
        );
      `;
      const { stdout } = await runNode(script, { DIR: directory }, 30_000);
      assert.match(stdout, new RegExp(`invalid_option: .*open in process ${process.pid}`));
    } finally {
      await store.close();
    }
    // A lock whose owner died (no such pid) does not keep the database closed forever.
    await writeFile(`${directory}.lock`, "999999999");
    const again = await openStore({ kind: "pglite-files", directory }, STORE_OPTIONS);
    await again.close();
    assert.equal(existsSync(`${directory}.lock`), false, "close() releases the lock");
  });

  test("in memory, nothing is written to disk", async (ctx) => {
    const cwd = await scratchFolder(ctx, "consentgate-memory-");
    const script = `
      import { createConsentgate } from "${path.resolve("src/index.ts")}";
      const gate = await createConsentgate({ database: "memory", policies: "${path.resolve("policies")}" });
      await gate.close();
    `;
    const { code, stderr } = await runNode(script, {}, 30_000, cwd);
    assert.equal(code, 0, stderr);
    assert.deepEqual(await readdir(cwd), []);
  });
});
