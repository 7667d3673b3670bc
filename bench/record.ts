/**
 * record() throughput through the windowed store with group commit, against
 * baselines in the same run on the same database:
 *  - raw multi-row INSERTs fed by the same 50 writers through the same group
 *    commit (a plain table with the same columns and indexes, no window, no
 *    consent re-check): what this workload allows at best;
 *  - raw bulk INSERTs of 256-row batches, 4 in flight, with no writer waiting
 *    on its row: the database's ceiling;
 *  - raw INSERTs plus one counter upsert per (subject, purpose), same writers:
 *    the least work of any store whose bound holds under concurrency;
 *  - one Prisma create per write (what a naive store would do).
 * Each raw figure is the faster of two encodings in this run (arrays per
 * column, or one JSON document of rows). Then 100 000 writes over 100
 * subjects, and the rows each subject holds.
 */
import type { Connection } from "../src/store/connection.ts";
import { createGroupCommit } from "../src/store/group-commit.ts";
import { createInteractionStore, type NewInteraction } from "../src/store/interactions.ts";
import { DEFAULT_POOL_SIZE } from "../src/options.ts";
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

const RAW_COLUMNS = `"subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", "receiptId", source, "legalBasis", "policyVersion"`;

/** Rows as one JSON document (times in epoch milliseconds), each with a fresh slot; read back by RAW_DOCUMENT_ROWS. */
function rawDocument(rows: NewInteraction[]): string {
  const first = rawSlot;
  rawSlot += rows.length;
  return JSON.stringify(
    rows.map((r, k) => ({
      subject: r.subjectId,
      purpose: r.purpose,
      slot: first + k,
      kind: r.kind,
      data: r.data,
      created: r.createdAt.getTime(),
      expires: r.expiresAt.getTime(),
      source: r.source,
      basis: r.legalBasis,
      version: r.policyVersion,
    })),
  );
}

const RAW_DOCUMENT_ROWS = `json_to_recordset($1::json)
  AS t(subject text, purpose text, slot int, kind text, data jsonb, created float8, expires float8, source text, basis text, version text)`;

/**
 * Two ways to send a multi-row INSERT, both prepared as record()'s statement
 * is. The baseline is whichever is faster in the run: one array per column
 * (unnest), or one JSON document of rows, as record() sends its batches.
 */
const RAW_INSERTS = {
  unnest(connection: Connection, rows: NewInteraction[]) {
    const first = rawSlot;
    rawSlot += rows.length;
    return connection.query(
      `INSERT INTO raw_interactions (${RAW_COLUMNS})
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::timestamptz[], $9::uuid[], $10::text[], $11::text[], $12::text[])`,
      [
        rows.map((r) => r.subjectId),
        rows.map((r) => r.purpose),
        rows.map((_, k) => first + k),
        rows.map((_, k) => first + k),
        rows.map((r) => r.kind),
        rows.map((r) => JSON.stringify(r.data)),
        rows.map((r) => r.createdAt.toISOString()),
        rows.map((r) => r.expiresAt.toISOString()),
        rows.map(() => null),
        rows.map((r) => r.source),
        rows.map((r) => r.legalBasis),
        rows.map((r) => r.policyVersion),
      ],
      "bench_raw_unnest",
    );
  },
  json(connection: Connection, rows: NewInteraction[]) {
    return connection.query(
      `INSERT INTO raw_interactions (${RAW_COLUMNS})
       SELECT subject, purpose, slot, slot, kind, data, to_timestamp(created / 1000), to_timestamp(expires / 1000), NULL, source, basis, version
       FROM ${RAW_DOCUMENT_ROWS}`,
      [rawDocument(rows)],
      "bench_raw_json",
    );
  },
};

type RawInsert = (typeof RAW_INSERTS)[keyof typeof RAW_INSERTS];

/**
 * The least any store with a hard per-person bound must do: write the rows
 * and, in the same transaction, touch one row per (subject, purpose) so that
 * concurrent writers to one ring are serialized (without that, two batches
 * each trimming what they can see leave more than `window` rows). Here the
 * rows are plain INSERTs (no overwrite, no trim, no consent re-check) and the
 * ring row is a counter, upserted as record() upserts its heads.
 */
function rawInsertWithRingCounter(connection: Connection, rows: NewInteraction[]) {
  return connection.query(
    `WITH t AS (SELECT * FROM ${RAW_DOCUMENT_ROWS}),
     counted AS (
       INSERT INTO raw_windows ("subjectId", purpose, "nextSeq", "window")
       SELECT subject, purpose, count(*), 0 FROM t GROUP BY subject, purpose ORDER BY subject, purpose
       ON CONFLICT ("subjectId", purpose) DO UPDATE SET "nextSeq" = raw_windows."nextSeq" + excluded."nextSeq"
     )
     INSERT INTO raw_interactions (${RAW_COLUMNS})
     SELECT subject, purpose, slot, slot, kind, data, to_timestamp(created / 1000), to_timestamp(expires / 1000), NULL, source, basis, version FROM t`,
    [rawDocument(rows)],
    "bench_raw_ring_counter",
  );
}

