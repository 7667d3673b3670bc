/**
 * Insight releases and the privacy budget's ledger (tables insight_releases
 * and privacy_budget_spends): every query on them is here.
 *
 * A release is one transaction: it takes its ledger's lock, sums what the
 * ledger spent in the budget's rolling period, and either refuses (before
 * anything is counted or any noise drawn) or counts, hands the raw counts to
 * the caller's noise (src/insights/release.ts), stores the noisy release
 * and its spend, and appends the log entries. Two instances releasing at once
 * queue on the lock, so the second sees the first's spend: the budget is
 * never overspent. The raw counts live only in that transaction's memory.
 */
import { randomUUID } from "node:crypto";
import { appendLogEntry, type PendingLogEntry } from "./compliance-log.ts";
import type { Connection } from "./connection.ts";
import { countKeysInTransaction, type KeyCountSpec } from "./interactions.ts";

/**
 * One released key and its noisy count (the count of distinct people, plus
 * discrete Laplace noise; it can be a little above or below the truth).
 *
 * @example
 * ```ts
 * import type { ReleasedKey } from "consentgate";
 *
 * const keys: ReleasedKey[] = (await gate.insights.latest("popular"))?.keys ?? [];
 * const items = keys.map(({ key }) => key);
 * ```
 */
export interface ReleasedKey {
  /** The key's value, e.g. an item id. */
  key: string;
  /** Its noisy count of distinct people, rounded to a whole number by the noise itself. */
  count: number;
}

/**
 * What `gate.insights.latest()` and `GET /insights/:name` answer: the newest
 * release of an insight, its parameters, and its keys with their noisy
 * counts, highest first. Never a raw count.
 *
 * @example
 * ```ts
 * import type { InsightView } from "consentgate";
 *
 * const popular: InsightView | undefined = await gate.insights.latest("popular", { k: 10 });
 * const coldStart = popular?.keys.map(({ key }) => key) ?? [];
 * ```
 */
export interface InsightView {
  /** The release's name in the policy. */
  name: string;
  /** The purpose whose data it counts. */
  purpose: string;
  /** When it was made. */
  releasedAt: Date;
  /** The epsilon this release spent. */
  epsilon: number;
  /** Its delta: the chance that a key only one person holds is released. */
  delta: number;
  /** The noisy count a key needed to be released. */
  threshold: number;
  /** Released keys with their noisy counts, highest first. */
  keys: ReleasedKey[];
}

/** A release as stored. */
export interface StoredRelease extends InsightView {
  id: string;
}

export interface ReleaseRequest {
  name: string;
  purpose: string;
  epsilon: number;
  delta: number;
  /** The rolling budget: at most `epsilon` spent after `since`, this release included. */
  budget: { epsilon: number; since: Date };
  now: Date;
  count: Omit<KeyCountSpec, "now">;
  /** The log entries that commit with the outcome, made once it is known. */
  logged(outcome: ReleaseOutcome): PendingLogEntry[];
}

export type ReleaseOutcome =
  | { kind: "released"; release: StoredRelease; spent: number }
  | { kind: "refused"; spent: number; budget: number };

/** Turns raw counts into what may be released: noise added, keys below the threshold gone. */
export type Noise = (counts: ReadonlyMap<string, number>) => { threshold: number; keys: ReleasedKey[] };

/** Advisory lock class of the budget ledgers (the subjects' write lock uses 1129270347). */
const LEDGER_LOCK_CLASS = 1129270348;

/**
 * Floating-point slack when comparing sums of epsilons with a budget: eight
 * releases of 0.1 sum to 0.7999999999999999, three of 0.1 to
 * 0.30000000000000004. Far below any epsilon a policy can state.
 */
const BUDGET_SLACK = 1e-9;

const ledgerOf = (name: string) => `insights:${name}`;

export async function releaseInsight(
  connection: Connection,
  request: ReleaseRequest,
  noise: Noise,
): Promise<ReleaseOutcome> {
  const ledger = ledgerOf(request.name);
  return connection.prisma.$transaction(
    async (tx) => {
      await tx.$queryRawUnsafe("SELECT pg_advisory_xact_lock($1::int, hashtext($2))::text", LEDGER_LOCK_CLASS, ledger);
      const spent = await spentInTransaction(tx, ledger, request.budget.since);
      let outcome: ReleaseOutcome;
      if (spent + request.epsilon > request.budget.epsilon + BUDGET_SLACK) {
        outcome = { kind: "refused", spent, budget: request.budget.epsilon };
      } else {
        const counts = await countKeysInTransaction(tx, { ...request.count, now: request.now });
        const { threshold, keys } = noise(counts);
        counts.clear();
        const release: StoredRelease = {
          id: randomUUID(),
          name: request.name,
          purpose: request.purpose,
          releasedAt: request.now,
          epsilon: request.epsilon,
          delta: request.delta,
          threshold,
          keys,
        };
        await tx.$executeRawUnsafe(
          `INSERT INTO insight_releases (id, name, purpose, "releasedAt", epsilon, delta, threshold, keys)
           VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
          release.id,
          release.name,
          release.purpose,
          release.releasedAt,
          release.epsilon,
          release.delta,
          release.threshold,
          JSON.stringify(release.keys),
        );
        await tx.$executeRawUnsafe(
          `INSERT INTO privacy_budget_spends (ledger, "spentAt", epsilon, delta, "releaseId") VALUES ($1, $2, $3, $4, $5::uuid)`,
          ledger,
          request.now,
          request.epsilon,
          request.delta,
          release.id,
        );
        outcome = { kind: "released", release, spent: spent + request.epsilon };
      }
      // Last: each append holds its region's log head until the commit.
      for (const entry of request.logged(outcome)) await appendLogEntry(tx, entry);
      return outcome;
    },
    // Counting reads every unexpired row of the purpose; releases of one name queue on the ledger's lock.
    { maxWait: 10_000, timeout: 120_000 },
  );
}

async function spentInTransaction(
  tx: Pick<Connection["prisma"], "$queryRawUnsafe">,
  ledger: string,
  since: Date,
): Promise<number> {
  const [row] = await tx.$queryRawUnsafe<{ spent: number }[]>(
    `SELECT coalesce(sum(epsilon), 0)::float8 AS spent FROM privacy_budget_spends WHERE ledger = $1 AND "spentAt" > $2`,
    ledger,
    since,
  );
  return row?.spent ?? 0;
}

/** The insight tables as the layers above use them, bound to one open store. */
export interface InsightStore {
  /** Spends from the release's ledger and stores it, or refuses (see releaseInsight). */
  release(request: ReleaseRequest, noise: Noise): Promise<ReleaseOutcome>;
  /** The newest release of `name`, if any. */
  latest(name: string): Promise<StoredRelease | undefined>;
  /** Epsilon the release `name` spent after `since`. */
  spent(name: string, since: Date): Promise<number>;
}

export function createInsightStore(connection: Connection): InsightStore {
  return {
    release: (request, noise) => releaseInsight(connection, request, noise),
    async latest(name) {
      const [row] = await connection.query<StoredRelease>(
        `SELECT id, name, purpose, "releasedAt", epsilon, delta, threshold, keys
         FROM insight_releases WHERE name = $1 ORDER BY "releasedAt" DESC, seq DESC LIMIT 1`,
        [name],
        "consentgate_latest_release",
      );
      return row && { ...row };
    },
    spent: (name, since) => spentInTransaction(connection.prisma, ledgerOf(name), since),
  };
}
