/**
 * `npm run bench -- gate-profile` (not run by a bare `npm run bench`): where the
 * gated POST of the gate benchmark spends its time. The app of bench/gate.ts,
 * driven for 10 s by autocannon in a child process (so the profile holds only
 * the server), profiled with V8's sampling profiler. The gate's share is the
 * samples in src/ plus those in the libraries it calls (lru-cache,
 * path-to-regexp, ngeohash) and in V8 built-ins called from src/; times the
 * process's CPU time per request, that is the gate's own CPU time per request.
 * The share is the steady figure on a shared machine: other processes slow
 * the whole process, not the gate's part of it.
 */
import { spawn } from "node:child_process";
import { Session } from "node:inspector/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { body, gatedBenchApp, grantPersonalization, listener } from "./gate.ts";
import { fmt, table } from "./support.ts";

const SECONDS = 10;
const SRC = new URL("../src/", import.meta.url).href;
const CALLED_LIBRARIES = /\/node_modules\/(lru-cache|path-to-regexp|ngeohash)\//;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export async function benchGateProfile(): Promise<void> {
  const { gate, app } = await gatedBenchApp();
  const server = app.listen(0);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await grantPersonalization(url);
  const check = await fetch(`${url}/api/plays`, { method: "POST", headers: listener, body: JSON.stringify(body) });
  if (check.status !== 201) throw new Error(`gated route answered ${check.status}`);

  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await load(url, listener, 2); // warm-up, not profiled
  await session.post("Profiler.start");
  const cpu = process.cpuUsage();
  const requests = await load(url, listener, SECONDS);
  const used = process.cpuUsage(cpu);
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  server.close();
  await gate.close();

  const cpuPerRequest = (used.user + used.system) / requests;
  const { share, top } = gateShare(
    profile as unknown as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] },
  );
  table(
    `the gated POST's CPU time, ${SECONDS} s of autocannon (20 connections, another process), V8 sampling profiler`,
    [
      { figure: "requests", value: String(requests) },
      { figure: "CPU µs per request (whole process)", value: fmt(cpuPerRequest, 1) },
      { figure: "gate's share of busy samples", value: `${fmt(share * 100, 2)} %` },
      { figure: "gate's CPU µs per request", value: fmt(share * cpuPerRequest, 2) },
    ],
  );
  table(
    "the gate's functions by self time (µs per request)",
    top.slice(0, 12).map(([name, part]) => ({ function: name, "µs/request": fmt(part * cpuPerRequest, 2) })),
  );
}

/** Runs autocannon in a child process and returns the number of requests answered. */
function load(url: string, headers: Record<string, string>, seconds: number): Promise<number> {
  const cli = createRequire(import.meta.url).resolve("autocannon/autocannon.js");
  const args = [cli, "-j", "-c", "20", "-d", String(seconds), "-m", "POST", "-b", JSON.stringify(body)];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}=${value}`);
  args.push(`${url}/api/plays`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("error", reject);
    child.on("exit", () => {
      const result = JSON.parse(out) as { requests: { total: number }; non2xx: number; errors: number };
      if (result.non2xx > 0 || result.errors > 0)
        reject(new Error(`${result.non2xx} non-2xx, ${result.errors} errors`));
      else resolve(result.requests.total);
    });
  });
}

/** The gate's share of the busy (not idle) samples, and its functions' shares by self time. */
function gateShare(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }): {
  share: number;
  top: [string, number][];
} {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node);
  const known = new Map<number, boolean>();
  const isGate = (node: ProfileNode): boolean => {
    let answer = known.get(node.id);
    if (answer !== undefined) return answer;
    answer = false;
    for (let at: ProfileNode | undefined = node; at; at = parent.get(at.id)) {
      const { url, functionName } = at.callFrame;
      if (url.startsWith(SRC)) {
        answer = true;
        break;
      }
      // A library or built-in counts when src/ called it; "(garbage collector)" and the like never do.
      if (functionName.startsWith("(") || !(url === "" || CALLED_LIBRARIES.test(url))) break;
    }
    known.set(node.id, answer);
    return answer;
  };
  let busy = 0;
  let gate = 0;
  const byFunction = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") return;
    const delta = profile.timeDeltas[i] ?? 0;
    busy += delta;
    if (!isGate(node)) return;
    gate += delta;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || "(anonymous)"} ${url.startsWith(SRC) ? url.slice(SRC.length) : url.replace(/.*\/node_modules\//, "")}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + delta);
  });
  const top = [...byFunction].map(([name, time]): [string, number] => [name, time / busy]).sort((a, b) => b[1] - a[1]);
  return { share: gate / busy, top };
}
