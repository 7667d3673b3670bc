/**
 * What `gate.metrics()` costs on the write path: two gates in one process,
 * the same app on each (a gated POST that records the play), one with its
 * metrics on a registry and one without, loaded with autocannon in
 * alternating rounds so drift in machine load cancels out. Every request
 * counts a decision, a consent-cache lookup and a record's wait, and its
 * batch's size.
 */
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import express from "express";
import { Registry } from "prom-client";
import { type Consentgate, createConsentgate } from "../src/index.ts";
import { body } from "./gate.ts";
import { fmt, median, table } from "./support.ts";

const SECRET = "bench-secret-bench-secret-bench-secret";
const ROUNDS = 5;
const SECONDS = 3;

async function recordingApp(): Promise<{ gate: Consentgate; app: express.Express }> {
  const gate = await createConsentgate({
    policies: "policies",
    database: "memory",
    secret: SECRET,
    subject: (req) => req.get("x-user"),
  });
  const app = express();
  app.use(express.json());
  app.use(gate.middleware());
  app.use("/privacy", gate.router());
  app.post("/api/plays", async (req, res) => {
    await req.privacy.record("play", req.body);
    res.status(201).end();
  });
  return { gate, app };
}

export async function benchMetrics(): Promise<void> {
  const off = await recordingApp();
  const on = await recordingApp();
  const registry = on.gate.metrics(new Registry());
  const servers = [off.app.listen(0), on.app.listen(0)];
  const url = (i: number) => `http://127.0.0.1:${(servers[i]!.address() as AddressInfo).port}`;
  const headers = { "content-type": "application/json", "x-user": "bench-listener", "x-region": "DE" };
  for (const i of [0, 1]) {
    await fetch(`${url(i)}/privacy/consents/personalization`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ granted: true }),
    });
  }
  const run = async (i: number) => {
    const cpu = process.cpuUsage();
    const result = await autocannon({
      url: `${url(i)}/api/plays`,
      method: "POST",
      headers,
      body: JSON.stringify(body),
      connections: 20,
      duration: SECONDS,
    });
    const used = process.cpuUsage(cpu);
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
    return { rate: result.requests.average, cpuPerRequest: (used.user + used.system) / result.requests.total };
  };
  await run(0);
  await run(1);
  const rates = { off: [] as number[], on: [] as number[] };
  const cpu = { off: [] as number[], on: [] as number[] };
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const a = await run(0);
    const b = await run(1);
    rates.off.push(a.rate);
    rates.on.push(b.rate);
    cpu.off.push(a.cpuPerRequest);
    cpu.on.push(b.cpuPerRequest);
    ratios.push(b.rate / a.rate);
    cpuRatios.push(a.cpuPerRequest / b.cpuPerRequest);
  }
  // A scrape at the end, so the counted metrics are known to be the ones served.
  if (!(await registry.metrics()).includes("consentgate_decisions_total")) throw new Error("no metrics served");
  for (const server of servers) server.close();
  await Promise.all([off.gate.close(), on.gate.close()]);
  table(
    `gated, recording POST with gate.metrics() on vs off (autocannon, 20 connections, ${SECONDS} s × ${ROUNDS} alternating rounds; medians, and medians of per-round ratios; "× off (CPU)" is off's CPU time per request over on's)`,
    [
      {
        app: "metrics off (baseline)",
        "req/s": fmt(median(rates.off), 0),
        "× off": "1.00",
        "CPU µs/req": fmt(median(cpu.off), 0),
        "× off (CPU)": "1.00",
      },
      {
        app: "gate.metrics(registry)",
        "req/s": fmt(median(rates.on), 0),
        "× off": fmt(median(ratios), 2),
        "CPU µs/req": fmt(median(cpu.on), 0),
        "× off (CPU)": fmt(median(cpuRatios), 2),
      },
    ],
  );
}
