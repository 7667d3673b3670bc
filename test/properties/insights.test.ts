/**
 * Properties of insight releases on a real database (PGlite, or PostgreSQL
 * with TEST_DATABASE_URL), the two facts the privacy argument of
 * src/insights/release.ts rests on:
 *
 * - Neighbouring datasets: adding or removing one subject changes each true
 *   count by at most 1, and at most maxKeys counts (so at most maxKeys keys
 *   appear or vanish). That is the sensitivity the noise's scale maxKeys/epsilon
 *   and the threshold's l0 = maxKeys assume; the counts are observed through
 *   an identity noise, with one salt for the neighbouring releases so that
 *   every other subject's sample of keys is the same in each.
 * - The budget is never exceeded, however many releases race: exactly as
 *   many as the budget holds are released, the rest refused, the ledger's sum
 *   within the budget; on PostgreSQL from two store instances on one database.
 *
 * Each case is a few transactions, so these run a fraction of PROPERTY_RUNS:
 * 30 cases at the default 10 000, proportionally more or fewer when it is set.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, test } from "node:test";
import fc from "fast-check";
import type { PendingLogEntry } from "../../src/store/compliance-log.ts";
import { createInsightStore, type InsightStore, type ReleaseRequest } from "../../src/store/insights.ts";
import type { Store } from "../../src/store/store.ts";
import { RUNS, propertyParameters } from "../support/arbitraries.ts";
import { DAY } from "../support/clock.ts";
import { onPostgres, storedInteraction, testDatabase, testStore } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";

/** Cases per database property: 30 at the default PROPERTY_RUNS (10 000), scaled with it. */
const DB_RUNS = Math.max(1, Math.round((RUNS * 30) / 10_000));

const NOW = new Date("2026-06-01T12:00:00Z");
const REGIONS = ["EU", "US-CA", "OTHER"] as const;
const DEFAULT_REGION = "OTHER";
/** A small catalogue, so that subjects share keys; "" and a non-ASCII key are keys like any other. */
const KEYS = ["k0", "k1", "k2", "k3", "k4", "k5", "", "é-ü"];

type Choice = "none" | "granted" | "override" | "withdrawn";
type AllowedWith = ReleaseRequest["count"]["allowedWith"];

interface Row {
  /** The row's key, or undefined for a row whose data has no key field (it still places the subject in a region). */
  key: string | undefined;
  expired: boolean;
}

interface Subject {
  /** MARS is not a policy region: it counts under DEFAULT_REGION. */
  region: string;
  choice: Choice;
  rows: Row[];
}

const regionSubset = fc.subarray([...REGIONS]);

const subjectArbitrary: fc.Arbitrary<Subject> = fc.record({
  region: fc.constantFrom(...REGIONS, "MARS"),
  choice: fc.constantFrom<Choice>("none", "granted", "override", "withdrawn"),
  rows: fc.array(
    fc.record({
      key: fc.option(fc.constantFrom(...KEYS), { nil: undefined, freq: 8 }),
      // One row in five has expired: it neither counts nor places its subject in a region.
      expired: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    }),
    { minLength: 1, maxLength: 10 },
  ),
});

const allowedWithArbitrary: fc.Arbitrary<AllowedWith> = fc.record({
  none: regionSubset,
  granted: regionSubset,
  override: regionSubset,
  withdrawn: regionSubset,
});

/** A release request under a fresh name with a budget that never runs out. */
function neighbourRequest(
  name: string,
  purpose: string,
  allowedWith: AllowedWith,
  maxKeys: number,
  salt: string,
): ReleaseRequest {
  return {
    name,
    purpose,
    epsilon: 1,
    delta: 1e-9,
    budget: { epsilon: 1e6, since: new Date(0) },
    now: NOW,
    count: {
      purpose,
      keyPath: ["itemId"],
      defaultRegion: DEFAULT_REGION,
      regions: REGIONS,
      allowedWith,
      maxKeys,
      salt,
    },
    logged: () => [] as PendingLogEntry[],
  };
}

