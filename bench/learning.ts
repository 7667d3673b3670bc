/**
 * `npm run bench -- learning`: how well the federated recommender learns, as
 * recall@10 on held-out plays of a synthetic data set, against the
 * popularity baseline and centralized implicit ALS with the same
 * hyperparameters. The federated simulation runs the device's own functions
 * (src/client/factorization.ts) for every participant and keeps the server's
 * side pluggable (aggregate(deltas, clip), noise(aggregate)), so robust
 * aggregation and DP noise run in the same loop.
 *
 * The data: shaped like MovieLens-100K but larger (5 000 users × 2 000
 * items); item popularity Zipf with s = 0.99; a planted rank-8 taste
 * structure (user tastes u and item tastes v in R^8, a user's items drawn
 * without replacement with probability ∝ popularity × exp(β·uᵀv)); 20–100
 * distinct items per user, each played 1 + Geometric times; the last 5 items
 * a user drew are held out. Everything comes from one seeded generator
 * (xoshiro128**), so a run is reproducible; it is never a privacy noise
 * source.
 */
import { performance } from "node:perf_hooks";
import { type Aggregation, aggregateBlock, releaseRound } from "../src/aggregation/index.ts";
import {
  clipToNorm,
  gramian,
  type ItemFactors,
  type ItemPlays,
  localUpdate,
  solveUserVector,
  type TrainingOptions,
  topItems,
} from "../src/client/index.ts";
import { composeRho, zcdpToEpsilon } from "../src/noise/index.ts";
import { fmt, table } from "./support.ts";

const USERS = 5000;
const ITEMS = 2000;
const TASTE = 8;
const ZIPF = 0.99;
/** β: how strongly taste bends a user's draws away from plain popularity. */
const BETA = 1.5;
const MIN_ITEMS = 20;
const MAX_ITEMS = 100;
const HELD_OUT = 5;
const K = 10;
const DIMENSIONS = 16;
const SEED = 20_190_126;

/** The hyperparameters every model shares (centralized ALS and the devices). */
const ALS = { alpha: 4, regularization: 5 };
const ALS_ITERATIONS = 12;
/** Initial item factors: N(0, INIT²) per coordinate, the same start for ALS and federated training. */
const INIT = 0.1;

/** The federated schedule. */
const ROUNDS = 40;
const PARTICIPANTS = 500;
const CLIP = 1;
/** Large against the devices' γ: the device's small γ keeps most deltas within the clip, the server scales the mean back up. */
const SERVER_LEARNING_RATE = 100;
const DEVICE: TrainingOptions = {
  ...ALS,
  // λ_Y = λ / n: the mean of the devices' gradients then carries HKV's λ‖Y‖² once.
  itemRegularization: ALS.regularization / USERS,
  learningRate: 0.01,
  epochs: 1,
};

