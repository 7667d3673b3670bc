/**
 * A host's own `create` through gate.prismaExtension() against the same
 * `create` on the plain client, in the same run, on the same tables: the
 * example app's generated client, a Like per write, spread over 1 000
 * subjects whose choices are already cached (warm consent cache), each
 * write in a context of its own as a request's would be (gate.as). With one
 * writer (latency-bound) and with 50 concurrent writers (throughput).
 */
import { openMusicDatabase } from "../examples/music-app/database.ts";
import { createConsentgate } from "../src/index.ts";
import { fmt, scratchPostgres, table, time } from "./support.ts";

const SUBJECTS = 1000;

async function writers(count: number, total: number, write: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const { ms } = await time(() =>
    Promise.all(
      Array.from({ length: count }, async () => {
        while (next < total) await write(next++);
      }),
    ),
  );
  return total / (ms / 1000);
}

export async function benchHostWrites(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const run = async (label: string, database: string, hostDatabase: string) => {
    const gate = await createConsentgate({
      database,
      secret: "bench-secret-bench-secret-bench-secret",
      subject: () => undefined,
    });
    // Compiled into .bench/, the example cannot find its migrations beside itself: `npm run bench` runs from the repository.
    const music = await openMusicDatabase(hostDatabase, { migrations: "examples/music-app/prisma/migrations" });
    try {
      const plain = music.client;
      const gated = plain.$extends(
        gate.prismaExtension({
          models: { Like: { purpose: "service", subject: "listenerId", createdAt: "createdAt" } },
        }),
      );
      const subject = (i: number) => `listener-${i % SUBJECTS}`;
      const viaGate = (i: number) =>
        gate.as({ subject: subject(i), region: "EU" }, () =>
          gated.like.create({ data: { listenerId: subject(i), itemId: `trk_${i % 500}` } }),
        );
      const viaPlain = (i: number) => plain.like.create({ data: { listenerId: subject(i), itemId: `trk_${i % 500}` } });
      // Warm-up: every subject's choices cached, both paths' statements prepared.
      await writers(50, SUBJECTS, viaGate);
      await writers(50, SUBJECTS, viaPlain);
      for (const [count, total] of [
        [1, 2000],
        [50, 10_000],
      ] as const) {
        // Alternating, best of two each, so drift on a shared machine hits both sides alike.
        const plainRates: number[] = [];
        const gateRates: number[] = [];
        for (let round = 0; round < 2; round++) {
          plainRates.push(await writers(count, total, viaPlain));
          gateRates.push(await writers(count, total, viaGate));
        }
        const plainRate = Math.max(...plainRates);
        const gateRate = Math.max(...gateRates);
        rows.push({
          database: label,
          writers: count,
          "plain create, rows/s": fmt(plainRate, 0),
          "create through the extension, rows/s": fmt(gateRate, 0),
          "extension / plain": fmt(gateRate / plainRate, 2),
        });
      }
    } finally {
      await music.close();
      await gate.close();
    }
  };
  const pg = await scratchPostgres();
  try {
    await run("PostgreSQL", pg.url, pg.url);
  } finally {
    await pg.drop();
  }
  await run("PGlite, memory", "memory", "memory");
  table(
    "A host's Prisma create through gate.prismaExtension() vs the plain client, same run (warm consent cache)",
    rows,
  );
}