/** Writes the subjects' rows and choices, all in two statements (each case seeds up to nine subjects). */
async function seed(store: Store, purpose: string, subjects: [id: string, subject: Subject][]): Promise<void> {
  await store.connection.prisma.interaction.createMany({
    data: subjects.flatMap(([id, subject]) =>
      subject.rows.map((row, i) => ({
        ...storedInteraction(id, {
          purpose,
          region: subject.region,
          data: row.key === undefined ? { action: "play" } : { itemId: row.key, action: "play" },
          createdAt: NOW,
          expiresAt: new Date(NOW.getTime() + (row.expired ? -DAY : DAY)),
        }),
        slot: i,
        seq: BigInt(i),
      })),
    ),
  });
  const choices = subjects.filter(([, subject]) => subject.choice !== "none");
  if (choices.length === 0) return;
  await store.connection.query(
    `INSERT INTO consent_state ("subjectId", purpose, granted, "overrideGpc", "receiptId", "policyVersion", "updatedAt")
     SELECT id, $2, granted, override, gen_random_uuid(), 'test', now()
     FROM unnest($1::text[], $3::boolean[], $4::boolean[]) AS t(id, granted, override)`,
    [
      choices.map(([id]) => id),
      purpose,
      choices.map(([, subject]) => subject.choice !== "withdrawn"),
      choices.map(([, subject]) => subject.choice === "override"),
    ],
  );
}

async function unseed(store: Store, purpose: string, id: string): Promise<void> {
  await store.connection.prisma.interaction.deleteMany({ where: { subjectId: id, purpose } });
  await store.connection.query(`DELETE FROM consent_state WHERE "subjectId" = $1 AND purpose = $2`, [id, purpose]);
}

/** The true counts a release sees: a noise that adds nothing and keeps every key. */
async function trueCounts(insights: InsightStore, request: ReleaseRequest): Promise<Map<string, number>> {
  let seen: Map<string, number> | undefined;
  const outcome = await insights.release(request, (counts) => {
    seen = new Map(counts);
    return { threshold: 0, keys: [] };
  });
  assert.equal(outcome.kind, "released");
  return seen!;
}

/**
 * The oracle for one subject's contribution, from the rules the counting
 * implements (src/store/interactions.ts, KEY_COUNTS_SQL): its unexpired rows
 * place it in its region (the default one for a region the policy lacks); its
 * choice and that region decide whether it is counted; if so it adds 1 to
 * min(maxKeys, its distinct keys) of its keys.
 */
function contribution(
  subject: Subject,
  allowedWith: AllowedWith,
  maxKeys: number,
): { keys: Set<string>; adds: number } {
  const live = subject.rows.filter((row) => !row.expired);
  const keys = new Set(live.flatMap((row) => (row.key === undefined ? [] : [row.key])));
  if (live.length === 0) return { keys, adds: 0 };
  const region = (REGIONS as readonly string[]).includes(subject.region) ? subject.region : DEFAULT_REGION;
  const allowed = allowedWith[subject.choice].includes(region);
  return { keys, adds: allowed ? Math.min(maxKeys, keys.size) : 0 };
}

