/**
 * Cost of a compiled minimizer on a realistic ten-field write, against
 * baselines measured in the same run: structuredClone of the body, a
 * hand-written pick of the listed fields with no transforms, and the same
 * pick applying the same transforms inline (what the tree walk, the type
 * checks and the limits cost on top of the transforms themselves).
 */
import { createHmac } from "node:crypto";
import { performance } from "node:perf_hooks";
import { coarsenLocation } from "../src/minimize/geohash.ts";
import { compileMinimizer } from "../src/minimize/index.ts";
import { maskIp } from "../src/minimize/ip.ts";
import { PSEUDONYM_PREFIX } from "../src/minimize/pseudonym.ts";
import { cutCodePoints } from "../src/minimize/text.ts";
import { HOUR_MS, truncateTimestamp } from "../src/minimize/timestamp.ts";
import type { FieldRule } from "../src/policy/types.ts";
import { fmt, median, table } from "./support.ts";

const KEY = "bench-secret-bench-secret-bench-secret";
const ROUNDS = 9;
const ITERATIONS = 20_000;
const VARIANTS = 64;

/** The shipped personalization purpose, plus nested, hash, ip, truncate and maxLength fields. */
const FIELDS: Record<string, FieldRule> = {
  itemId: { kind: "keep" },
  action: { kind: "keep" },
  durationMs: { kind: "bucket", size: 1000 },
  location: { kind: "geohash", precision: 5 },
  userAgent: { kind: "drop" },
  "device.os": { kind: "keep" },
  accountId: { kind: "hash" },
  ip: { kind: "ip", bits: 24 },
  playedAt: { kind: "truncate", unit: "hour" },
  query: { kind: "maxLength", length: 32 },
};

type Body = ReturnType<typeof makeBody>;

function makeBody(i: number) {
  return {
    itemId: `trk_${1000 + i}`,
    action: i % 3 === 0 ? "skip" : "play",
    durationMs: 120_000 + i * 937,
    location: { lat: 48.1 + i / 1000, lon: 11.5 + i / 1000 },
    userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    device: { os: "android", model: `Pixel ${i % 9}`, screen: { w: 1080, h: 2400 } },
    accountId: `acct-${i}-7f3a9c`,
    ip: `203.0.${i}.${(i * 7) % 256}`,
    playedAt: new Date(Date.UTC(2026, 10, 2, 10, i % 60, i % 60)).toISOString(),
    query: `songs like the one that goes na na na number ${i}`,
  };
}

const handPick = (b: Body) => ({
  itemId: b.itemId,
  action: b.action,
  durationMs: b.durationMs,
  location: { lat: b.location.lat, lon: b.location.lon },
  device: { os: b.device.os },
  accountId: b.accountId,
  ip: b.ip,
  playedAt: b.playedAt,
  query: b.query,
});

const handMinimize = (b: Body) => ({
  itemId: b.itemId,
  action: b.action,
  durationMs: Math.floor(b.durationMs / 1000) * 1000,
  location: coarsenLocation(b.location, 5),
  device: { os: b.device.os },
  accountId: PSEUDONYM_PREFIX + createHmac("sha256", KEY).update(b.accountId).digest("hex"),
  ip: maskIp(b.ip, 24, 48),
  playedAt: truncateTimestamp(b.playedAt, HOUR_MS),
  query: cutCodePoints(b.query, 32),
});

/** ns per call of `run` over the bodies, one round. The sink keeps the calls from being optimized away. */
function round(run: (body: Body) => object, bodies: Body[]): number {
  let sink = 0;
  const start = performance.now();
  for (let i = 0; i < ITERATIONS; i++) sink += Object.keys(run(bodies[i % VARIANTS]!)).length;
  const ns = ((performance.now() - start) * 1e6) / ITERATIONS;
  if (sink === 0) throw new Error("nothing was produced");
  return ns;
}

export async function benchMinimize(): Promise<void> {
  const bodies = Array.from({ length: VARIANTS }, (_, i) => makeBody(i));
  const minimize = compileMinimizer(FIELDS, { hashKey: KEY });
  const cases: Record<string, (body: Body) => object> = {
    "structuredClone(body)": (body) => structuredClone(body),
    "hand-written pick, no transforms": handPick,
    "hand-written pick, same transforms": handMinimize,
    "compiled minimizer": minimize,
  };
  const samples = new Map<string, number[]>(Object.keys(cases).map((name) => [name, []]));
  for (const run of Object.values(cases)) round(run, bodies);
  // Rounds alternate between cases so drift on a shared machine hits them all alike.
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, run] of Object.entries(cases)) samples.get(name)!.push(round(run, bodies));
  }
  const ns = new Map([...samples].map(([name, values]) => [name, median(values)]));
  const clone = ns.get("structuredClone(body)")!;
  const pick = ns.get("hand-written pick, no transforms")!;
  table(
    `Minimizer, ${Object.keys(FIELDS).length}-field body (median of ${ROUNDS} rounds × ${ITERATIONS} calls)`,
    [...ns].map(([name, value]) => ({
      case: name,
      "ns/op": fmt(value, 0),
      "× structuredClone": fmt(value / clone, 2),
      "× hand pick": fmt(value / pick, 2),
    })),
  );
}
