/**
 * Start-up time of createConsentgate on each database, and the rate of
 * single-row interaction inserts through the store's Prisma client compared
 * with raw SQL on the same connection in the same run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createConsentgate } from "../src/index.ts";
import type { Database } from "../src/store/connection.ts";
import { DEFAULT_POOL_SIZE } from "../src/options.ts";
import { openStore } from "../src/store/store.ts";
import { fmt, median, scratchPostgres, table, time } from "./support.ts";

const SECRET = "bench-secret-bench-secret-bench-secret";
// Absolute: the files case starts from a scratch working directory.
const POLICIES = path.resolve("policies");
const RUNS = 3;
const INSERTS = 1000;

export async function benchStartup(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const measure = async (label: string, option: () => Promise<{ database: string; cleanup: () => Promise<void> }>) => {
    const first: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const { database, cleanup } = await option();
      const a = await time(() => createConsentgate({ database, secret: SECRET, policies: POLICIES }));
      await a.value.close();
      first.push(a.ms);
      if (database !== "memory") {
        const b = await time(() => createConsentgate({ database, secret: SECRET, policies: POLICIES }));
        await b.value.close();
        warm.push(b.ms);
      }
      await cleanup();
    }
    rows.push({
      database: label,
      "first start (migrates), ms": fmt(median(first)),
      "next start, ms": warm.length ? fmt(median(warm)) : "n/a",
    });
  };
  await measure("PGlite, memory", async () => ({ database: "memory", cleanup: async () => {} }));
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
  table(`createConsentgate start-up (median of ${RUNS})`, rows);
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
