/**
 * `npm run bench -- learning-cost`: what federated learning costs the server,
 * for a 2 000 items × 16 dimensions model (32 000 float32 values, 128 KiB an
 * update, 171 kB of JSON).
 *  1. Accepting updates: `POST /privacy/learning/recommender/updates` through
 *     a real gate (every request a new subject in an opt-out region, so each
 *     is decided, validated, and stored), against a bare Express route that
 *     parses the same body with express.json, in the same process
 *     (autocannon, 10 connections, alternating rounds). On PostgreSQL and on
 *     PGlite.
 *  2. Aggregating a round of 2 000 updates on PostgreSQL (the learning job:
 *     block reads, clipping, the mean and the trimmed mean, the exact noise,
 *     the publish): its time against a plain in-memory mean of the same
 *     updates already in memory, and the job's peak memory above the
 *     process's baseline (heap + array buffers, sampled every 2 ms) against the
 *     updates' total size (256 MB).
 */
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import express from "express";
import { createConsentgate } from "../src/index.ts";
import { silentLogger } from "../src/logger.ts";
import { createKeyring } from "../src/signatures/hmac.ts";
import { createComplianceLog } from "../src/audit/log.ts";
import { createComplianceLogStore } from "../src/store/compliance-log.ts";
import { createLearningStore } from "../src/store/learning.ts";
import { parseDatabase } from "../src/store/connection.ts";
import { openStore } from "../src/store/store.ts";
import { defineModel } from "../src/learning/models.ts";
import { runLearning } from "../src/learning/rounds.ts";
import { loadPolicy } from "../src/policy/load.ts";
import { fmt, median, scratchPostgres, table } from "./support.ts";

const ITEMS = Array.from({ length: 2000 }, (_, i) => `track-${i}`);
const DIMENSIONS = 16;
const VALUES = ITEMS.length * DIMENSIONS;
const SECRET = "bench-secret-bench-secret-bench-secret";
const ROUNDS = 3;
const SECONDS = 3;
const CONNECTIONS = 10;
const PARTICIPANTS = 2000;

const policy = (aggregation: "mean" | "trimmed-mean") => ({
  version: "bench",
  defaults: { region: "US-CA" },
  regionHeader: "x-region",
  purposes: {
    "on-device": {
      description: "Recommend music on your device; your plays never leave it",
      legalBasis: "consent",
      learning: {
        model: "recommender",
        dimensions: DIMENSIONS,
        round: { minClients: 1_000_000, maxOpen: "1d" },
        clip: 1,
        aggregation,
        ...(aggregation === "trimmed-mean" ? { trim: 0.1 } : {}),
        noise: 1,
        budget: { epsilon: 100, delta: 1e-6 },
      },
    },
  },
  regions: {
    "US-CA": {
      countries: ["US-CA"],
      model: "opt-out",
      frameworks: ["CCPA"],
      requestDeadline: "45d",
      logRetention: "24mo",
    },
  },
});

/** A deterministic update of norm ≤ 1 (the bench's data, not noise: no privacy rides on it). */
function update(seed: number): Float32Array {
  const values = new Float32Array(VALUES);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < VALUES; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    values[i] = (x / 2147483648 - 0.5) * 0.01;
  }
  return values;
}

const body = JSON.stringify({ round: 1, delta: Buffer.from(update(1).buffer).toString("base64") });

