/**
 * The insight store: what a release counts (distinct allowed subjects per
 * key, each bounded to maxKeys keys, unexpired rows only), and the budget
 * ledger (a release that would overspend is refused before anything is
 * counted; many releases at once, on two instances on PostgreSQL, spend
 * exactly the budget).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, test } from "node:test";
import type { PendingLogEntry } from "../../src/store/compliance-log.ts";
import { createInsightStore, type InsightStore, type ReleaseRequest } from "../../src/store/insights.ts";
import type { Store } from "../../src/store/store.ts";
import { DAY } from "../support/clock.ts";
import { onPostgres, storedInteraction, testDatabase, testStore } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";

const NOW = new Date("2026-06-01T12:00:00Z");

/** A release request over the personalization rows, US-CA opt-out, DE opt-in; `overrides` over it. */
function request(overrides: Partial<ReleaseRequest> = {}, maxKeys = 3): ReleaseRequest {
  return {
    name: "popular",
    purpose: "personalization",
    epsilon: 1,
    delta: 1e-9,
    budget: { epsilon: 3, since: new Date(NOW.getTime() - 30 * DAY) },
    now: NOW,
    count: {
      purpose: "personalization",
      keyPath: ["itemId"],
      defaultRegion: "OTHER",
      regions: ["EU", "US-CA", "OTHER"],
      allowedWith: {
        none: ["US-CA"],
        granted: ["EU", "US-CA", "OTHER"],
        override: ["EU", "US-CA", "OTHER"],
        withdrawn: [],
      },
      maxKeys,
      salt: "00112233445566778899aabbccddeeff",
    },
    logged: () => [] as PendingLogEntry[],
    ...overrides,
  };
}

/** Plays of `items` for `subject` in `region`, expiring a day after NOW unless `expired`. */
async function plays(store: Store, subject: string, region: string, items: string[], expired = false) {
  await store.connection.prisma.interaction.createMany({
    data: items
      .map((itemId, i) =>
        storedInteraction(subject, {
          region,
          data: { itemId, action: "play" },
          createdAt: NOW,
          expiresAt: new Date(NOW.getTime() + (expired ? -DAY : DAY)),
        }),
      )
      .map((row, i) => ({ ...row, slot: i, seq: BigInt(i) })),
  });
}

async function choice(store: Store, subject: string, granted: boolean) {
  await store.connection.query(
    `INSERT INTO consent_state ("subjectId", purpose, granted, "receiptId", "policyVersion", "updatedAt")
     VALUES ($1, 'personalization', $2, gen_random_uuid(), 'test', now())`,
    [subject, granted],
  );
}

/** The counts a release saw: noise that adds nothing and keeps every key. */
const identity = (seen: Map<string, number>[]) => (counts: ReadonlyMap<string, number>) => {
  seen.push(new Map(counts));
  return { threshold: 0, keys: [...counts].map(([key, count]) => ({ key, count })) };
};