describe(`property: insight releases, ${DB_RUNS} cases each, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let first: Store;
  /** One store instance on PGlite (one process's database); two on PostgreSQL, as two servers of one app would be. */
  let stores: InsightStore[];
  before(async () => {
    const db = await testDatabase(suite);
    first = await testStore(suite, db);
    const instances = onPostgres ? [first, await testStore(suite, db)] : [first];
    stores = instances.map((store) => createInsightStore(store.connection));
    // The budget cases all count this one row.
    await seed(first, "personalization", [
      ["listener", { region: "US-CA", choice: "none", rows: [{ key: "a", expired: false }] }],
    ]);
  });

  test("adding or removing one subject changes each true count by at most 1, and at most maxKeys of them", async () => {
    const started = Date.now();
    let run = 0;
    let changedSome = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(subjectArbitrary, { maxLength: 8 }),
        subjectArbitrary,
        allowedWithArbitrary,
        fc.integer({ min: 1, max: 4 }),
        async (others, extra, allowedWith, maxKeys) => {
          // Each case has a purpose of its own: the cases share the database but never each other's rows.
          const purpose = `neighbours-${run++}-${randomBytes(4).toString("hex")}`;
          const salt = randomBytes(16).toString("hex");
          const request = (step: string) => neighbourRequest(`${purpose}-${step}`, purpose, allowedWith, maxKeys, salt);
          await seed(
            first,
            purpose,
            others.map((subject, i) => [`other-${i}`, subject]),
          );

          const without = await trueCounts(stores[0]!, request("without"));
          await seed(first, purpose, [["extra", extra]]);
          const withExtra = await trueCounts(stores[0]!, request("with"));
          await unseed(first, purpose, "extra");
          const removed = await trueCounts(stores[0]!, request("removed"));

          const changed: string[] = [];
          for (const key of new Set([...without.keys(), ...withExtra.keys()])) {
            const difference = (withExtra.get(key) ?? 0) - (without.get(key) ?? 0);
            assert.ok(difference === 0 || difference === 1, `key "${key}" changed by ${difference}`);
            if (difference !== 0) changed.push(key);
          }
          assert.ok(changed.length <= maxKeys, `${changed.length} counts changed, maxKeys ${maxKeys}`);
          const appeared = [...withExtra.keys()].filter((key) => !without.has(key));
          assert.ok(appeared.length <= maxKeys, `${appeared.length} keys appeared, maxKeys ${maxKeys}`);
          // No count is ever 0: a key is in the answer only when someone is counted for it.
          for (const [key, count] of [...without, ...withExtra]) assert.ok(count >= 1, `key "${key}": ${count}`);
          // Exactly the extra subject's contribution changed, among its own keys.
          const expected = contribution(extra, allowedWith, maxKeys);
          for (const key of changed) assert.ok(expected.keys.has(key), `key "${key}" is not the extra subject's`);
          assert.equal(changed.length, expected.adds, "keys the extra subject adds to");
          if (changed.length > 0) changedSome++;
          // Removing it again gives back the first counts exactly: nobody else's sample moved.
          assert.deepEqual(removed, without);
        },
      ),
      { ...propertyParameters(), numRuns: DB_RUNS },
    );
    // Not vacuous: the extra subject is counted in about 45 % of cases (its choice and region are allowed about half
    // the time, and it has a live key), so none in 30 has probability 0.55^30 = 2e-8.
    if (DB_RUNS >= 30) assert.ok(changedSome > 0, `none of ${DB_RUNS} cases changed a count`);
    console.log(
      `# neighbours: ${DB_RUNS} cases (${changedSome} changed a count) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });

  test(`releases at once${onPostgres ? " from two instances" : ""}: exactly floor(budget / epsilon) released, the rest refused, the ledger never above the budget`, async () => {
    const started = Date.now();
    let run = 0;
    let refusedSome = 0;
    await fc.assert(
      fc.asyncProperty(
        // Epsilon and budget in hundredths, so that budget/epsilon is exact in integers: floor(budget/epsilon) is then
        // the exact answer, and a budget that is a multiple of epsilon must be met exactly (the store's float slack).
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 1, max: 12 }),
        async (epsilonCents, whole, extraCents, concurrent) => {
          const epsilon = epsilonCents / 100;
          // A budget of `whole` releases plus a remainder below one more (0 half the time: an exact multiple).
          const remainder = extraCents % 2 === 0 ? 0 : extraCents % epsilonCents;
          const budgetCents = whole * epsilonCents + remainder;
          const budget = budgetCents / 100;
          const name = `raced-${run++}-${randomBytes(4).toString("hex")}`;
          let counted = 0;
          const outcomes = await Promise.all(
            Array.from({ length: concurrent }, (_, i) =>
              stores[i % stores.length]!.release(
                {
                  ...neighbourRequest(
                    name,
                    "personalization",
                    { none: ["US-CA"], granted: [], override: [], withdrawn: [] },
                    1,
                    "salt",
                  ),
                  epsilon,
                  budget: { epsilon: budget, since: new Date(0) },
                },
                (counts) => {
                  counted++;
                  return { threshold: 0, keys: [...counts].map(([key, count]) => ({ key, count })) };
                },
              ),
            ),
          );
          const expected = Math.min(concurrent, Math.floor(budgetCents / epsilonCents));
          const released = outcomes.filter((o) => o.kind === "released");
          assert.equal(released.length, expected, `budget ${budget}, epsilon ${epsilon}, ${concurrent} at once`);
          assert.equal(counted, expected, "only the released counted anything");
          const spent = await stores[0]!.spent(name, new Date(0));
          assert.ok(spent <= budget + 1e-9, `ledger ${spent} > budget ${budget}`);
          assert.ok(Math.abs(spent - expected * epsilon) < 1e-9, `ledger ${spent}, ${expected} × ${epsilon}`);
          // What each one saw: the released ones, in the order the lock let them through, saw their own spends.
          const spends = released.map((o) => o.spent).sort((a, b) => a - b);
          for (const [i, s] of spends.entries()) assert.ok(Math.abs(s - (i + 1) * epsilon) < 1e-9, `spent ${s}`);
          for (const o of outcomes) {
            if (o.kind === "refused") assert.ok(o.spent + epsilon > budget + 1e-9 && o.spent <= budget + 1e-9);
          }
          const [row] = await first.connection.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM insight_releases WHERE name = $1",
            [name],
          );
          assert.equal(row?.n, expected, "stored releases");
          if (released.length < concurrent) refusedSome++;
        },
      ),
      { ...propertyParameters(), numRuns: DB_RUNS },
    );
    // Not vacuous: about half the cases race more releases than the budget holds (none in 30: below 1e-8).
    if (DB_RUNS >= 30) assert.ok(refusedSome > 0, `none of ${DB_RUNS} cases hit the budget`);
    console.log(
      `# budget race: ${DB_RUNS} cases (${refusedSome} hit the budget) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });
});
