/**
 * `npm run bench -- reads` (diagnostic, run only when named): each read made
 * per request on the hot path, as the store makes it (a prepared statement)
 * against the Prisma call it replaced, in the same run on the same rows, on
 * PostgreSQL and on PGlite in memory:
 *  - recent(): req.privacy.recent(purpose), a ring's newest rows;
 *  - held: the privacy center's count of unexpired rows per purpose;
 *  - latest receipts and latest requests: the privacy center's lists, each a
 *    page with the total beside it (Prisma: a findMany and a count);
 *  - choices: a subject's consent choices on a cache miss, behind the gate,
 *    GET /consents and the center (loadChoices, the consent cache's prepared
 *    ANY($1) read with one subject) against the Prisma findMany it replaced.
 * Time per read, one caller awaiting each read in turn and then 20 callers at
 * once (a busy server), the median of alternating rounds; ratios are the
 * prepared read's time over Prisma's. Before timing, each read's answers are
 * checked equal to Prisma's for a sample of subjects.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { DEFAULT_POOL_SIZE } from "../src/options.ts";
import type { Connection } from "../src/store/connection.ts";
import { createConsentStore, loadChoices } from "../src/store/consents.ts";
import { createInteractionStore, toInteraction } from "../src/store/interactions.ts";
import { createRequests, requestViewOf } from "../src/store/requests.ts";
import { openStore } from "../src/store/store.ts";
import { fmt, median, scratchPostgres, table, time } from "./support.ts";

const SUBJECTS = 1000;
const PURPOSES = ["personalization", "analytics", "advertising"];
/** Rows per ring (subject and purpose), the oldest EXPIRED of them expired. */
const WINDOW = 50;
const EXPIRED = 5;
const EVENTS = 40;
const REQUESTS = 5;
/** What the privacy center lists by default (its `latest` option). */
const LATEST = 20;
const CALLERS = 20;
const ROUNDS = 5;
const CALLS = { 1: 200, [CALLERS]: 1000 } as Record<number, number>;

const subjectAt = (i: number) => `subject-${i}`;

type Read = {
  name: string;
  prisma: (subject: string) => Promise<unknown>;
  prepared: (subject: string) => Promise<unknown>;
};

function reads(connection: Connection, now: Date): Read[] {
  const { prisma } = connection;
  const interactions = createInteractionStore(connection);
  const consents = createConsentStore(connection);
  const requests = createRequests(connection);
  return [
    {
      name: `recent(), limit ${WINDOW}`,
      prisma: async (subjectId) =>
        (
          await prisma.interaction.findMany({
            where: { subjectId, purpose: "personalization", expiresAt: { gt: now } },
            orderBy: { seq: "desc" },
            take: WINDOW,
          })
        ).map(toInteraction),
      prepared: (subjectId) => interactions.recent(subjectId, "personalization", { limit: WINDOW, now }),
    },
    {
      name: "held per purpose (privacy center)",
      prisma: async (subjectId) => {
        const groups = await prisma.interaction.groupBy({
          by: ["purpose"],
          _count: { _all: true },
          where: { subjectId, expiresAt: { gt: now } },
        });
        return Object.fromEntries(groups.map((g) => [g.purpose, g._count._all]));
      },
      prepared: (subjectId) => interactions.countByPurpose({ subjectId, unexpiredAt: now }),
    },
    {
      name: `latest ${LATEST} receipts and total (privacy center)`,
      prisma: async (subjectId) => {
        const [events, total] = await Promise.all([
          prisma.consentEvent.findMany({ where: { subjectId }, orderBy: { seq: "desc" }, take: LATEST }),
          prisma.consentEvent.count({ where: { subjectId } }),
        ]);
        return { events, total };
      },
      prepared: (subjectId) => consents.latest(subjectId, LATEST),
    },
    {
      name: `latest ${LATEST} requests and total (privacy center)`,
      prisma: async (subjectId) => {
        const [rows, total] = await Promise.all([
          prisma.privacyRequest.findMany({
            where: { subjectId },
            orderBy: [{ receivedAt: "desc" }, { id: "asc" }],
            take: LATEST,
          }),
          prisma.privacyRequest.count({ where: { subjectId } }),
        ]);
        return { requests: rows.map(requestViewOf), total };
      },
      prepared: (subjectId) => requests.latestForSubject(subjectId, LATEST),
    },
    {
      name: "choices on a cache miss, one subject (the gate, GET /consents)",
      prisma: async (subjectId) =>
        (await prisma.consentState.findMany({ where: { subjectId } }))
          .map((r) => ({
            purpose: r.purpose,
            granted: r.granted,
            overrideGpc: r.overrideGpc,
            receiptId: r.receiptId,
            at: r.updatedAt,
          }))
          .sort(byPurpose),
      prepared: async (subjectId) =>
        [...(await loadChoices(connection, subjectId))]
          .map(([purpose, choice]) => ({ purpose, ...choice }))
          .sort(byPurpose),
    },
  ];
}

const byPurpose = (a: { purpose: string }, b: { purpose: string }) => (a.purpose < b.purpose ? -1 : 1);

