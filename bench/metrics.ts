/**
 * What `gate.metrics()` costs on the write path: two gates in one process,
 * the same app on each (a gated POST that records the play), one with its
 * metrics on a registry and one without, loaded with autocannon in
 * alternating rounds so drift in machine load cancels out. Every request
 * counts a decision, a consent-cache lookup and a record's wait, and its
 * batch's size.
 */
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { gatedBenchApp, grantPersonalization, loadPlays } from "./gate.ts";
import { comparison, table } from "./support.ts";

const ROUNDS = 5;
const SECONDS = 3;

/** The gated app whose POST records the play, so that a record's wait and its batch are counted too. */
const recordingApp = () =>
  gatedBenchApp("memory", async (req, res) => {
    await req.privacy.record("play", req.body);
    res.status(201).end();
  });

export async function benchMetrics(): Promise<void> {
  const off = await recordingApp();
  const on = await recordingApp();
  const registry = on.gate.metrics(new Registry());
  const servers = [off.app.listen(0), on.app.listen(0)];
  const url = (i: number) => `http://127.0.0.1:${(servers[i]!.address() as AddressInfo).port}`;
  for (const i of [0, 1]) await grantPersonalization(url(i));
  const run = (i: number) => loadPlays(url(i), SECONDS);
  await run(0);
  await run(1);
  const withoutMetrics = comparison();
  const withMetrics = comparison();
  for (let round = 0; round < ROUNDS; round++) {
    const a = await run(0);
    const b = await run(1);
    withoutMetrics.add(a, a);
    withMetrics.add(b, a);
  }
  // A scrape at the end, so the counted metrics are known to be the ones served.
  if (!(await registry.metrics()).includes("consentgate_decisions_total")) throw new Error("no metrics served");
  for (const server of servers) server.close();
  await Promise.all([off.gate.close(), on.gate.close()]);
  table(
    `gated, recording POST with gate.metrics() on vs off (autocannon, 20 connections, ${SECONDS} s × ${ROUNDS} alternating rounds; medians, and medians of per-round ratios; "× off (CPU)" is off's CPU time per request over on's)`,
    [
      { app: "metrics off (baseline)", ...withoutMetrics.columns("off") },
      { app: "gate.metrics(registry)", ...withMetrics.columns("off") },
    ],
  );
}
