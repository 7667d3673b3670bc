/**
 * record() throughput through the windowed store with group commit, against
 * baselines in the same run on the same database:
 *  - raw multi-row INSERTs fed by the same 50 writers through the same group
 *    commit (a plain table with the same columns and indexes, no window, no
 *    consent re-check): what this workload allows at best;
 *  - raw bulk INSERTs of 256-row batches, 4 in flight, with no writer waiting
 *    on its row: the database's ceiling;
 *  - one Prisma create per write (what a naive store would do).
 * Then 100 000 writes over 100 subjects, and the rows each subject holds.
 */
import type { Connection } from "../src/store/connection.ts";
import { createGroupCommit } from "../src/store/group-commit.ts";
import { createInteractionStore, type NewInteraction } from "../src/store/interactions.ts";
import { openStore } from "../src/store/store.ts";
import { fmt, scratchPostgres, table, time } from "./support.ts";

const WRITERS = 50;
const WINDOW = 50;
const SUBJECTS = 1000;

function row(i: number): NewInteraction {
  const now = new Date();
  return {
    subjectId: `subject-${i % SUBJECTS}`,
    purpose: "personalization",
    window: WINDOW,
    kind: "play",
    data: { itemId: `trk_${i}`, action: "play", durationMs: 183_000, location: "u09tu" },
    createdAt: now,
    expiresAt: new Date(now.getTime() + 90 * 86_400_000),
    receiptId: undefined,
    source: "region-default",
    legalBasis: "consent",
    policyVersion: "bench",
    decidedAt: now,
  };
}

/** `total` writes by WRITERS concurrent writers, each awaiting its own writes one by one. */
async function writers(total: number, write: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const { ms } = await time(() =>
    Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (next < total) await write(next++);
      }),
    ),
  );
  return total / (ms / 1000);
}

/** Unique slots across every raw insert of a run, so the copied primary key never conflicts. */
let rawSlot = 0;

function rawInsert(connection: Connection, rows: NewInteraction[]) {
  const first = rawSlot;
  rawSlot += rows.length;
  return connection.query(
    `INSERT INTO raw_interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", "receiptId", source, "legalBasis", "policyVersion")
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::timestamptz[], $9::uuid[], $10::text[], $11::text[], $12::text[])`,
    [
      rows.map((r) => r.subjectId), rows.map((r) => r.purpose), rows.map((_, k) => first + k), rows.map((_, k) => first + k), rows.map((r) => r.kind),
      rows.map((r) => JSON.stringify(r.data)), rows.map((r) => r.createdAt.toISOString()), rows.map((r) => r.expiresAt.toISOString()),
      rows.map(() => null), rows.map((r) => r.source), rows.map((r) => r.legalBasis), rows.map((r) => r.policyVersion),
    ],
    "bench_raw_insert", // prepared, as record()'s statement is
  );
}

async function rawGrouped(connection: Connection, total: number): Promise<number> {
  const commit = createGroupCommit<NewInteraction, true>({
    concurrency: connection.kind === "postgres" ? 2 : 1,
    flush: async (rows) => (await rawInsert(connection, rows), rows.map(() => true as const)),
  });
  return writers(total, (i) => commit.add(row(i)));
}

async function rawBulk(connection: Connection, total: number): Promise<number> {
  const BATCH = 256;
  let next = 0;
  const { ms } = await time(() =>
    Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < total) {
          const start = next;
          next += BATCH;
          await rawInsert(connection, Array.from({ length: Math.min(BATCH, total - start) }, (_, k) => row(start + k)));
        }
      }),
    ),
  );
  return total / (ms / 1000);
}

async function prismaCreates(connection: Connection, total: number): Promise<number> {
  return writers(total, (i) => {
    const { window: _w, decidedAt: _d, ...r } = row(i);
    return connection.prisma.interaction.create({ data: { ...r, data: r.data as object, subjectId: `prisma-${i}`, slot: 0, seq: BigInt(i), receiptId: null } });
  });
}

export async function benchRecord(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const bound: Record<string, string | number>[] = [];
  const run = async (label: string, open: () => ReturnType<typeof openStore>, total: number) => {
    const store = await open();
    const interactions = createInteractionStore(store.connection);
    // Steady state: every ring full, so each measured write overwrites its oldest slot.
    await writers(SUBJECTS * WINDOW, (i) => interactions.record(row(i)));
    await store.connection.query(`CREATE TABLE raw_interactions (LIKE interactions INCLUDING ALL)`);
    const recordRate = await writers(total, (i) => interactions.record(row(i)));
    const groupedRate = await rawGrouped(store.connection, total);
    const bulkRate = await rawBulk(store.connection, total);
    const prismaRate = await prismaCreates(store.connection, Math.min(total, 5000));
    rows.push({
      database: label,
      "record(), rows/s": fmt(recordRate, 0),
      "raw INSERT, same writers, rows/s": fmt(groupedRate, 0),
      "raw bulk INSERT, rows/s": fmt(bulkRate, 0),
      "Prisma create per write, rows/s": fmt(prismaRate, 0),
      "record / raw same writers": fmt(recordRate / groupedRate, 2),
      "record / raw bulk": fmt(recordRate / bulkRate, 2),
      "record / Prisma create": fmt(recordRate / prismaRate, 1),
    });
    // The hard bound after 100 000 writes over 100 subjects.
    await writers(100_000, (i) => interactions.record({ ...row(i), subjectId: `bound-${i % 100}` }));
    const [counts] = await store.connection.query<{ min: number; max: number; subjects: number }>(
      `SELECT min(n)::int AS min, max(n)::int AS max, count(*)::int AS subjects FROM (SELECT count(*) AS n FROM interactions WHERE "subjectId" LIKE 'bound-%' GROUP BY "subjectId") t`,
    );
    bound.push({ database: label, writes: 100_000, subjects: counts!.subjects, window: WINDOW, "rows per subject (min–max)": `${counts!.min}–${counts!.max}` });
    await store.close();
  };
  const pg = await scratchPostgres();
  try {
    await run("PostgreSQL", () => openStore({ kind: "postgres", url: pg.url }), 20_000);
  } finally {
    await pg.drop();
  }
  await run("PGlite, memory", () => openStore({ kind: "pglite-memory" }), 20_000);
  table(`record() with ${WRITERS} concurrent writers vs raw SQL and Prisma, same run`, rows);
  table("window bound after 100 000 writes", bound);
}