async function listen(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let subjects = 0;
async function load(url: string, path: string): Promise<number> {
  const result = await autocannon({
    url: `${url}${path}`,
    method: "POST",
    headers: { "content-type": "application/json", "x-region": "US-CA" },
    body,
    connections: CONNECTIONS,
    duration: SECONDS,
    // Every run, bare ones too, names a new subject per request: the client's work is the same in both.
    requests: [
      {
        setupRequest: (request) => {
          request.headers!["x-user"] = `device-${subjects++}`;
          return request;
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

async function benchAccepting(database: string, label: string): Promise<Record<string, string | number>> {
  const gate = await createConsentgate({
    policies: policy("trimmed-mean"),
    database,
    secret: SECRET,
    subject: (req) => req.get("x-user"),
    logger: silentLogger,
  });
  await gate.learning.define("recommender", { items: () => ITEMS });
  const gated = express();
  gated.use(gate.middleware());
  gated.use("/privacy", gate.router());
  const bare = express();
  bare.post("/updates", express.json({ limit: "1mb" }), (req, res) => {
    res.status(202).json({ round: (req.body as { round: number }).round });
  });
  const servers = [await listen(gated), await listen(bare)];
  const ratios: number[] = [];
  const rates: number[][] = [[], []];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const bareRate = await load(servers[1]!.url, "/updates");
      const gatedRate = await load(servers[0]!.url, "/privacy/learning/recommender/updates");
      rates[0]!.push(gatedRate);
      rates[1]!.push(bareRate);
      ratios.push(gatedRate / bareRate);
    }
  } finally {
    for (const server of servers) await server.close();
    await gate.close();
  }
  return {
    database: label,
    "gated updates/s": fmt(median(rates[0]!), 0),
    "bare parse/s": fmt(median(rates[1]!), 0),
    "ratio (median of rounds)": fmt(median(ratios), 2),
  };
}

/** Samples heap + array buffers every 2 ms while `run` runs; answers the peak above the level before it. */
async function peakMemory<T>(run: () => Promise<T>): Promise<{ value: T; peak: number; ms: number }> {
  global.gc?.();
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const base = used();
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, used() - base);
  }, 2);
  const start = performance.now();
  try {
    const value = await run();
    return { value, peak: Math.max(peak, used() - base), ms: performance.now() - start };
  } finally {
    clearInterval(timer);
  }
}

async function benchAggregating(): Promise<Record<string, string | number>[]> {
  const rows: Record<string, string | number>[] = [];
  for (const aggregation of ["mean", "trimmed-mean"] as const) {
    const scratch = await scratchPostgres();
    const store = await openStore(parseDatabase(scratch.url), { poolSize: 4 });
    try {
      const keyring = createKeyring(SECRET);
      const log = createComplianceLog(createComplianceLogStore(store.connection), {
        pseudonym: keyring.pseudonym,
        chainKey: keyring.key("log-chain"),
        now: () => new Date(),
      });
      const compiled = await loadPolicy({
        ...policy(aggregation),
        purposes: {
          "on-device": {
            ...policy(aggregation).purposes["on-device"],
            legalBasis: "legitimate-interest",
            learning: {
              ...policy(aggregation).purposes["on-device"].learning,
              round: { minClients: PARTICIPANTS, maxOpen: "1d" },
            },
          },
        },
      });
      const learning = createLearningStore(store.connection);
      const deps = { policy: compiled, store: learning, log, now: () => new Date() };
      await defineModel(deps, "recommender", { items: () => ITEMS });
      for (let i = 0; i < PARTICIPANTS; i++) {
        await learning.submit({
          subjectId: `device-${String(i).padStart(5, "0")}`,
          model: "recommender",
          round: 1,
          purpose: "on-device",
          delta: Buffer.from(update(i).buffer).toString("base64"),
          now: new Date(),
          decision: { receiptId: undefined, at: new Date() },
        });
      }
      const job = await peakMemory(() => runLearning(deps, new Date()));
      const outcome = job.value.models[0];
      if (outcome?.outcome !== "published") throw new Error(`the round was not published: ${JSON.stringify(outcome)}`);
      // The baseline: the same updates already in memory, one plain mean (no database, no clipping, no noise).
      const inMemory = Array.from({ length: PARTICIPANTS }, (_, i) => update(i));
      const start = performance.now();
      const mean = new Float64Array(VALUES);
      for (const values of inMemory) for (let j = 0; j < VALUES; j++) mean[j]! += values[j]!;
      for (let j = 0; j < VALUES; j++) mean[j]! /= PARTICIPANTS;
      const plainMs = performance.now() - start;
      const total = PARTICIPANTS * VALUES * 4;
      rows.push({
        aggregation,
        "job ms": fmt(job.ms, 0),
        "plain in-memory mean ms": fmt(plainMs, 0),
        ratio: fmt(job.ms / plainMs, 1),
        "peak MB": fmt(job.peak / 2 ** 20, 1),
        "updates MB": fmt(total / 2 ** 20, 0),
        "peak / updates": `${fmt((100 * job.peak) / total, 1)} %`,
      });
    } finally {
      await store.close();
      await scratch.drop();
    }
  }
  return rows;
}

export async function benchLearningCost(): Promise<void> {
  const scratch = await scratchPostgres();
  try {
    table("Accepting updates (2 000 × 16 model): gated POST vs bare Express parsing the same body", [
      await benchAccepting(scratch.url, "PostgreSQL"),
      await benchAccepting("memory", "PGlite (memory)"),
    ]);
  } finally {
    await scratch.drop();
  }
  table(
    "Aggregating a round of 2 000 updates on PostgreSQL: the learning job vs a plain in-memory mean",
    await benchAggregating(),
  );
}
