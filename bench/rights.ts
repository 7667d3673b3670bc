/**
 * Export and erasure latency on PostgreSQL for a subject with a full window
 * on every purpose and a consent history of 100 events, over HTTP through
 * gate.router(), with GET /consents (one small read) as the in-run baseline.
 */
import type { AddressInfo } from "node:net";
import express from "express";
import { createConsentgate } from "../src/index.ts";
import { fmt, percentile, scratchPostgres, table, time } from "./support.ts";

const SECRET = "bench-secret-bench-secret-bench-secret";
const SUBJECTS = 30;

export async function benchRights(): Promise<void> {
  const pg = await scratchPostgres();
  const gate = await createConsentgate({
    policies: "policies",
    database: pg.url,
    secret: SECRET,
    subject: (req) => req.get("x-user"),
  });
  const app = express();
  app.use(express.json());
  app.use(gate.middleware());
  const purposes = Object.values(gate.policy.purposes).filter((p) => p.window !== undefined);
  for (const purpose of purposes) {
    app.post(`/api/${purpose.name}`, gate.purpose(purpose.name), async (req, res) => {
      await req.privacy.record("play", req.body);
      res.status(201).end();
    });
  }
  app.use("/privacy", gate.router());
  const server = app.listen(0);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, user: string, body?: object) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", "x-user": user, "x-region": "DE" },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text;
  };

  const users = Array.from({ length: SUBJECTS }, (_, i) => `bench-subject-${i}`);
  for (const user of users) {
    // 100 consent events: alternate grants and withdrawals, ending granted.
    for (let e = 0; e < 100; e++)
      await call("PUT", `/privacy/consents/${purposes[e % purposes.length]!.name}`, user, {
        granted: e >= 100 - purposes.length || e % 2 === 1,
      });
    for (const purpose of purposes) {
      await Promise.all(
        Array.from({ length: purpose.window! }, (_, i) =>
          call("POST", `/api/${purpose.name}`, user, { itemId: `trk_${i}`, action: "play", durationMs: 1000 * i }),
        ),
      );
    }
  }
  const consents: number[] = [];
  const exports: number[] = [];
  const erasures: number[] = [];
  let bytes = 0;
  for (const user of users) {
    consents.push((await time(() => call("GET", "/privacy/consents", user))).ms);
    const exported = await time(() => call("GET", "/privacy/export", user));
    exports.push(exported.ms);
    bytes = exported.value.length;
    erasures.push((await time(() => call("DELETE", "/privacy/data", user))).ms);
  }
  server.close();
  await gate.close();
  await pg.drop();
  const row = (label: string, samples: number[]) => ({
    request: label,
    "p50 ms": fmt(percentile(samples, 50)),
    "p95 ms": fmt(percentile(samples, 95)),
  });
  table(
    `rights endpoints on PostgreSQL, ${SUBJECTS} subjects, each with full windows (${purposes.map((p) => `${p.name} ${p.window}`).join(", ")}) and 100 consent events; export ≈ ${fmt(bytes / 1024)} KiB`,
    [row("GET /consents (baseline)", consents), row("GET /export", exports), row("DELETE /data", erasures)],
  );
}
