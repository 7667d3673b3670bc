/**
 * `npm run bench -- traffic`: the gate at production traffic, where most
 * requests come from people whose choices are not in the consent cache
 * (issue 15).
 *  1. Over HTTP, on PostgreSQL and on PGlite (`database: "memory"`): the
 *     gated POST of bench/gate.ts (shipped policy, `POST /api/plays` mapped to
 *     personalization) in four scenarios, each as a ratio to bare Express in
 *     the same run (autocannon in this process, 20 connections, alternating
 *     rounds, each gated run compared with the bare run next to it):
 *       (a) one warm subject: every request the same subject, choices cached;
 *       (b) every request a new subject;
 *       (c) 100 000 subjects cycling, a population ten times the consent
 *           cache's default 10 000 entries (in order, so the LRU never hits);
 *       (d) (b) plus `await req.privacy.record("play", req.body)`.
 *     Every request is from US-CA, an opt-out region (policies/regions-us.yaml):
 *     personalization is allowed until the person objects, so no choice has to
 *     be made first and a new subject's write is admitted after one consent read.
 *  2. On PostgreSQL: consent reads per second through the consent cache's
 *     read path (`choices(subjectId)`, every read a miss for a subject not read
 *     before) against a raw `pg` point select of the same rows, on pools of
 *     the same size, 20 concurrent loops each.
 */
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import express from "express";
import pg from "pg";
import { silentLogger } from "../src/logger.ts";
import { DEFAULT_POOL_SIZE } from "../src/options.ts";
import { createConsentCache, MAX_STALENESS_MS } from "../src/store/consent-cache.ts";
import { parseDatabase } from "../src/store/connection.ts";
import { openStore } from "../src/store/store.ts";
import { body, gatedBenchApp } from "./gate.ts";
import { comparison, fmt, median, scratchPostgres, table } from "./support.ts";

const ROUNDS = 3;
const SECONDS = 3;
const WARMUP_SECONDS = 1;
const CONNECTIONS = 20;
/** (c): ten times the consent cache's default size (src/store/consent-cache.ts). */
const POPULATION = 100_000;
/** An opt-out region of the shipped policy (policies/regions-us.yaml). */
const REGION = "US-CA";
const SANITY_REQUESTS = 200;

/** Consent reads: seconds per run, concurrent loops, and the subjects seeded (more than any run reads). */
const READ_SECONDS = 2;
const READERS = 20;
const READ_POPULATION = 1_000_000;

/** Where each request's subject id comes from; the counters run on across rounds, so a "new" subject is never reused. */
let newSubjects = 0;
let cyclingSubjects = 0;
const subjects = {
  warm: () => "warm-listener",
  new: () => `new-${newSubjects++}`,
  cycling: () => `cycling-${cyclingSubjects++ % POPULATION}`,
};
type Subjects = () => string;

interface Run {
  requests: number;
  rate: number;
  cpuPerRequest: number;
}

/**
 * `seconds` of autocannon against `url`, each request with the subject `next()` names in `x-user`.
 * Every run, bare ones too, builds each request through setupRequest, so the client's share of the
 * process's work is the same in every run.
 */
async function load(url: string, next: Subjects, options: { seconds?: number; amount?: number }): Promise<Run> {
  const cpu = process.cpuUsage();
  const result = await autocannon({
    url: `${url}/api/plays`,
    method: "POST",
    headers: { "content-type": "application/json", "x-region": REGION },
    body: JSON.stringify(body),
    connections: CONNECTIONS,
    ...(options.amount ? { amount: options.amount } : { duration: options.seconds ?? SECONDS }),
    requests: [
      {
        setupRequest: (request) => {
          // A fresh headers object per request (autocannon merges the defaults into a new one each time).
          request.headers!["x-user"] = next();
          return request;
        },
      },
    ],
  });
  const used = process.cpuUsage(cpu);
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  return {
    requests: result.requests.total,
    rate: result.requests.average,
    cpuPerRequest: (used.user + used.system) / result.requests.total,
  };
}

const listen = (app: express.Express) => {
  const server = app.listen(0);
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
};

const SCENARIOS = [
  { key: "a", label: "(a) one warm subject" },
  { key: "b", label: "(b) a new subject per request" },
  { key: "c", label: `(c) ${POPULATION.toLocaleString("en")} subjects cycling` },
  { key: "d", label: "(d) (b) + record()" },
] as const;
type Scenario = (typeof SCENARIOS)[number]["key"];

