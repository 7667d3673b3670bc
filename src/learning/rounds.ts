/**
 * The `learning` job (docs/learning.md): for each defined model, closes the
 * open round once it holds `minClients` updates and the privacy budget can
 * pay for it, aggregates the updates (clipped again; mean, median or trimmed
 * mean; read in coordinate blocks, so memory stays O(participants × block)),
 * adds Gaussian noise from the exact discrete Gaussian sampler, takes the
 * server's step, and publishes the next version, deleting the round's
 * updates in the same transaction.
 *
 * Privacy accounting (zCDP): a round adds noise of σ = z·Δ, where Δ is the
 * aggregator's L2 sensitivity for the round's n participants
 * (src/aggregation/sensitivity.ts derives it: 2C/n for the mean, 2C/(n−2k)
 * for the trimmed mean, 2C or C for the median), so each round is
 * ρ = 1/(2z²)-zCDP whatever the aggregator (CKS 2020, Theorem 14; the
 * fixed-point rounding is inside Δ_int, src/aggregation/noise.ts). Rounds
 * compose by adding ρ (Bun & Steinke 2016, Lemma 2.3), and the total is
 * stated as (ε, δ) at the budget's δ (CKS 2020, Corollary 13). The round's ρ
 * is reserved when it closes, under the model's row lock, so two instances
 * can never overspend; when the next round would exceed the budget,
 * training stops (`learning.stopped`) and the waiting updates are deleted.
 *
 * What the robust aggregators cost: the median's Δ does not shrink with n,
 * so at the same z its noise is about n/2 times the mean's; the trimmed
 * mean's is n/(n−2k) times. The budget buys the same number of rounds; the
 * median's rounds are just much noisier (README: Federated learning).
 */
import { aggregateRound, releaseRound } from "../aggregation/index.ts";
import { discreteGaussianRho, rationalFromDecimal, zcdpToEpsilon } from "../noise/index.ts";
import type { LearningModel } from "../policy/types.ts";
import { float32View, type LearningJobResult, type StoredModel } from "../store/learning.ts";
import { type LearningDeps, modelOf } from "./models.ts";

/** What the job did to one model. */
type LearningRoundResult = LearningJobResult["models"][number];

/** Slack when comparing a spent epsilon with the budget (floating-point sums). */
const BUDGET_SLACK = 1e-9;
/** How many bytes of updates one coordinate block reads (participants × block × 4). */
const BLOCK_BYTES = 2 * 2 ** 20;
/** Re-aggregations after erasures removed participants mid-way, before giving the round up until the next run. */
const MAX_ATTEMPTS = 3;

/** ρ of one round at noise multiplier z: 1/(2z²), exactly as the noise is drawn (z as the decimal the policy wrote). */
export function roundRho(noise: number): number {
  const z = rationalFromDecimal(noise);
  return discreteGaussianRho({ l2Sensitivity: 1, sigma2: { num: z.num * z.num, den: z.den * z.den } });
}

/** The learning job: every model of the policy, in turn. */
export async function runLearning(deps: LearningDeps, now: Date): Promise<LearningJobResult> {
  const models: LearningRoundResult[] = [];
  for (const name of Object.keys(deps.policy.learning)) models.push(...(await trainModel(deps, name, now)));
  return { models };
}

async function trainModel(deps: LearningDeps, name: string, now: Date): Promise<LearningRoundResult[]> {
  const model = modelOf(deps.policy, name);
  if (!(await deps.store.model(name))) return [{ model: name, outcome: "not_defined" }];
  const results: LearningRoundResult[] = [];
  // Rounds a crashed run closed but never published come first: their rho is already reserved.
  for (const round of await deps.store.aggregating(name)) results.push(await aggregate(deps, model, round.round, now));
  const rho = roundRho(model.noise);
  const closed = await deps.store.close({
    model: name,
    minClients: model.round.minClients,
    now,
    rhoFor: () => rho,
    withinBudget: (total) => zcdpToEpsilon(total, model.budget.delta) <= model.budget.epsilon + BUDGET_SLACK,
    aggregation: model.aggregation,
    clip: model.clip,
    noise: model.noise,
    stopped: ({ round, spent, pending }) =>
      Object.keys(deps.policy.regions).map((region) =>
        deps.log.prepare({
          region,
          event: "learning.stopped",
          details: {
            model: name,
            purpose: model.purpose,
            round,
            epsilon: spent === 0 ? 0 : zcdpToEpsilon(spent, model.budget.delta),
            budget: model.budget.epsilon,
            delta: model.budget.delta,
            deletedUpdates: pending,
            code: "budget_exhausted",
          },
        }),
      ),
  });
  switch (closed.kind) {
    case "not_training":
      results.push({ model: name, outcome: "not_training" });
      break;
    case "waiting":
      results.push({ model: name, outcome: "waiting", round: closed.round, pending: closed.pending });
      break;
    case "stopped":
      results.push({ model: name, outcome: "stopped", round: closed.round, pending: closed.pending });
      break;
    case "closed":
      results.push(await aggregate(deps, model, closed.round, now));
      break;
  }
  return results;
}

