/**
 * Start-up time of createConsentgate on each database (in memory: the
 * process's first gate, and the later ones that start from its migrated
 * snapshot), what makes an in-memory database start fast (on demand), and the
 * rate of single-row interaction inserts through the store's Prisma client
 * compared with raw SQL on the same connection in the same run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { createConsentgate } from "../src/index.ts";
import type { Database } from "../src/store/connection.ts";
import { DEFAULT_POOL_SIZE } from "../src/options.ts";
import type { Logger } from "../src/logger.ts";
import { silentLogger } from "../src/logger.ts";
import { connect } from "../src/store/connection.ts";
import { MEMORY_START_PARAMS, createMemoryPglite } from "../src/store/memory-snapshot.ts";
import { migrate, readMigrations } from "../src/store/migrations.ts";
import { openStore } from "../src/store/store.ts";
import { fmt, median, scratchPostgres, table, time } from "./support.ts";

const SECRET = "bench-secret-bench-secret-bench-secret";
// Absolute: the files case starts from a scratch working directory.
const POLICIES = path.resolve("policies");
const RUNS = 3;
const INSERTS = 1000;

/** Later memory gates timed after the process's first one. */
const LATER_MEMORY_STARTS = 7;

export async function benchStartup(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const row = (label: string, first: number, next: number) =>
    rows.push({
      database: label,
      "first start (migrates), ms": fmt(first),
      "next start, ms": fmt(next),
      "next / first": fmt(next / first, 2),
    });

  // In memory first: the first memory gate must be this process's first, as in a test suite's process.
  {
    const fromSnapshot: boolean[] = [];
    const logger: Logger = {
      ...silentLogger,
      info: (fields) => {
        if ("fromSnapshot" in fields) fromSnapshot.push(fields.fromSnapshot === true);
      },
    };
    const start = async () => {
      const started = await time(() =>
        createConsentgate({ database: "memory", secret: SECRET, policies: POLICIES, logger }),
      );
      await started.value.close();
      return started.ms;
    };
    const first = await start();
    const later: number[] = [];
    for (let i = 0; i < LATER_MEMORY_STARTS; i++) later.push(await start());
    if (fromSnapshot[0] !== false || fromSnapshot.slice(1).some((used) => !used)) {
      throw new Error(
        `bench startup: expected the first memory gate to start empty and the later ones from the snapshot; got ${JSON.stringify(fromSnapshot)} (run the startup suite before anything else opens a memory database)`,
      );
    }
    row("PGlite, memory (next: from the snapshot)", first, median(later));
  }

  const measure = async (label: string, option: () => Promise<{ database: string; cleanup: () => Promise<void> }>) => {
    const first: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const { database, cleanup } = await option();
      const a = await time(() => createConsentgate({ database, secret: SECRET, policies: POLICIES }));
      await a.value.close();
      first.push(a.ms);
      const b = await time(() => createConsentgate({ database, secret: SECRET, policies: POLICIES }));
      await b.value.close();
      warm.push(b.ms);
      await cleanup();
    }
    row(label, median(first), median(warm));
  };
  await measure("PGlite, files", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "cg-bench-"));
    const cwd = process.cwd();
    process.chdir(dir);
    return { database: "", cleanup: async () => (process.chdir(cwd), rm(dir, { recursive: true, force: true })) };
  });
  await measure("PostgreSQL", async () => {
    const pg = await scratchPostgres();
    return { database: pg.url, cleanup: pg.drop };
  });
  table(
    `createConsentgate start-up (memory: the process's first gate, then the median of ${LATER_MEMORY_STARTS} later ones; files and PostgreSQL: median of ${RUNS} fresh databases, then the median of a second start on each)`,
    rows,
  );
}

/** Starts of each kind per row of `npm run bench -- memory-start`, interleaved. */
const MEMORY_START_ROUNDS = 5;

/**
 * `npm run bench -- memory-start` (not run by a bare `npm run bench`): one
 * migrated in-memory database started four ways, as PGlite.create() alone
 * (no Prisma, no gate): empty (initdb, what the first memory store pays
 * before its migrations), from a tar of the same files through PGlite's
 * `loadDataDir` with its default 128 MB of shared buffers and with ours, and
 * the way memory stores start from the snapshot (memory-snapshot.ts). Wall
 * time and this process's CPU time (steadier on a shared machine), each as a
 * ratio to initdb.
 */