/** Every scenario on one database; answers one table row per scenario. */
async function trafficOn(label: string, database: string): Promise<Record<string, string | number>[]> {
  const { gate, app: gatedApp } = await gatedBenchApp(database);
  const recordingApp = express();
  recordingApp.use(express.json());
  recordingApp.use(gate.middleware());
  recordingApp.post("/api/plays", async (req, res) => {
    await req.privacy.record("play", req.body);
    res.status(201).end();
  });
  // Not measured: the sanity check's app, which counts the subjects the gate saw.
  const seen = new Set<string | undefined>();
  const probeApp = express();
  probeApp.use(express.json());
  probeApp.use(gate.middleware());
  probeApp.post("/api/plays", (req, res) => {
    seen.add(req.privacy.subject);
    res.status(201).end();
  });
  const bareApp = express();
  bareApp.use(express.json());
  bareApp.post("/api/plays", (_req, res) => void res.status(201).end());

  const gated = listen(gatedApp);
  const recording = listen(recordingApp);
  const probe = listen(probeApp);
  const bare = listen(bareApp);
  try {
    // The opt-out region admits a subject with no choice: the gated POST answers 201, with record() too.
    for (const { url } of [gated, recording]) {
      const check = await fetch(`${url}/api/plays`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-region": REGION, "x-user": subjects.new() },
        body: JSON.stringify(body),
      });
      if (check.status !== 201) throw new Error(`${label}: the gated route answered ${check.status}`);
    }
    // Each request really carries the subject its scenario says.
    for (const [name, next, expected] of [
      ["warm", subjects.warm, 1],
      ["new", subjects.new, SANITY_REQUESTS],
      ["cycling", subjects.cycling, SANITY_REQUESTS],
    ] as const) {
      seen.clear();
      await load(probe.url, next, { amount: SANITY_REQUESTS });
      if (seen.size !== expected || seen.has(undefined))
        throw new Error(`${label}: ${name} subjects: the gate saw ${seen.size} distinct, expected ${expected}`);
    }

    let recorded = 0;
    const gatedRun: Record<Scenario, (seconds?: number) => Promise<Run>> = {
      a: (seconds) => load(gated.url, subjects.warm, { seconds }),
      b: (seconds) => load(gated.url, subjects.new, { seconds }),
      c: (seconds) => load(gated.url, subjects.cycling, { seconds }),
      d: async (seconds) => {
        const run = await load(recording.url, subjects.new, { seconds });
        recorded += run.requests;
        return run;
      },
    };
    const bareRun = (seconds?: number) => load(bare.url, subjects.new, { seconds });
    await bareRun(WARMUP_SECONDS);
    for (const { key } of SCENARIOS) await gatedRun[key](WARMUP_SECONDS);

    const compared = { a: comparison(), b: comparison(), c: comparison(), d: comparison(), bare: comparison() };
    // One bare run between two gated ones: each gated run is compared with the bare run next to it.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [before, after] of [
        ["a", "b"],
        ["c", "d"],
      ] as const) {
        const first = await gatedRun[before]();
        const baseline = await bareRun();
        const second = await gatedRun[after]();
        compared.bare.add(baseline, baseline);
        compared[before].add(first, baseline);
        compared[after].add(second, baseline);
      }
    }
    // Every answered (d) request stored its play (each subject new, so none was overwritten in its window).
    const stored = (await gate.store.interactions.countByPurpose()).personalization ?? 0;
    if (stored < recorded) throw new Error(`${label}: ${recorded} plays recorded, ${stored} stored`);
    return [
      { database: label, scenario: "bare Express (baseline)", ...compared.bare.columns("bare") },
      ...SCENARIOS.map(({ key, label: scenario }) => ({ database: label, scenario, ...compared[key].columns("bare") })),
    ];
  } finally {
    for (const { server } of [gated, recording, probe, bare]) server.close();
    await gate.close();
  }
}

/**
 * Consent reads per second on PostgreSQL: the consent cache's read path, every read a miss, against a
 * prepared raw point select of the same rows. Both read the next subject of one shared sequence, so no
 * subject is read twice and both see the same mix of rows.
 */
