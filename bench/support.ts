/** Small helpers shared by the benchmarks: timing, percentiles, a scratch PostgreSQL database. */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import pg from "pg";

export const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export async function time<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await run();
  return { ms: performance.now() - start, value };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Makes a database for one benchmark and returns its URL and a function that drops it. */
export async function scratchPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `consentgate_bench_${randomBytes(4).toString("hex")}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export function table(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n### ${title}\n`);
  const headers = Object.keys(rows[0] ?? {});
  console.log(`| ${headers.join(" | ")} |`);
  console.log(`|${headers.map(() => "---").join("|")}|`);
  for (const row of rows) console.log(`| ${headers.map((h) => row[h]).join(" | ")} |`);
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** One load run: requests per second, and the process's CPU time per request in µs. */
export interface LoadRun {
  rate: number;
  cpuPerRequest: number;
}

/**
 * One app's runs over alternating rounds, each against the baseline's run next to it in the same round, so
 * that drift in machine load cancels out. The baseline adds its own runs against themselves.
 */
export function comparison(): {
  add(run: LoadRun, baseline: LoadRun): void;
  /** Medians of req/s and CPU µs/req, and of the per-round ratios ("× baseline (CPU)": its CPU time over the app's). */
  columns(baseline: string): Record<string, string>;
} {
  const rates: number[] = [];
  const cpu: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  return {
    add(run, baseline) {
      rates.push(run.rate);
      cpu.push(run.cpuPerRequest);
      ratios.push(run.rate / baseline.rate);
      cpuRatios.push(baseline.cpuPerRequest / run.cpuPerRequest);
    },
    columns: (baseline) => ({
      "req/s": fmt(median(rates), 0),
      [`× ${baseline}`]: fmt(median(ratios), 2),
      "CPU µs/req": fmt(median(cpu), 0),
      [`× ${baseline} (CPU)`]: fmt(median(cpuRatios), 2),
    }),
  };
}
