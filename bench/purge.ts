/**
 * The purge job on PostgreSQL: 1 000 000 expired interactions (250 000
 * subjects × 4 slots, with their window heads, bulk-loaded with
 * generate_series) purged while 20 writers keep calling record() on other
 * subjects. Reported: the purge's rate, and the writers' latency during the
 * purge against a baseline of the same writers without it, in the same run.
 */
import { performance } from "node:perf_hooks";
import { createComplianceLog } from "../src/audit/log.ts";
import { purge } from "../src/jobs/purge.ts";
import type { Logger } from "../src/logger.ts";
import { silentMetrics } from "../src/metrics/observations.ts";
import { loadPolicy } from "../src/policy/load.ts";
import { createKeyring } from "../src/signatures/hmac.ts";
import { createComplianceLogStore } from "../src/store/compliance-log.ts";
import { createInteractionStore, type NewInteraction } from "../src/store/interactions.ts";
import { openStore } from "../src/store/store.ts";
import { fmt, percentile, scratchPostgres, table } from "./support.ts";

const EXPIRED = 1_000_000;
const SLOTS = 4;
const WRITERS = 20;
const BASELINE_MS = 10_000;
const DAY = 86_400_000;

const policyFile = {
  version: "bench",
  defaults: { region: "EU" },
  purposes: {
    personalization: {
      description: "bench",
      legalBasis: "consent",
      fields: { itemId: "keep" },
      window: 50,
      retention: "90d",
    },
  },
  regions: {
    EU: { model: "opt-in", requestDeadline: "1mo", logRetention: "3y" },
    "US-CA": { model: "opt-out", requestDeadline: "45d", logRetention: "24mo" },
  },
};

function live(i: number): NewInteraction {
  const now = new Date();
  return {
    subjectId: `live-${i % 1000}`,
    purpose: "personalization",
    window: 50,
    kind: "play",
    data: { itemId: `trk_${i}` },
    createdAt: now,
    expiresAt: new Date(now.getTime() + 90 * DAY),
    receiptId: undefined,
    source: "region-default",
    legalBasis: "consent",
    policyVersion: "bench",
    decidedAt: now,
    region: i % 2 ? "EU" : "US-CA",
  };
}

export async function benchPurge(): Promise<void> {
  const scratch = await scratchPostgres();
  const store = await openStore({ kind: "postgres", url: scratch.url }, { poolSize: 12 });
  try {
    const { connection } = store;
    const policy = await loadPolicy(policyFile);
    const keyring = createKeyring("bench-secret-bench-secret-bench-secret");
    const audit = createComplianceLog(createComplianceLogStore(connection), {
      pseudonym: keyring.pseudonym,
      chainKey: keyring.key("log-chain"),
      now: () => new Date(),
    });
    const interactions = createInteractionStore(connection);

    const load = performance.now();
    await connection.query(
      `INSERT INTO interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", "receiptId", source, "legalBasis", "policyVersion", region)
       SELECT 'gone-' || (g / $2::int), 'personalization', g % $2::int, g % $2::int, 'play', jsonb_build_object('itemId', 'trk_' || g),
              now() - interval '100 days', now() - interval '10 days', NULL, 'region-default', 'consent', 'bench',
              CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US-CA' END
       FROM generate_series(0, $1::int - 1) g`,
      [EXPIRED, SLOTS],
    );
    await connection.query(
      `INSERT INTO interaction_windows ("subjectId", purpose, "nextSeq") SELECT 'gone-' || s, 'personalization', $2::int FROM generate_series(0, $1::int / $2::int - 1) s`,
      [EXPIRED, SLOTS],
    );
    await connection.query("VACUUM ANALYZE interactions");
    await connection.query("VACUUM ANALYZE interaction_windows");
    const loadSeconds = (performance.now() - load) / 1000;

    // 20 writers, each awaiting its own record() calls one after another, until told to stop.
    let next = 0;
    const writers = (until: () => boolean) => {
      const latencies: number[] = [];
      const started = performance.now();
      const done = Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (!until()) {
            const t = performance.now();
            await interactions.record(live(next++));
            latencies.push(performance.now() - t);
          }
        }),
      ).then(() => ({ latencies, seconds: (performance.now() - started) / 1000 }));
      return done;
    };

    await writers(
      (
        (end) => () =>
          performance.now() > end
      )(performance.now() + 2000),
    ); // warm-up
    const baseline = await writers(
      (
        (end) => () =>
          performance.now() > end
      )(performance.now() + BASELINE_MS),
    );

    let purging = true;
    let expiredDone = 0;
    const logger: Logger = {
      debug: (obj) => {
        if ((obj as { pass?: string }).pass === "windows" && expiredDone === 0) expiredDone = performance.now();
      },
      info: () => {},
      warn: () => {},
      error: () => {},
    };
    const during = writers(() => !purging);
    const started = performance.now();
    const result = await purge(
      { interactions, gatedTables: () => [], policy, audit, logger, metrics: silentMetrics },
      { now: new Date() },
    );
    const ended = performance.now();
    const purgeSeconds = (ended - started) / 1000;
    purging = false;
    const busy = await during;

    const deleted = Object.values(result.expired).reduce(
      (sum, perPurpose) => sum + Object.values(perPurpose).reduce((a, b) => a + b, 0),
      0,
    );
    const [left] = await connection.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM interactions WHERE "subjectId" LIKE 'gone-%'`,
    );
    table(
      `purge of ${EXPIRED.toLocaleString("en")} expired rows on PostgreSQL, ${WRITERS} writers calling record() throughout (batches of 5000)`,
      [
        {
          "rows deleted": deleted,
          "rows left": left!.n,
          "empty windows dropped": result.emptyWindows,
          "expired pass, s": fmt((expiredDone - started) / 1000),
          "window walk, s": fmt((ended - expiredDone) / 1000),
          "total, s": fmt(purgeSeconds),
          "purge rate, rows/s": fmt(deleted / purgeSeconds, 0),
          "bulk load, s": fmt(loadSeconds),
        },
      ],
    );
    const row = (label: string, run: { latencies: number[]; seconds: number }) => ({
      writers: label,
      "record() calls": run.latencies.length,
      "writes/s": fmt(run.latencies.length / run.seconds, 0),
      "p50, ms": fmt(percentile(run.latencies, 50), 2),
      "p99, ms": fmt(percentile(run.latencies, 99), 2),
      "max, ms": fmt(
        run.latencies.reduce((a, b) => Math.max(a, b), 0),
        1,
      ),
    });
    table("record() latency of the 20 writers, same run", [
      row(`without purge (${BASELINE_MS / 1000} s)`, baseline),
      row(`during the purge (${fmt(purgeSeconds)} s)`, busy),
    ]);
  } finally {
    await store.close();
    await scratch.drop();
  }
}