/** SUBJECTS subjects, each with a full ring per purpose, EVENTS choices, REQUESTS requests and a choice per purpose. */
async function seed(connection: Connection, now: Date): Promise<void> {
  const at = now.toISOString();
  await connection.query(
    `INSERT INTO interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", "receiptId",
                               source, "legalBasis", "policyVersion", region)
     SELECT 'subject-' || s, p, k, k, 'play',
            jsonb_build_object('itemId', 'trk_' || k, 'action', 'play', 'durationMs', 183000, 'location', 'u09tu'),
            $1::timestamptz - make_interval(mins => $3 - k),
            CASE WHEN k < $4 THEN $1::timestamptz - interval '1 second' ELSE $1::timestamptz + interval '90 days' END,
            CASE WHEN p = 'personalization' THEN gen_random_uuid() END, 'explicit', 'consent', 'bench', 'EU'
     FROM generate_series(0, $2 - 1) s, unnest($5::text[]) p, generate_series(0, $3 - 1) k`,
    [at, SUBJECTS, WINDOW, EXPIRED, PURPOSES],
  );
  await connection.query(
    `INSERT INTO consent_events (id, "subjectId", purpose, granted, "overrideGpc", gpc, region, "policyVersion",
                                 "actorId", signature, at)
     SELECT gen_random_uuid(), 'subject-' || s, ($4::text[])[1 + e % 3], e % 2 = 0, false, e % 5 = 0, 'EU', 'bench',
            CASE WHEN e % 4 = 0 THEN 'agent-1' END, md5(s || ':' || e) || md5(e || ':' || s),
            $1::timestamptz - make_interval(mins => $3 - e)
     FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) e
     ORDER BY s, e`,
    [at, SUBJECTS, EVENTS, PURPOSES],
  );
  // Two requests of each subject received in the same millisecond: the id breaks the tie.
  await connection.query(
    `INSERT INTO privacy_requests (id, "subjectId", type, status, region, "actorId", "receivedAt", "dueAt",
                                   "completedAt", details)
     SELECT gen_random_uuid(), 'subject-' || s, CASE WHEN r % 2 = 0 THEN 'export' ELSE 'erasure' END, 'completed',
            'EU', NULL, $1::timestamptz - make_interval(days => $3 - least(r, $3 - 2)),
            $1::timestamptz - make_interval(days => $3 - least(r, $3 - 2)) + interval '30 days',
            $1::timestamptz - make_interval(days => $3 - least(r, $3 - 2)) + interval '1 minute',
            jsonb_build_object('format', 'json', 'sources', jsonb_build_array('consentgate'))
     FROM generate_series(0, $2 - 1) s, generate_series(0, $3 - 1) r`,
    [at, SUBJECTS, REQUESTS],
  );
  await connection.query(
    `INSERT INTO consent_state ("subjectId", purpose, granted, "overrideGpc", "receiptId", "policyVersion", "updatedAt")
     SELECT 'subject-' || s, p, true, false, gen_random_uuid(), 'bench', $1::timestamptz
     FROM generate_series(0, $2 - 1) s, unnest($3::text[]) p`,
    [at, SUBJECTS, PURPOSES],
  );
  await connection.query(`ANALYZE`);
}

/** Microseconds per read: `calls` reads of random subjects by `callers` callers, each awaiting its reads in turn. */
async function perRead(read: (subject: string) => Promise<unknown>, callers: number, calls: number): Promise<number> {
  let next = 0;
  const { ms } = await time(() =>
    Promise.all(
      Array.from({ length: callers }, async () => {
        while (next++ < calls) await read(subjectAt(randomInt(SUBJECTS)));
      }),
    ),
  );
  return (ms * 1000) / calls;
}

async function measure(label: string, connection: Connection): Promise<Record<string, string | number>[]> {
  const now = new Date();
  await seed(connection, now);
  const rows: Record<string, string | number>[] = [];
  for (const read of reads(connection, now)) {
    for (let i = 0; i < 20; i++) {
      const subject = subjectAt(randomInt(SUBJECTS));
      assert.deepStrictEqual(await read.prepared(subject), await read.prisma(subject), `${read.name}: ${subject}`);
    }
    await perRead(read.prisma, 1, 100); // warm-up
    await perRead(read.prepared, 1, 100);
    const row: Record<string, string | number> = { database: label, read: read.name };
    for (const callers of [1, CALLERS]) {
      const prisma: number[] = [];
      const prepared: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        prisma.push(await perRead(read.prisma, callers, CALLS[callers]!));
        prepared.push(await perRead(read.prepared, callers, CALLS[callers]!));
      }
      const by = callers === 1 ? "1 caller" : `${callers} callers`;
      row[`Prisma, µs/read, ${by}`] = fmt(median(prisma), 0);
      row[`prepared, µs/read, ${by}`] = fmt(median(prepared), 0);
      row[`prepared / Prisma, ${by}`] = fmt(median(prepared) / median(prisma), 2);
    }
    rows.push(row);
  }
  return rows;
}

export async function benchReads(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const pg = await scratchPostgres();
  try {
    const store = await openStore({ kind: "postgres", url: pg.url }, { poolSize: DEFAULT_POOL_SIZE });
    try {
      rows.push(...(await measure("PostgreSQL", store.connection)));
    } finally {
      await store.close();
    }
  } finally {
    await pg.drop();
  }
  const store = await openStore({ kind: "pglite-memory" }, { poolSize: DEFAULT_POOL_SIZE });
  try {
    rows.push(...(await measure("PGlite, memory", store.connection)));
  } finally {
    await store.close();
  }
  table(
    `Per-request reads: prepared statement vs the Prisma call, ${SUBJECTS} subjects, median of ${ROUNDS} rounds`,
    rows,
  );
}