describe(`insight releases on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let store: Store;
  let insights: InsightStore;
  before(async () => {
    store = await testStore(suite, await testDatabase(suite));
    insights = createInsightStore(store.connection);
    // US-CA, no choice: counted. Three items, one of them twice.
    await plays(store, "ca-1", "US-CA", ["a", "b", "a", "c"]);
    // US-CA, withdrew: not counted.
    await plays(store, "ca-withdrew", "US-CA", ["a", "z"]);
    await choice(store, "ca-withdrew", false);
    // EU, no choice (opt-in): not counted; EU, granted: counted.
    await plays(store, "eu-silent", "EU", ["a", "y"]);
    await plays(store, "eu-granted", "EU", ["a", "b"]);
    await choice(store, "eu-granted", true);
    // Expired rows: not counted.
    await plays(store, "ca-expired", "US-CA", ["a", "x"], true);
    // Many keys: bounded to maxKeys (3) distinct keys.
    await plays(store, "ca-many", "US-CA", ["k1", "k2", "k3", "k4", "k5", "k6"]);
    // An unknown region counts under the default region (OTHER, opt-in here): not counted.
    await plays(store, "elsewhere", "MARS", ["a", "w"]);
  });

  test("counts distinct allowed subjects per key, each bounded to maxKeys keys, unexpired rows only", async () => {
    const seen: Map<string, number>[] = [];
    const outcome = await insights.release(request(), identity(seen));
    assert.equal(outcome.kind, "released");
    const counts = seen[0]!;
    assert.equal(counts.get("a"), 2, "ca-1 and eu-granted");
    assert.equal(counts.get("b"), 2);
    assert.equal(counts.get("c"), 1);
    for (const absent of ["z", "y", "x", "w"]) assert.equal(counts.has(absent), false, absent);
    const many = [...counts.keys()].filter((key) => key.startsWith("k"));
    assert.equal(many.length, 3, "ca-many adds exactly maxKeys keys");
    assert.equal(
      [...counts.values()].reduce((a, b) => a + b, 0),
      3 + 2 + 3,
      "ca-1: 3 keys, eu-granted: 2, ca-many: 3",
    );
    // Stored and served: the noisy keys, highest first as the noise ordered them.
    const latest = await insights.latest("popular");
    assert.equal(latest?.id, outcome.kind === "released" ? outcome.release.id : undefined);
    assert.equal(latest?.keys.length, counts.size);
  });

  test("each subject's sample of keys follows the release's salt: over 40 salts each of 6 keys is kept about half the time", async () => {
    const picked = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const seen: Map<string, number>[] = [];
      const base = request({ name: `sample-${i}`, budget: { epsilon: 100, since: new Date(0) } }, 3);
      const salt = randomBytes(16).toString("hex");
      await insights.release({ ...base, count: { ...base.count, salt } }, identity(seen));
      const mine = [...seen[0]!.keys()].filter((key) => key.startsWith("k"));
      assert.equal(mine.length, 3);
      for (const key of mine) picked.set(key, (picked.get(key) ?? 0) + 1);
    }
    // Each key is in a uniform 3-of-6 sample with probability 1/2: Binomial(40, 1/2) lies in [5, 35]
    // except with probability 2e-7 per key.
    assert.deepEqual([...picked.keys()].sort(), ["k1", "k2", "k3", "k4", "k5", "k6"]);
    for (const [key, n] of picked) assert.ok(n >= 5 && n <= 35, `${key} kept ${n} times of 40`);
  });

  test("a release that would overspend is refused before anything is counted; the previous one stays served", async () => {
    const name = "ledger";
    const seen: Map<string, number>[] = [];
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await insights.release(request({ name }), identity(seen)));
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ["released", "released", "released", "refused", "refused"],
    );
    assert.equal(seen.length, 3, "the refused releases counted nothing");
    const refused = outcomes[3]!;
    assert.ok(refused.kind === "refused");
    assert.equal(refused.spent, 3);
    assert.equal(refused.budget, 3);
    const latest = await insights.latest(name);
    assert.ok(outcomes[2]!.kind === "released");
    assert.equal(latest?.id, outcomes[2]!.release.id);
    assert.equal(await insights.spent(name, new Date(0)), 3);
    // Spends older than the rolling period no longer count.
    const later = new Date(NOW.getTime() + 31 * DAY);
    const again = await insights.release(
      request({ name, now: later, budget: { epsilon: 3, since: new Date(later.getTime() - 30 * DAY) } }),
      identity(seen),
    );
    assert.equal(again.kind, "released");
  });

  test("sums of fractional epsilons meet the budget exactly (0.1 × 10 = 1)", async () => {
    const outcomes = [];
    for (let i = 0; i < 11; i++) {
      outcomes.push(
        (
          await insights.release(
            request({ name: "tenths", epsilon: 0.1, budget: { epsilon: 1, since: new Date(0) } }),
            identity([]),
          )
        ).kind,
      );
    }
    assert.equal(outcomes.filter((k) => k === "released").length, 10);
    assert.equal(outcomes[10], "refused");
  });
});

describe("the budget under racing releases, two instances on PostgreSQL", {
  skip: !onPostgres && "needs TEST_DATABASE_URL",
}, () => {
  const suite = suiteScope();
  test("40 releases at once from two instances spend exactly the budget, never more", async () => {
    const db = await testDatabase(suite);
    const one = await testStore(suite, db);
    const two = await testStore(suite, db);
    await plays(one, "ca-1", "US-CA", ["a"]);
    const stores = [createInsightStore(one.connection), createInsightStore(two.connection)];
    const counted: Map<string, number>[] = [];
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        stores[i % 2]!.release(
          request({ name: "raced", budget: { epsilon: 7, since: new Date(0) } }),
          identity(counted),
        ),
      ),
    );
    assert.equal(outcomes.filter((o) => o.kind === "released").length, 7);
    assert.equal(outcomes.filter((o) => o.kind === "refused").length, 33);
    assert.equal(counted.length, 7, "only the seven released counted anything");
    assert.equal(await stores[0]!.spent("raced", new Date(0)), 7);
    const [row] = await one.connection.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM insight_releases WHERE name = 'raced'",
    );
    assert.equal(row?.n, 7);
  });
});
