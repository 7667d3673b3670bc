/**
 * The write gate's cost.
 *  1. In process: the decision rules plus the purpose's minimizer for one
 *     ten-field write, against structuredClone of the same body.
 *  2. Over HTTP: a gated POST (warm consent cache, ten-field body, the
 *     policy's route map) against the same route without the gate, in the
 *     same process and the same run, with autocannon, alternating rounds;
 *     plus the route behind one empty async middleware, to show the noise.
 *     Besides req/s, the process's CPU time per request (autocannon's share
 *     included, the same for every app): on a machine shared with other work,
 *     req/s moves with their load, CPU time much less.
 */
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import express from "express";
import { decide } from "../src/decision/decide.ts";
import { type Consentgate, createConsentgate } from "../src/index.ts";
import { compileMinimizer } from "../src/minimize/index.ts";
import { loadPolicy } from "../src/policy/load.ts";
import { comparison, fmt, type LoadRun, median, table } from "./support.ts";

const SECRET = "bench-secret-bench-secret-bench-secret";
const ROUNDS = 5;
const SECONDS = 3;

/** The 10-field play both gate benches send. */
export const body = {
  itemId: "trk_1234",
  action: "play",
  durationMs: 183_456,
  location: { lat: 48.8584, lon: 2.2945 },
  userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
  device: { os: "android", model: "Pixel 8" },
  sessionId: "sess-9f8e7d",
  referrer: "https://example.com/playlists/42",
  volume: 0.8,
  shuffle: false,
};

export async function benchGateInProcess(): Promise<void> {
  const policy = await loadPolicy("policies");
  const purpose = policy.purposes.personalization!;
  const minimize = compileMinimizer(purpose.fields, { hashKey: SECRET });
  const choice = {
    granted: true,
    overrideGpc: false,
    receiptId: "00000000-0000-4000-8000-000000000000",
    at: new Date(),
  };
  const measure = (run: () => unknown) => {
    const samples: number[] = [];
    for (let round = 0; round < 7; round++) {
      const n = 50_000;
      const start = performance.now();
      for (let i = 0; i < n; i++) run();
      samples.push(((performance.now() - start) * 1e6) / n);
    }
    return median(samples);
  };
  const gate = measure(() => {
    const decision = decide({ policy, purpose: "personalization", region: "EU", gpc: false, choice });
    if (decision.allowed) minimize(body);
  });
  const decisionOnly = measure(() => decide({ policy, purpose: "personalization", region: "EU", gpc: false, choice }));
  const clone = measure(() => structuredClone(body));
  table("decision + minimization, one 10-field write (shipped personalization purpose), median of 7", [
    { step: "decide()", "ns/write": fmt(decisionOnly, 0), "× structuredClone": fmt(decisionOnly / clone, 2) },
    { step: "decide() + minimize()", "ns/write": fmt(gate, 0), "× structuredClone": fmt(gate / clone, 2) },
    { step: "structuredClone(body) (baseline)", "ns/write": fmt(clone, 0), "× structuredClone": "1.00" },
  ]);
}

/**
 * The measured app: the shipped policy, the gate's middleware and router, a gated POST that does nothing else
 * unless given its handler (bench/metrics.ts records the play). In memory unless given a database
 * (bench/traffic.ts runs it on PostgreSQL too).
 */
export async function gatedBenchApp(
  database = "memory",
  plays: express.RequestHandler = (_req, res) => void res.status(201).end(),
): Promise<{ gate: Consentgate; app: express.Express }> {
  const gate = await createConsentgate({
    policies: "policies",
    database,
    secret: SECRET,
    subject: (req) => req.get("x-user"),
  });
  const app = express();
  app.use(express.json());
  app.use(gate.middleware());
  app.use("/privacy", gate.router());
  app.post("/api/plays", plays);
  return { gate, app };
}

/** Every benched request's headers: a JSON body from one listener, in Germany. */
export const listener = { "content-type": "application/json", "x-user": "bench-listener", "x-region": "DE" };

/** Lets the listener's plays through the gated app at `url`: personalization granted, as a consent banner would. */
export async function grantPersonalization(url: string): Promise<void> {
  await fetch(`${url}/privacy/consents/personalization`, {
    method: "PUT",
    headers: listener,
    body: JSON.stringify({ granted: true }),
  });
}

/**
 * `seconds` of autocannon (20 connections, in this process) POSTing the play to `url`/api/plays; throws on
 * any non-2xx answer or error. Returns req/s and the process's CPU time per request (µs, autocannon's share
 * included, the same for every app measured).
 */
export async function loadPlays(url: string, seconds: number): Promise<LoadRun> {
  const cpu = process.cpuUsage();
  const result = await autocannon({
    url: `${url}/api/plays`,
    method: "POST",
    headers: listener,
    body: JSON.stringify(body),
    connections: 20,
    duration: seconds,
  });
  const used = process.cpuUsage(cpu);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rate: result.requests.average, cpuPerRequest: (used.user + used.system) / result.requests.total };
}

export async function benchGateHttp(): Promise<void> {
  const { gate, app: gated } = await gatedBenchApp();
  const bare = express();
  bare.use(express.json());
  bare.post("/api/plays", (_req, res) => void res.status(201).end());

  const noop = express();
  noop.use(express.json());
  noop.use(async (_req, _res, next) => next());
  noop.use("/privacy", express.Router());
  noop.post("/api/plays", (_req, res) => void res.status(201).end());
  const servers = [gated.listen(0), bare.listen(0), noop.listen(0)];
  const url = (i: number) => `http://127.0.0.1:${(servers[i]!.address() as AddressInfo).port}`;
  await grantPersonalization(url(0));
  const check = await fetch(`${url(0)}/api/plays`, { method: "POST", headers: listener, body: JSON.stringify(body) });
  if (check.status !== 201) throw new Error(`gated route answered ${check.status}`);

  const run = (i: number) => loadPlays(url(i), SECONDS);
  await run(0);
  await run(1);
  // Rounds alternate and each is compared with the bare run next to it, so drift in machine load cancels out.
  const compared = { bare: comparison(), gated: comparison(), noop: comparison() };
  for (let round = 0; round < ROUNDS; round++) {
    const b = await run(1);
    const g = await run(0);
    const n = await run(2);
    compared.bare.add(b, b);
    compared.gated.add(g, b);
    compared.noop.add(n, b);
  }
  for (const server of servers) server.close();
  await gate.close();
  table(
    `gated POST vs bare Express (autocannon, 20 connections, ${SECONDS} s × ${ROUNDS} alternating rounds; medians, and medians of per-round ratios; "× bare (CPU)" is bare's CPU time per request over the app's)`,
    [
      { app: "bare Express (baseline)", ...compared.bare.columns("bare") },
      { app: "bare + one empty async middleware (noise floor)", ...compared.noop.columns("bare") },
      { app: "with gate.middleware() + route map", ...compared.gated.columns("bare") },
    ],
  );
}