/**
 * Aggregates a closed round and publishes it. Erasures may delete updates
 * while it reads: the blocks then disagree on who is in the round, or the
 * publish finds fewer rows, and it starts again with those left (the noise
 * drawn for a result never published costs no privacy). Below minClients,
 * the round is abandoned and its reservation given back.
 */
async function aggregate(
  deps: LearningDeps,
  model: LearningModel,
  round: number,
  now: Date,
): Promise<LearningRoundResult> {
  const name = model.model;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = (await deps.store.model(name)) as StoredModel;
    const dimensions = current.items.length * current.dimensions;
    const n = await deps.store.pending(name, round);
    if (n < model.round.minClients) {
      await deps.store.abandon(name, round, now);
      return { model: name, outcome: "abandoned", round, participants: n };
    }
    const aggregate = await readAndAggregate(deps, model, round, n, dimensions);
    if (aggregate === undefined) continue;
    const noisy = releaseRound(aggregate, {
      aggregation: model.aggregation,
      participants: n,
      clip: model.clip,
      trim: model.trim,
      noiseMultiplier: model.noise,
    });
    const factors = float32View(current.factors).slice();
    for (let i = 0; i < dimensions; i++) factors[i] = factors[i]! + model.learningRate * noisy.values[i]!;
    // The round's own rho was reserved when it closed: the ledger already holds it.
    const epsilon = zcdpToEpsilon(await deps.store.spent(name), model.budget.delta);
    let version = current.version + 1;
    const outcome = await deps.store.publish({
      model: name,
      round,
      participants: n,
      from: current.version,
      factors: new Uint8Array(factors.buffer),
      now,
      logged: (published) => {
        version = published;
        return Object.keys(deps.policy.regions).map((region) =>
          deps.log.prepare({
            region,
            event: "learning.round",
            details: {
              model: name,
              purpose: model.purpose,
              round,
              participants: n,
              version: published,
              aggregation: model.aggregation,
              epsilon,
              budget: model.budget.epsilon,
            },
          }),
        );
      },
    });
    if (outcome === "published") return { model: name, outcome: "published", round, participants: n, version, epsilon };
  }
  return { model: name, outcome: "waiting", round };
}

/** Thrown from a block read when the round's participants are no longer those of its first block. */
class ParticipantsChanged extends Error {}

/** The round's clipped aggregate, or undefined when its participants changed while it was read. */
async function readAndAggregate(
  deps: LearningDeps,
  model: LearningModel,
  round: number,
  n: number,
  dimensions: number,
) {
  let subjects: string[] | undefined;
  const blockSize = Math.max(1, Math.min(dimensions, Math.floor(BLOCK_BYTES / (4 * n))));
  try {
    return await aggregateRound({
      participants: n,
      dimensions,
      clip: model.clip,
      aggregation: model.aggregation,
      trim: model.trim,
      blockSize,
      readBlock: async (offset, length) => {
        const block = await deps.store.block(model.model, round, offset, length);
        subjects ??= block.subjects;
        if (block.subjects.length !== n || block.subjects.some((subject, i) => subject !== subjects![i])) {
          throw new ParticipantsChanged();
        }
        return block.values;
      },
    });
  } catch (error) {
    if (error instanceof ParticipantsChanged) return undefined;
    throw error;
  }
}