async function rawGrouped(connection: Connection, insert: RawInsert, total: number): Promise<number> {
  const commit = createGroupCommit<NewInteraction, true>({
    concurrency: connection.kind === "postgres" ? 2 : 1,
    flush: async (rows) => (await insert(connection, rows), rows.map(() => true as const)),
  });
  return writers(total, (i) => commit.add(row(i)));
}

async function rawBulk(connection: Connection, insert: RawInsert, total: number): Promise<number> {
  const BATCH = 256;
  let next = 0;
  const { ms } = await time(() =>
    Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < total) {
          const start = next;
          next += BATCH;
          await insert(
            connection,
            Array.from({ length: Math.min(BATCH, total - start) }, (_, k) => row(start + k)),
          );
        }
      }),
    ),
  );
  return total / (ms / 1000);
}

/** The faster of the two raw encodings, and which it was. */
async function bestRaw(measure: (insert: RawInsert) => Promise<number>): Promise<{ rate: number; encoding: string }> {
  let best = { rate: 0, encoding: "" };
  for (const [encoding, insert] of Object.entries(RAW_INSERTS)) {
    const rate = await measure(insert);
    if (rate > best.rate) best = { rate, encoding };
  }
  return best;
}

async function prismaCreates(connection: Connection, total: number): Promise<number> {
  return writers(total, (i) => {
    const { window: _w, decidedAt: _d, ...r } = row(i);
    return connection.prisma.interaction.create({
      data: { ...r, data: r.data as object, subjectId: `prisma-${i}`, slot: 0, seq: BigInt(i), receiptId: null },
    });
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
    await store.connection.query(`CREATE TABLE raw_windows (LIKE interaction_windows INCLUDING ALL)`);
    await store.connection.query(`INSERT INTO raw_windows SELECT * FROM interaction_windows`);
    const recordRate = await writers(total, (i) => interactions.record(row(i)));
    const grouped = await bestRaw((insert) => rawGrouped(store.connection, insert, total));
    const bulk = await bestRaw((insert) => rawBulk(store.connection, insert, total));
    const groupedRate = grouped.rate;
    const floorRate = await rawGrouped(store.connection, rawInsertWithRingCounter, total);
    const bulkRate = bulk.rate;
    const prismaRate = await prismaCreates(store.connection, Math.min(total, 5000));
    rows.push({
      database: label,
      "record(), rows/s": fmt(recordRate, 0),
      "raw INSERT, same writers, rows/s": `${fmt(groupedRate, 0)} (${grouped.encoding})`,
      "raw bulk INSERT, rows/s": `${fmt(bulkRate, 0)} (${bulk.encoding})`,
      "Prisma create per write, rows/s": fmt(prismaRate, 0),
      "raw INSERT + ring counter, same writers, rows/s": fmt(floorRate, 0),
      "record / raw same writers": fmt(recordRate / groupedRate, 2),
      "record / raw + ring counter": fmt(recordRate / floorRate, 2),
      "record / raw bulk": fmt(recordRate / bulkRate, 2),
      "record / Prisma create": fmt(recordRate / prismaRate, 1),
    });
    // The hard bound after 100 000 writes over 100 subjects.
    await writers(100_000, (i) => interactions.record({ ...row(i), subjectId: `bound-${i % 100}` }));
    const [counts] = await store.connection.query<{ min: number; max: number; subjects: number }>(
      `SELECT min(n)::int AS min, max(n)::int AS max, count(*)::int AS subjects FROM (SELECT count(*) AS n FROM interactions WHERE "subjectId" LIKE 'bound-%' GROUP BY "subjectId") t`,
    );
    bound.push({
      database: label,
      writes: 100_000,
      subjects: counts!.subjects,
      window: WINDOW,
      "rows per subject (min–max)": `${counts!.min}–${counts!.max}`,
    });
    await store.close();
  };
  const pg = await scratchPostgres();
  try {
    await run(
      "PostgreSQL",
      () => openStore({ kind: "postgres", url: pg.url }, { poolSize: DEFAULT_POOL_SIZE }),
      20_000,
    );
  } finally {
    await pg.drop();
  }
  await run("PGlite, memory", () => openStore({ kind: "pglite-memory" }, { poolSize: DEFAULT_POOL_SIZE }), 20_000);
  table(`record() with ${WRITERS} concurrent writers vs raw SQL and Prisma, same run`, rows);
  table("window bound after 100 000 writes", bound);
}
