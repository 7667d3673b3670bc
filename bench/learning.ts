/**
 * `npm run bench -- learning`: how well the federated recommender learns, as
 * recall@10 on held-out plays of a synthetic data set, against the
 * popularity baseline and centralized implicit ALS with the same
 * hyperparameters. The federated simulation runs the device's own functions
 * (src/client/factorization.ts) for every participant and keeps the server's
 * side pluggable (aggregate(deltas, clip), noise(aggregate)), so robust
 * aggregation and DP noise run in the same loop; the server clips every upload
 * again before aggregating.
 *
 * DP: every device (all 5 000) takes part in every round, so the mean's
 * replace-one sensitivity 2C/n is small; the clip C is a policy
 * hyperparameter chosen on a no-noise round (a quarter of the honest deltas'
 * median norm; that tuning is not itself private, as in DP-FedAvg), and each
 * noise multiplier z runs for as many rounds as ε = 10 at δ = 10^-6 pays
 * for (ρ = 1/(2z²) a round, composed by addition). Poisoning: from the clean
 * model, a share of each round's devices push a rarely played item along the
 * mean user vector at the clip norm (and ×10, which the server's clip undoes);
 * without noise, to measure robustness alone.
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
import { type Aggregation, aggregateBlock, clipScale, l2Norm, releaseRound } from "../src/aggregation/index.ts";
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

/** A federated schedule: who takes part in a round, the clip, the server's step and the devices' training. */
interface Schedule {
  /** Devices per round: drawn uniformly without replacement, or every user when it is USERS. */
  participants: number;
  /** C: every delta is clipped to this L2 norm (by the device, and again by the server). */
  clip: number;
  /** η_s: Y ← Y + η_s·aggregate. Large against the devices' γ, which keeps each delta small. */
  serverLearningRate: number;
  device: TrainingOptions;
}

/** The no-noise schedule of the first federated run: 500 devices a round, clip 1 (above almost every delta). */
const ROUNDS = 40;
const SAMPLED: Schedule = {
  participants: 500,
  clip: 1,
  serverLearningRate: 100,
  device: {
    ...ALS,
    // λ_Y = λ / n: the mean of the devices' gradients then carries HKV's λ‖Y‖² once.
    itemRegularization: ALS.regularization / USERS,
    learningRate: 0.01,
    epochs: 1,
  },
};
/**
 * The DP schedule: every device in every round (n = USERS shrinks the mean's sensitivity 2C/n tenfold against
 * 500), the clip C set afterwards to a quantile of the honest deltas' norms measured on a no-noise round (see
 * clipFromNorms), and the server's step re-tuned for few rounds.
 */
const EVERYONE: Omit<Schedule, "clip"> = {
  participants: USERS,
  serverLearningRate: 500,
  device: SAMPLED.device,
};
/**
 * C = CLIP_SHARE × the median norm of the honest deltas on a no-noise first round of every device. Chosen on
 * no-noise and DP runs of this bench (a policy hyperparameter; the tuning itself is not private, as in
 * DP-FedAvg): the deltas shrink after the first round, so a clip well under the first round's median clips
 * little later on, while the noise σ = z·2C/n shrinks with C. Tried: median (z = 2: 0.69 × ALS), 10th
 * percentile (0.85 ×), median/4 with η_s 400–800 (0.87–0.90 ×).
 */
const CLIP_SHARE = 0.25;

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

/** What the server adds to the aggregate before applying it (nothing, or DP noise). */
export type Noise = (aggregate: Float64Array) => Float64Array;

export const noNoise: Noise = (aggregate) => aggregate;

/** A device's upload: from the round's factors (and YᵀY) and its plays, the delta it sends (float32). */
export type Device = (model: ItemFactors, gram: Float64Array, user: number) => Float32Array;

/** An honest device: its local update, clipped to C on the device (as src/client does); `norms` records the norms before clipping. */
const honestDevice =
  (data: DataSet, schedule: Schedule, norms?: number[]): Device =>
  (model, gram, user) => {
    const { delta, norm } = clipToNorm(
      localUpdate(model, data.train[user]!, schedule.device, gram).delta,
      schedule.clip,
    );
    norms?.push(norm);
    return Float32Array.from(delta);
  };