/** xoshiro128** (Blackman and Vigna 2018), seeded through splitmix32: fast, 32-bit, reproducible. */
class Xoshiro {
  readonly #s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32 (the 32-bit variant of Steele, Lea and Flood's SplitMix) spreads the seed over the state.
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  next(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in (0, 1): never 0, so its logarithm is finite. */
  uniform(): number {
    return (this.next() + 0.5) / 2 ** 32;
  }

  /** An integer in [0, n) (the modulo bias, below n / 2^32, does not matter to a benchmark's data). */
  below(n: number): number {
    return this.next() % n;
  }

  /** A standard normal (Box–Muller). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

interface DataSet {
  /** Each user's training plays (item rows with counts). */
  train: ItemPlays[][];
  /** Each user's held-out items. */
  heldOut: number[][];
}

function generate(random: Xoshiro): DataSet {
  const users = Float64Array.from({ length: USERS * TASTE }, () => random.normal() / Math.sqrt(TASTE));
  const tastes = Float64Array.from({ length: ITEMS * TASTE }, () => random.normal());
  // Zipf ranks in a random order, so popularity is independent of taste.
  const ranks = Array.from({ length: ITEMS }, (_, i) => i + 1);
  for (let i = ITEMS - 1; i > 0; i--) {
    const j = random.below(i + 1);
    [ranks[i], ranks[j]] = [ranks[j]!, ranks[i]!];
  }
  const logPopularity = ranks.map((rank) => -ZIPF * Math.log(rank));
  const train: ItemPlays[][] = [];
  const heldOut: number[][] = [];
  const keys = new Float64Array(ITEMS);
  for (let u = 0; u < USERS; u++) {
    // Efraimidis and Spirakis 2006: keys log(U)/w, the largest first, are a weighted draw without replacement in order.
    for (let i = 0; i < ITEMS; i++) {
      let affinity = 0;
      for (let t = 0; t < TASTE; t++) affinity += users[u * TASTE + t]! * tastes[i * TASTE + t]!;
      keys[i] = Math.log(random.uniform()) / Math.exp(logPopularity[i]! + BETA * affinity);
    }
    const count = MIN_ITEMS + random.below(MAX_ITEMS - MIN_ITEMS + 1);
    const drawn = Array.from({ length: ITEMS }, (_, i) => i)
      .sort((a, b) => keys[b]! - keys[a]!)
      .slice(0, count);
    train.push(
      drawn.slice(0, count - HELD_OUT).map((item) => {
        let plays = 1;
        while (random.uniform() < 0.5) plays++;
        return { item, count: plays };
      }),
    );
    heldOut.push(drawn.slice(count - HELD_OUT));
  }
  return { train, heldOut };
}

/** recall@K: the share of each user's held-out items in the K best-scored items not in its training plays. */
function recall(data: DataSet, score: (user: number, exclude: Set<number>) => number[]): number {
  let hits = 0;
  for (let u = 0; u < USERS; u++) {
    const exclude = new Set(data.train[u]!.map((play) => play.item));
    const top = new Set(score(u, exclude));
    for (const item of data.heldOut[u]!) if (top.has(item)) hits++;
  }
  return hits / (USERS * HELD_OUT);
}

function popularityRecall(data: DataSet): number {
  const players = new Float64Array(ITEMS);
  for (const plays of data.train) for (const { item } of plays) players[item]!++;
  // Popularity as a one-dimensional model: every user's vector is [1].
  const model = { items: ITEMS, dimensions: 1, factors: players };
  return recall(data, (_, exclude) => topItems(model, [1], K, exclude));
}

/** recall@K of item factors Y: each user's x_u solved on the device from its training plays (HKV eq. 4). */
function factorRecall(data: DataSet, model: ItemFactors): number {
  const gram = gramian(model);
  return recall(data, (u, exclude) => topItems(model, solveUserVector(model, data.train[u]!, ALS, gram), K, exclude));
}

function initialFactors(random: Xoshiro): Float64Array {
  return Float64Array.from({ length: ITEMS * DIMENSIONS }, () => INIT * random.normal());
}

/** Centralized implicit ALS (HKV §4): alternate the exact user solves (eq. 4) and item solves (eq. 5). */
function centralizedAls(data: DataSet, start: Float64Array): ItemFactors {
  const byItem: ItemPlays[][] = Array.from({ length: ITEMS }, () => []);
  data.train.forEach((plays, u) => {
    for (const { item, count } of plays) byItem[item]!.push({ item: u, count });
  });
  const items: ItemFactors = { items: ITEMS, dimensions: DIMENSIONS, factors: Float64Array.from(start) };
  const users = new Float64Array(USERS * DIMENSIONS);
  for (let iteration = 0; iteration < ALS_ITERATIONS; iteration++) {
    const itemGram = gramian(items);
    for (let u = 0; u < USERS; u++) users.set(solveUserVector(items, data.train[u]!, ALS, itemGram), u * DIMENSIONS);
    // Eq. 5 is eq. 4 with the roles swapped: the "model" is X, the "plays" are the item's players.
    const userModel = { items: USERS, dimensions: DIMENSIONS, factors: users };
    const userGram = gramian(userModel);
    const factors = items.factors as Float64Array;
    for (let i = 0; i < ITEMS; i++) factors.set(solveUserVector(userModel, byItem[i]!, ALS, userGram), i * DIMENSIONS);
  }
  return items;
}

/** The server's combination of a round's clipped deltas (mean, median, trimmed mean, …). */
export type Aggregate = (deltas: readonly Float32Array[], clip: number) => Float64Array;
/** What the server adds to the aggregate before applying it (nothing, or DP noise). */
export type Noise = (aggregate: Float64Array) => Float64Array;

/** Coordinate-wise mean: FedAvg with equal weights (McMahan et al. 2017). */
export const meanAggregate: Aggregate = (deltas) => {
  const sum = new Float64Array(deltas[0]!.length);
  for (const delta of deltas) for (let j = 0; j < sum.length; j++) sum[j]! += delta[j]!;
  for (let j = 0; j < sum.length; j++) sum[j]! /= deltas.length;
  return sum;
};

export const noNoise: Noise = (aggregate) => aggregate;

/** A device's contribution: from the round's factors and its plays, the clipped delta as float32 (what it sends). */
export type Device = (model: ItemFactors, gram: Float64Array, user: number, clip: number) => Float32Array;

const honestDevice =
  (data: DataSet): Device =>
  (model, gram, user, clip) =>
    Float32Array.from(clipToNorm(localUpdate(model, data.train[user]!, DEVICE, gram).delta, clip).delta);

interface Simulation {
  data: DataSet;
  start: Float64Array;
  aggregate: Aggregate;
  noise: Noise;
  /** Which device each user runs (honest, or an attacker's). */
  deviceOf: (user: number) => Device;
  seed: number;
  rounds: number;
}

/** Federated rounds: PARTICIPANTS users drawn per round train from the current Y; Y ← Y + η_s·noise(aggregate). */
function federated(simulation: Simulation): ItemFactors {
  const random = new Xoshiro(simulation.seed);
  const factors = Float64Array.from(simulation.start);
  const model: ItemFactors = { items: ITEMS, dimensions: DIMENSIONS, factors };
  const everyone = Array.from({ length: USERS }, (_, u) => u);
  for (let round = 0; round < simulation.rounds; round++) {
    // Partial Fisher–Yates: the first PARTICIPANTS entries are a uniform sample without replacement.
    for (let i = 0; i < PARTICIPANTS; i++) {
      const j = i + random.below(USERS - i);
      [everyone[i], everyone[j]] = [everyone[j]!, everyone[i]!];
    }
    // YᵀY is the same for every device of the round: computed once, as the server could publish it.
    const gram = gramian(model);
    const deltas = everyone.slice(0, PARTICIPANTS).map((user) => simulation.deviceOf(user)(model, gram, user, CLIP));
    const step = simulation.noise(simulation.aggregate(deltas, CLIP));
    for (let j = 0; j < factors.length; j++) factors[j]! += SERVER_LEARNING_RATE * step[j]!;
  }
  return model;
}

export async function benchLearning(): Promise<void> {
  const random = new Xoshiro(SEED);
  let start = performance.now();
  const data = generate(random);
  const generated = performance.now() - start;
  const factorStart = initialFactors(random);

  const rows: Record<string, string | number>[] = [];
  start = performance.now();
  const popularity = popularityRecall(data);
  rows.push({
    model: "popularity",
    "recall@10": fmt(popularity, 4),
    "vs ALS": "",
    seconds: fmt((performance.now() - start) / 1000),
  });

  start = performance.now();
  const als = factorRecall(data, centralizedAls(data, factorStart));
  rows.push({
    model: `centralized implicit ALS, ${ALS_ITERATIONS} iterations`,
    "recall@10": fmt(als, 4),
    "vs ALS": "1.000",
    seconds: fmt((performance.now() - start) / 1000),
  });

  const honest = honestDevice(data);
  start = performance.now();
  const federatedModel = federated({
    data,
    start: factorStart,
    aggregate: meanAggregate,
    noise: noNoise,
    deviceOf: () => honest,
    seed: SEED + 1,
    rounds: ROUNDS,
  });
  const fedRecall = factorRecall(data, federatedModel);
  rows.push({
    model: `federated, mean, no noise (${ROUNDS} rounds × ${PARTICIPANTS} devices)`,
    "recall@10": fmt(fedRecall, 4),
    "vs ALS": fmt(fedRecall / als, 3),
    seconds: fmt((performance.now() - start) / 1000),
  });

  for (const z of NOISE_MULTIPLIERS) {
    start = performance.now();
    const rhos: number[] = [];
    // The server's release: exact discrete Gaussian noise from node:crypto (src/aggregation/noise.ts), never the data's generator.
    const noise: Noise = (aggregate) => {
      const release = releaseRound(aggregate, {
        aggregation: "mean",
        participants: PARTICIPANTS,
        clip: CLIP,
        noiseMultiplier: z,
      });
      rhos.push(release.rho);
      return release.values;
    };
    const noisy = federated({
      data,
      start: factorStart,
      aggregate: meanAggregate,
      noise,
      deviceOf: () => honest,
      seed: SEED + 1,
      rounds: ROUNDS,
    });
    const noisyRecall = factorRecall(data, noisy);
    const rho = composeRho(rhos);
    rows.push({
      model: `federated, mean, noise multiplier ${z}: ρ = ${fmt(rho, 2)}, ε = ${fmt(zcdpToEpsilon(rho, DELTA), 1)} at δ = ${DELTA}`,
      "recall@10": fmt(noisyRecall, 4),
      "vs ALS": fmt(noisyRecall / als, 3),
      seconds: fmt((performance.now() - start) / 1000),
    });
  }

  table(
    `Recommender accuracy: recall@10 on ${HELD_OUT} held-out plays per user (${USERS} users × ${ITEMS} items, Zipf ${ZIPF}, planted rank ${TASTE}; data generated in ${fmt(generated / 1000)} s; d = ${DIMENSIONS}, α = ${ALS.alpha}, λ = ${ALS.regularization}, clip ${CLIP}, device γ ${DEVICE.learningRate} × ${DEVICE.epochs} epoch(s), server η ${SERVER_LEARNING_RATE})`,
    rows,
  );

  poisoning(data, federatedModel, honest);
}

/** Noise multipliers z of the DP runs (σ = z·Δ, Δ = 2C/n the mean's replace-one sensitivity). */
const NOISE_MULTIPLIERS = [1, 2, 4];
const DELTA = 1e-6;
/** Attack rounds, continuing from the clean federated model. */
const ATTACK_ROUNDS = 10;
const ATTACKER_SHARES = [0.1, 0.2];
/** The trimmed mean cuts this share from each end: enough to cut all attackers at 20 %. */
const TRIM = 0.25;

const robustAggregate =
  (aggregation: Aggregation): Aggregate =>
  (deltas) =>
    aggregateBlock(aggregation, deltas, deltas[0]!.length, aggregation === "trimmed-mean" ? TRIM : 0);

/** The share of honest users whose top 10 (their training plays left out) holds `target`. */
function hitRate(data: DataSet, model: ItemFactors, target: number, attackers: (user: number) => boolean): number {
  const gram = gramian(model);
  let honest = 0;
  let hits = 0;
  for (let u = 0; u < USERS; u++) {
    if (attackers(u)) continue;
    honest++;
    const exclude = new Set(data.train[u]!.map((play) => play.item));
    if (topItems(model, solveUserVector(model, data.train[u]!, ALS, gram), K, exclude).includes(target)) hits++;
  }
  return hits / honest;
}

/**
 * Model poisoning: a share of the devices push one target item into everyone's top 10, (a) with a consistent
 * update at the clip norm (the target's row along the mean user direction, every other row zero), (b) with
 * that push added to an honest update and the sum scaled ×10 before clipping (boosting, which clipping undoes).
 */
function poisoning(data: DataSet, clean: ItemFactors, honest: Device): void {
  const factors = clean.factors;
  // A rarely played item, so that its clean hit rate is low.
  const players = new Float64Array(ITEMS);
  for (const plays of data.train) for (const { item } of plays) players[item]!++;
  const target = players.indexOf(Math.min(...players.filter((count) => count > 0)));
  // The direction every user's score grows along: the mean of the users' vectors, as an attacker can estimate it.
  const gram = gramian(clean);
  const direction = new Float64Array(DIMENSIONS);
  for (let u = 0; u < USERS; u++) {
    const x = solveUserVector(clean, data.train[u]!, ALS, gram);
    for (let a = 0; a < DIMENSIONS; a++) direction[a]! += x[a]!;
  }
  const length = Math.hypot(...direction);
  const push = new Float64Array(ITEMS * DIMENSIONS);
  for (let a = 0; a < DIMENSIONS; a++) push[target * DIMENSIONS + a] = (CLIP * direction[a]!) / length;
  const attacks: Record<string, Device> = {
    "(a) consistent, at the clip norm": (_model, _gram, _user, clip) => Float32Array.from(clipToNorm(push, clip).delta),
    "(b) honest + push, ×10 before clipping": (model, roundGram, user, clip) => {
      const { delta } = localUpdate(model, data.train[user]!, DEVICE, roundGram);
      const boosted = delta.map((v, j) => 10 * (v + push[j]!));
      return Float32Array.from(clipToNorm(boosted, clip).delta);
    },
  };
  const rows: Record<string, string | number>[] = [];
  for (const aggregation of ["mean", "median", "trimmed-mean"] as const) {
    const start = performance.now();
    const cleanModel = federated({
      data,
      start: Float64Array.from(factors),
      aggregate: robustAggregate(aggregation),
      noise: noNoise,
      deviceOf: () => honest,
      seed: SEED + 2,
      rounds: ATTACK_ROUNDS,
    });
    const row: Record<string, string | number> = {
      aggregation: aggregation === "trimmed-mean" ? `trimmed mean (${TRIM} each end)` : aggregation,
      "clean hit rate": fmt(
        hitRate(data, cleanModel, target, () => false),
        4,
      ),
      "clean recall@10": fmt(factorRecall(data, cleanModel), 4),
    };
    for (const share of ATTACKER_SHARES) {
      // Users below share·USERS are the attackers (user order is random in the data).
      const isAttacker = (user: number) => user < share * USERS;
      for (const [name, attack] of Object.entries(attacks)) {
        const attacked = federated({
          data,
          start: Float64Array.from(factors),
          aggregate: robustAggregate(aggregation),
          noise: noNoise,
          deviceOf: (user) => (isAttacker(user) ? attack : honest),
          seed: SEED + 2,
          rounds: ATTACK_ROUNDS,
        });
        row[`${share * 100} % ${name.slice(0, 3)}`] = fmt(hitRate(data, attacked, target, isAttacker), 4);
      }
    }
    row.seconds = fmt((performance.now() - start) / 1000);
    rows.push(row);
  }
  table(
    `Poisoning: share of honest users with target item ${target} (${players[target]} players) in their top 10, after ${ATTACK_ROUNDS} more rounds from the clean federated model; attacks ${Object.keys(attacks).join("; ")}`,
    rows,
  );
}