async function consentReadsOn(url: string): Promise<Record<string, string | number>[]> {
  const store = await openStore(parseDatabase(url), { poolSize: DEFAULT_POOL_SIZE });
  const raw = new pg.Pool({ connectionString: url, max: DEFAULT_POOL_SIZE });
  // The cache as a gate makes it, with the option defaults.
  const cache = createConsentCache(store.connection, {
    subjects: 10_000,
    timeoutMs: 2000,
    maxStalenessMs: MAX_STALENESS_MS,
    logger: silentLogger,
  });
  try {
    // A realistic mix: most people never make a choice (70 % no row); 10 % granted personalization,
    // 10 % withdrew it, 10 % granted it and refused advertising.
    await store.connection.query(
      `INSERT INTO consent_state ("subjectId", purpose, granted, "overrideGpc", "receiptId", "policyVersion", "updatedAt")
       SELECT 'reader-' || i, c.purpose, c.granted, false, gen_random_uuid(), 'bench', now()
       FROM generate_series(0, $1::int - 1) i
       JOIN (VALUES (0, 'personalization', true), (1, 'personalization', false),
                    (2, 'personalization', true), (2, 'advertising', false)) c(kind, purpose, granted)
         ON i % 10 = c.kind`,
      [READ_POPULATION],
    );
    await store.connection.query("ANALYZE consent_state");
    const point = (subjectId: string) =>
      raw.query({
        name: "bench_consent_point",
        text: `SELECT purpose, granted, "overrideGpc", "receiptId", "updatedAt" FROM consent_state WHERE "subjectId" = $1`,
        values: [subjectId],
      });
    // Both paths read the same rows (subjects at the end of the population, which the loops below do not reach).
    for (const [i, rows] of [
      [READ_POPULATION - 8, 2],
      [READ_POPULATION - 9, 1],
      [READ_POPULATION - 5, 0],
    ] as const) {
      const subjectId = `reader-${i}`;
      const viaCache = (await cache.choices(subjectId)).size;
      const viaRaw = (await point(subjectId)).rowCount;
      if (viaCache !== rows || viaRaw !== rows)
        throw new Error(
          `${subjectId}: the cache read ${viaCache} choices, the point select ${viaRaw}, expected ${rows}`,
        );
    }

    let next = 0;
    let wrapped = false;
    const nextSubject = () => {
      if (next === READ_POPULATION - 10) wrapped = true;
      return `reader-${next++ % READ_POPULATION}`;
    };
    const loops = async (seconds: number, read: (subjectId: string) => Promise<unknown>) => {
      let reads = 0;
      const start = performance.now();
      const end = start + seconds * 1000;
      await Promise.all(
        Array.from({ length: READERS }, async () => {
          while (performance.now() < end) {
            await read(nextSubject());
            reads++;
          }
        }),
      );
      return reads / ((performance.now() - start) / 1000);
    };
    const viaCache = (seconds = READ_SECONDS) => loops(seconds, (subjectId) => cache.choices(subjectId));
    const viaRaw = (seconds = READ_SECONDS) => loops(seconds, point);
    await viaCache(WARMUP_SECONDS);
    await viaRaw(WARMUP_SECONDS);
    const rates = { cache: [] as number[], raw: [] as number[] };
    const ratios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternating which goes first, so neither always runs on the other's heels.
      let cacheRate: number;
      let rawRate: number;
      if (round % 2 === 0) {
        rawRate = await viaRaw();
        cacheRate = await viaCache();
      } else {
        cacheRate = await viaCache();
        rawRate = await viaRaw();
      }
      rates.cache.push(cacheRate);
      rates.raw.push(rawRate);
      ratios.push(cacheRate / rawRate);
    }
    if (wrapped)
      throw new Error(`more than ${READ_POPULATION - 10} reads: raise READ_POPULATION so every read is a miss`);
    return [
      {
        "read path": `raw pg point select, prepared (baseline)`,
        "reads/s": fmt(median(rates.raw), 0),
        "× raw": "1.00",
      },
      {
        "read path": "consent cache choices(), every read a miss",
        "reads/s": fmt(median(rates.cache), 0),
        "× raw": fmt(median(ratios), 2),
      },
    ];
  } finally {
    await cache.close();
    await raw.end();
    await store.close();
  }
}

export async function benchTraffic(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  let reads: Record<string, string | number>[];
  const scratch = await scratchPostgres();
  try {
    rows.push(...(await trafficOn("PostgreSQL", scratch.url)));
    reads = await consentReadsOn(scratch.url);
  } finally {
    await scratch.drop();
  }
  rows.push(...(await trafficOn("PGlite (memory)", "memory")));
  table(
    `gated POST at production traffic vs bare Express (shipped policy, every request from ${REGION}, an opt-out region; autocannon, ${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} alternating rounds; medians, and medians of per-round ratios against the bare run next to each gated run; "× bare (CPU)" is bare's CPU time per request over the app's)`,
    rows,
  );
  console.log(
    `\nChecked before measuring, on each database: the gated POST answers 201 (with record() too) for a subject with no choice; ${SANITY_REQUESTS} requests per scenario through the gate, all 2xx, carried 1 distinct subject for (a) and ${SANITY_REQUESTS} for (b) and (c) (counted from req.privacy.subject). After measuring: every answered (d) request's play is in the store.`,
  );
  table(
    `consent reads per second on PostgreSQL (${READERS} concurrent loops for ${READ_SECONDS} s × ${ROUNDS} alternating rounds, pools of ${DEFAULT_POOL_SIZE} connections, each read a subject not read before; 70 % of subjects have no row, 20 % one, 10 % two; median of per-round ratios)`,
    reads,
  );
}