interface Simulation {
  data: DataSet;
  start: Float64Array;
  schedule: Schedule;
  aggregation: Aggregation;
  /** The trimmed mean's cut from each end. */
  trim?: number;
  noise: Noise;
  /** Each round's devices as [user, device] pairs (a uniform sample, or a sample with a share of attackers). */
  participantsOf: (random: Xoshiro) => [number, Device][];
  seed: number;
  rounds: number;
}

/** `count` users drawn uniformly without replacement from `pool` (partial Fisher–Yates; `pool` is reordered). */
function sample(random: Xoshiro, pool: number[], count: number): number[] {
  if (count >= pool.length) return pool.slice();
  for (let i = 0; i < count; i++) {
    const j = i + random.below(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

/**
 * Federated rounds: the round's devices train from the current Y; the server clips every upload to C again (an
 * attacker's device need not clip), aggregates, noises and steps: Y ← Y + η_s·noise(aggregate).
 */
function federated(simulation: Simulation): ItemFactors {
  const { schedule } = simulation;
  const random = new Xoshiro(simulation.seed);
  const factors = Float64Array.from(simulation.start);
  const model: ItemFactors = { items: ITEMS, dimensions: DIMENSIONS, factors };
  for (let round = 0; round < simulation.rounds; round++) {
    // YᵀY is the same for every device of the round: computed once, as the server could publish it.
    const gram = gramian(model);
    const participants = simulation.participantsOf(random);
    // The mean is summed as uploads arrive (5 000 dense deltas need not be held); the robust aggregators need them all.
    const sum = new Float64Array(factors.length);
    const clipped: Float32Array[] = [];
    for (const [user, device] of participants) {
      const upload = device(model, gram, user);
      const scale = clipScale(l2Norm(upload), schedule.clip);
      if (simulation.aggregation === "mean") for (let j = 0; j < sum.length; j++) sum[j]! += scale * upload[j]!;
      else clipped.push(scale === 1 ? upload : upload.map((v) => v * scale));
    }
    const aggregate =
      simulation.aggregation === "mean"
        ? sum.map((v) => v / participants.length)
        : aggregateBlock(simulation.aggregation, clipped, factors.length, simulation.trim ?? 0);
    const step = simulation.noise(aggregate);
    for (let j = 0; j < factors.length; j++) factors[j]! += schedule.serverLearningRate * step[j]!;
  }
  return model;
}

/** Every round: `schedule.participants` honest devices drawn uniformly (all users when it is USERS). */
const honestRounds =
  (schedule: Schedule, device: Device): Simulation["participantsOf"] =>
  (random) => {
    const everyone = Array.from({ length: USERS }, (_, u) => u);
    return sample(random, everyone, schedule.participants).map((user) => [user, device]);
  };

/** The median of the honest deltas' norms. */
function medianNorm(norms: readonly number[]): number {
  const sorted = [...norms].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Noise multipliers z of the DP runs (σ = z·Δ, Δ = 2C/n the mean's replace-one sensitivity). */
const NOISE_MULTIPLIERS = [1, 2, 4];
/** The privacy budget a training run may spend: ε at δ. */
const EPSILON_BUDGET = 10;
const DELTA = 1e-6;

/**
 * How many rounds of noise multiplier z the budget pays for: each release is ρ = 1/(2z²)-zCDP (CKS 2020
 * Theorem 14, as releaseRound reports it), rounds compose by adding ρ (Bun and Steinke 2016, Lemma 2.3), and
 * zcdpToEpsilon converts the total to (ε, δ)-DP; the server stops before the round that would pass the budget.
 */
function roundsWithinBudget(z: number): number {
  const rho = 1 / (2 * z * z);
  let rounds = 0;
  while (zcdpToEpsilon(composeRho(Array(rounds + 1).fill(rho)), DELTA) <= EPSILON_BUDGET) rounds++;
  return rounds;
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

  {
    start = performance.now();
    const sampledModel = federated({
      data,
      start: factorStart,
      schedule: SAMPLED,
      aggregation: "mean",
      noise: noNoise,
      participantsOf: honestRounds(SAMPLED, honestDevice(data, SAMPLED)),
      seed: SEED + 1,
      rounds: ROUNDS,
    });
    const sampledRecall = factorRecall(data, sampledModel);
    rows.push({
      model: `federated, mean, no noise (${ROUNDS} rounds × ${SAMPLED.participants} devices, clip ${SAMPLED.clip}, device γ ${SAMPLED.device.learningRate}, server η ${SAMPLED.serverLearningRate})`,
      "recall@10": fmt(sampledRecall, 4),
      "vs ALS": fmt(sampledRecall / als, 3),
      seconds: fmt((performance.now() - start) / 1000),
    });
  }

  // C is a policy hyperparameter, chosen here on a no-noise round of every device (which is itself not private, as
  // in DP-FedAvg's tuning: McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models", §3).
  const norms: number[] = [];
  const probe: Schedule = { ...EVERYONE, clip: Number.MAX_VALUE };
  federated({
    data,
    start: factorStart,
    schedule: probe,
    aggregation: "mean",
    noise: noNoise,
    participantsOf: honestRounds(probe, honestDevice(data, probe, norms)),
    seed: SEED + 1,
    rounds: 1,
  });
  const tuned: Schedule = { ...EVERYONE, clip: CLIP_SHARE * medianNorm(norms) };
  const honest = honestDevice(data, tuned);
  // The DP schedule without noise, for as many rounds as the longest DP run: the reference, and the clean model
  // the poisoning starts from.
  const rounds = Math.max(...NOISE_MULTIPLIERS.map(roundsWithinBudget));
  start = performance.now();
  const tunedModel = federated({
    data,
    start: factorStart,
    schedule: tuned,
    aggregation: "mean",
    noise: noNoise,
    participantsOf: honestRounds(tuned, honest),
    seed: SEED + 1,
    rounds,
  });
  const tunedRecall = factorRecall(data, tunedModel);
  rows.push({
    model: `federated, mean, no noise (${rounds} rounds × ${tuned.participants} devices, clip ${fmt(tuned.clip, 4)} = ${CLIP_SHARE} × the first round's median norm ${fmt(medianNorm(norms), 4)}, device γ ${tuned.device.learningRate} × ${tuned.device.epochs}, server η ${tuned.serverLearningRate})`,
    "recall@10": fmt(tunedRecall, 4),
    "vs ALS": fmt(tunedRecall / als, 3),
    seconds: fmt((performance.now() - start) / 1000),
  });

  {
    for (const z of NOISE_MULTIPLIERS) {
      start = performance.now();
      const rhos: number[] = [];
      const rounds = roundsWithinBudget(z);
      // The server's release: exact discrete Gaussian noise from node:crypto (src/aggregation/noise.ts), never the data's generator.
      const noise: Noise = (aggregate) => {
        const release = releaseRound(aggregate, {
          aggregation: "mean",
          participants: tuned.participants,
          clip: tuned.clip,
          noiseMultiplier: z,
        });
        rhos.push(release.rho);
        return release.values;
      };
      const noisy = federated({
        data,
        start: factorStart,
        schedule: tuned,
        aggregation: "mean",
        noise,
        participantsOf: honestRounds(tuned, honest),
        seed: SEED + 1,
        rounds,
      });
      const noisyRecall = factorRecall(data, noisy);
      const rho = composeRho(rhos);
      rows.push({
        model: `federated, mean, noise multiplier ${z}: ${rounds} rounds, ρ = ${fmt(rho, 3)}, ε = ${fmt(zcdpToEpsilon(rho, DELTA), 2)} at δ = ${DELTA}`,
        "recall@10": fmt(noisyRecall, 4),
        "vs ALS": fmt(noisyRecall / als, 3),
        seconds: fmt((performance.now() - start) / 1000),
      });
    }
  }

  table(
    `Recommender accuracy: recall@10 on ${HELD_OUT} held-out plays per user (${USERS} users × ${ITEMS} items, Zipf ${ZIPF}, planted rank ${TASTE}; data generated in ${fmt(generated / 1000)} s; d = ${DIMENSIONS}, α = ${ALS.alpha}, λ = ${ALS.regularization})`,
    rows,
  );

  poisoning(data, tunedModel, tuned, honest);
}

/** Attack rounds, continuing from the clean federated model without noise (robustness alone). */
const ATTACK_ROUNDS = 3;
/** Devices per attack round: fewer than everyone, because the median and trimmed mean sort every coordinate's values. */
const ATTACK_PARTICIPANTS = 500;
const ATTACKER_SHARES = [0.1, 0.2];
/** The server's aggregations under attack, with the trimmed mean's cut from each end. */
const DEFENCES: [Aggregation, number][] = [
  ["mean", 0],
  ["median", 0],
  ["trimmed-mean", 0.1],
  ["trimmed-mean", 0.25],
];

/** The share of honest users whose top 10 (their training plays left out) holds `target`. */
function hitRate(data: DataSet, model: ItemFactors, target: number, honestFrom: number): number {
  const gram = gramian(model);
  let hits = 0;
  for (let u = honestFrom; u < USERS; u++) {
    const exclude = new Set(data.train[u]!.map((play) => play.item));
    if (topItems(model, solveUserVector(model, data.train[u]!, ALS, gram), K, exclude).includes(target)) hits++;
  }
  return hits / (USERS - honestFrom);
}

/**
 * Model poisoning: a share of each round's devices push one rarely played target item into everyone's top 10 with
 * the target's row along the mean user vector (every other row zero), (a) at the clip norm, (b) ×10 before the
 * server clips it (which the server's clip must undo: (b) equals (a)).
 */
function poisoning(data: DataSet, clean: ItemFactors, schedule: Schedule, honest: Device): void {
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
  const push = (scale: number) => {
    const delta = new Float32Array(ITEMS * DIMENSIONS);
    for (let a = 0; a < DIMENSIONS; a++)
      delta[target * DIMENSIONS + a] = (scale * schedule.clip * direction[a]!) / length;
    return delta;
  };
  const attacks: Record<string, Device> = {
    "(a) at the clip norm": () => push(1),
    "(b) ×10 before the server's clip": () => push(10),
  };
  const schedulePerRound = { ...schedule, participants: ATTACK_PARTICIPANTS };
  // Users below `attackers` are the attackers (user order is random in the data); each round draws exactly
  // share × ATTACK_PARTICIPANTS of them and the rest from the honest users.
  const rounds =
    (share: number, attack: Device): Simulation["participantsOf"] =>
    (random) => {
      const attackers = Math.round(share * USERS);
      const inRound = Math.round(share * ATTACK_PARTICIPANTS);
      const pool = Array.from({ length: attackers }, (_, u) => u);
      const honestPool = Array.from({ length: USERS - attackers }, (_, u) => attackers + u);
      return [
        ...sample(random, pool, inRound).map((user): [number, Device] => [user, attack]),
        ...sample(random, honestPool, ATTACK_PARTICIPANTS - inRound).map((user): [number, Device] => [user, honest]),
      ];
    };
  const rows: Record<string, string | number>[] = [];
  const before = hitRate(data, clean, target, 0);
  for (const [aggregation, trim] of DEFENCES) {
    const start = performance.now();
    const run = (participantsOf: Simulation["participantsOf"]) =>
      federated({
        data,
        start: clean.factors as Float64Array,
        schedule: schedulePerRound,
        aggregation,
        trim,
        noise: noNoise,
        participantsOf,
        seed: SEED + 2,
        rounds: ATTACK_ROUNDS,
      });
    const cleanModel = run(honestRounds(schedulePerRound, honest));
    const row: Record<string, string | number> = {
      aggregation: aggregation === "trimmed-mean" ? `trimmed mean (${trim} each end)` : aggregation,
      "clean hit rate": fmt(hitRate(data, cleanModel, target, 0), 4),
      "clean recall@10": fmt(factorRecall(data, cleanModel), 4),
    };
    for (const share of ATTACKER_SHARES) {
      for (const [name, attack] of Object.entries(attacks)) {
        const attacked = run(rounds(share, attack));
        row[`${share * 100} % ${name.slice(0, 3)}`] = fmt(
          hitRate(data, attacked, target, Math.round(share * USERS)),
          4,
        );
      }
    }
    row.seconds = fmt((performance.now() - start) / 1000);
    rows.push(row);
  }
  table(
    `Poisoning: share of honest users with target item ${target} (${players[target]} players; hit rate ${fmt(before, 4)} in the clean model) in their top 10, after ${ATTACK_ROUNDS} rounds of ${ATTACK_PARTICIPANTS} devices from the clean federated model, no noise; attacks ${Object.keys(attacks).join("; ")}`,
    rows,
  );
}