export async function benchMemoryStart(): Promise<void> {
  const connection = await connect({ kind: "pglite-memory" }, { poolSize: DEFAULT_POOL_SIZE });
  await migrate(connection, await readMigrations());
  const cpuBefore = process.cpuUsage();
  const taking = await time(() => connection.snapshot!());
  const takingCpu = process.cpuUsage(cpuBefore);
  const snapshot = taking.value;
  await connection.close();
  const copy = await createMemoryPglite(snapshot);
  const tar = await copy.dumpDataDir("none");
  await copy.close();

  const ways: [string, () => Promise<PGlite>][] = [
    ["empty: initdb (the first memory store, before migrations)", () => createMemoryPglite()],
    ["loadDataDir, shared_buffers 128 MB (PGlite's default)", () => PGlite.create({ loadDataDir: tar })],
    [
      "loadDataDir, our shared_buffers",
      () => PGlite.create({ loadDataDir: tar, startParams: [...MEMORY_START_PARAMS] }),
    ],
    ["from the snapshot, as memory stores start", () => createMemoryPglite(snapshot)],
  ];
  const wall = ways.map((): number[] => []);
  const cpu = ways.map((): number[] => []);
  for (let round = 0; round < MEMORY_START_ROUNDS; round++) {
    for (const [i, [, open]] of ways.entries()) {
      const before = process.cpuUsage();
      const started = await time(open);
      const used = process.cpuUsage(before);
      // Each copy must hold the migrated schema (the empty one has none yet).
      if (i > 0) {
        const { rows } = await started.value.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM consentgate_migrations",
        );
        if (!rows[0]?.n) throw new Error(`bench memory-start: ${ways[i]![0]} has no migrations`);
      }
      await started.value.close();
      wall[i]!.push(started.ms);
      cpu[i]!.push((used.user + used.system) / 1000);
    }
  }
  const baseWall = median(wall[0]!);
  const baseCpu = median(cpu[0]!);
  table(`an in-memory PGlite started four ways (PGlite.create() only; median of ${MEMORY_START_ROUNDS}, interleaved)`, [
    ...ways.map(([label], i) => ({
      start: label,
      "wall, ms": fmt(median(wall[i]!)),
      "wall / initdb": fmt(median(wall[i]!) / baseWall, 2),
      "CPU, ms": fmt(median(cpu[i]!)),
      "CPU / initdb": fmt(median(cpu[i]!) / baseCpu, 2),
    })),
    {
      start: "(taking the snapshot, once per process: CHECKPOINT and copying the files)",
      "wall, ms": fmt(taking.ms),
      "wall / initdb": fmt(taking.ms / baseWall, 2),
      "CPU, ms": fmt((takingCpu.user + takingCpu.system) / 1000),
      "CPU / initdb": fmt((takingCpu.user + takingCpu.system) / 1000 / baseCpu, 2),
    },
  ]);
}

export async function benchInserts(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const run = async (label: string, database: Database) => {
    const store = await openStore(database, { poolSize: DEFAULT_POOL_SIZE });
    const { prisma } = store.connection;
    const expiresAt = new Date(Date.now() + 86_400_000);
    const data = { itemId: "trk_1", action: "play", durationMs: 183000 };
    // Warm both paths before timing them.
    const row = (purpose: string, i: number) => ({
      subjectId: "bench",
      purpose,
      slot: i,
      seq: BigInt(i),
      kind: "play",
      data,
      createdAt: new Date(),
      expiresAt,
      source: "region-default",
      legalBasis: "consent",
      policyVersion: "v1",
    });
    for (let i = 0; i < 50; i++) await prisma.interaction.create({ data: row("warm", i) });
    const viaStore = await time(async () => {
      for (let i = 0; i < INSERTS; i++) {
        await prisma.interaction.create({ data: row("store", i) });
      }
    });
    const raw = await time(async () => {
      for (let i = 0; i < INSERTS; i++) {
        await store.connection.query(
          `INSERT INTO interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", source, "legalBasis", "policyVersion")
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            "bench",
            "raw",
            i,
            i,
            "play",
            JSON.stringify(data),
            new Date(),
            expiresAt,
            "region-default",
            "consent",
            "v1",
          ],
        );
      }
    });
    await store.close();
    const storeRate = INSERTS / (viaStore.ms / 1000);
    const rawRate = INSERTS / (raw.ms / 1000);
    rows.push({
      database: label,
      "store (Prisma create), rows/s": fmt(storeRate, 0),
      "raw SQL, rows/s": fmt(rawRate, 0),
      "store / raw": fmt(storeRate / rawRate, 2),
    });
  };
  await run("PGlite, memory", { kind: "pglite-memory" });
  const pg = await scratchPostgres();
  try {
    await run("PostgreSQL", { kind: "postgres", url: pg.url });
  } finally {
    await pg.drop();
  }
  table(`one interaction per call, ${INSERTS} sequential inserts`, rows);
}
