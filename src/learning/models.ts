/**
 * Federated models on the server (policy: `purposes.<p>.learning`,
 * docs/learning.md): defining a model's items in code, serving its current
 * version to devices, and the privacy officer's view of its rounds.
 *
 * Factors travel and rest as little-endian float32, row-major (item i's
 * vector is values [i·d, (i+1)·d)), the layout `consentgate/client` reads.
 * Every server Consentgate runs on (x86-64, ARM64) is little-endian, so a
 * Float32Array over the bytes reads them as they are.
 */
import { randomBytes } from "node:crypto";
import type { ComplianceLog } from "../audit/events.ts";
import { ConsentgateError } from "../errors.ts";
import { zcdpToEpsilon } from "../noise/index.ts";
import { addDuration } from "../policy/duration.ts";
import type { LearningModel, Policy } from "../policy/types.ts";
import {
  float32View,
  type LearningStatus,
  type LearningStore,
  type ModelView,
  type StoredModel,
} from "../store/learning.ts";

export interface LearningDeps {
  readonly policy: Policy;
  readonly store: LearningStore;
  readonly log: Pick<ComplianceLog, "prepare">;
  readonly now: () => Date;
}

/** The most values (items × dimensions) one model may have: 2^22 float32 values, 16 MiB a version and an update. */
export const MAX_MODEL_VALUES = 2 ** 22;
/** The longest item id. */
const MAX_ITEM_LENGTH = 200;

/**
 * How a model's items are given to `gate.learning.define`: a function
 * (sync or async) returning the item ids, in any stable order.
 *
 * @example
 * ```ts
 * import type { ModelDefinition } from "consentgate";
 *
 * const catalogue = { tracks: async () => [{ id: "track-1" }, { id: "track-2" }] }; // the app's own
 * const recommender: ModelDefinition = { items: async () => (await catalogue.tracks()).map((t) => t.id) };
 * await gate.learning.define("recommender", recommender);
 * ```
 */
export interface ModelDefinition {
  /** The item ids the model learns a vector for: unique, non-empty strings of at most 200 characters. */
  items: () => readonly string[] | Promise<readonly string[]>;
}

/** The model `name` of the policy, or `not_found`. */
export function modelOf(policy: Policy, name: string): LearningModel {
  const model = Object.hasOwn(policy.learning, name) ? policy.learning[name] : undefined;
  if (!model) throw new ConsentgateError("not_found", `no federated model named "${name}" in the policy`);
  return model;
}

/** `not_found` for a model of the policy that the code has not defined yet. */
export const notDefined = (name: string) =>
  new ConsentgateError("not_found", `model "${name}" has not been defined yet (gate.learning.define)`);

/** The stored model, or `not_found` when the code has not defined it yet. */
export async function storedModel(deps: Pick<LearningDeps, "policy" | "store">, name: string): Promise<StoredModel> {
  modelOf(deps.policy, name);
  const stored = await deps.store.model(name);
  if (!stored) throw notDefined(name);
  return stored;
}

/**
 * Defines the model's items: the first definition creates version 1 with
 * small random factors (node:crypto; the starting point carries no data);
 * a later one with the same items changes nothing, and one with other items
 * keeps the vectors of the items that stay, starts new ones, and opens a new
 * round (updates made for the old shape cannot be aggregated with the new).
 */
export async function defineModel(deps: LearningDeps, name: string, definition: ModelDefinition): Promise<void> {
  const model = modelOf(deps.policy, name);
  if (typeof definition?.items !== "function") {
    throw new ConsentgateError(
      "invalid_option",
      `gate.learning.define("${name}"): items must be a function returning the item ids`,
    );
  }
  const items = checkItems(name, await definition.items(), model.dimensions);
  const now = deps.now();
  const existing = await deps.store.model(name);
  if (!existing) {
    await deps.store.create(
      {
        name,
        purpose: model.purpose,
        items,
        dimensions: model.dimensions,
        factors: initialFactors(items.length * model.dimensions),
      },
      now,
    );
    return;
  }
  if (existing.dimensions !== model.dimensions) {
    throw new ConsentgateError(
      "invalid_option",
      `model "${name}" was trained with ${existing.dimensions} dimensions and the policy now says ${model.dimensions}; give the new shape a new model name`,
    );
  }
  if (sameItems(existing.items, items)) return;
  await deps.store.reshape(name, items, reshapeFactors(existing, items), now);
}

function checkItems(name: string, items: unknown, dimensions: number): string[] {
  const fail = (why: string) => {
    throw new ConsentgateError("invalid_option", `gate.learning.define("${name}"): ${why}`);
  };
  if (!Array.isArray(items) || items.length === 0) return fail("items must return a non-empty array of item ids");
  const seen = new Set<string>();
  for (const item of items) {
    if (typeof item !== "string" || item.length === 0 || item.length > MAX_ITEM_LENGTH) {
      return fail(`every item id must be a string of 1 to ${MAX_ITEM_LENGTH} characters, got ${JSON.stringify(item)}`);
    }
    if (seen.has(item)) return fail(`item "${item}" is listed twice`);
    seen.add(item);
  }
  if (items.length * dimensions > MAX_MODEL_VALUES) {
    return fail(`${items.length} items × ${dimensions} dimensions is more than ${MAX_MODEL_VALUES} values`);
  }
  return [...items];
}

const sameItems = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((item, i) => item === b[i]);

/**
 * Small random starting factors, uniform in ±0.01: near zero, so the first
 * rounds' updates decide the model, but not zero, where every item's
 * gradient would be the same. Any values would be private; these come from
 * node:crypto like all of Consentgate's randomness.
 */
function initialFactors(values: number): Uint8Array {
  const random = new Uint32Array(randomBytes(values * 4).buffer);
  const factors = new Float32Array(values);
  for (let i = 0; i < values; i++) factors[i] = (random[i]! / 2 ** 32 - 0.5) * 0.02;
  return new Uint8Array(factors.buffer);
}

function reshapeFactors(existing: StoredModel, items: readonly string[]): Uint8Array {
  const d = existing.dimensions;
  const old = float32View(existing.factors);
  const rowOf = new Map(existing.items.map((item, i) => [item, i]));
  const fresh = new Float32Array(initialFactors(items.length * d).buffer);
  items.forEach((item, i) => {
    const row = rowOf.get(item);
    if (row !== undefined) fresh.set(old.subarray(row * d, (row + 1) * d), i * d);
  });
  return new Uint8Array(fresh.buffer);
}

/** What a device downloads (GET /learning/:model). */
export async function modelView(deps: Pick<LearningDeps, "policy" | "store">, name: string): Promise<ModelView> {
  const model = modelOf(deps.policy, name);
  const stored = await deps.store.download(name);
  if (!stored) throw notDefined(name);
  return {
    model: name,
    purpose: model.purpose,
    version: stored.version,
    round: stored.status === "training" ? stored.round : null,
    status: stored.status,
    items: stored.items,
    dimensions: stored.dimensions,
    clip: model.clip,
    factors: stored.factors,
  };
}

export async function learningStatus(
  deps: Pick<LearningDeps, "policy" | "store" | "now">,
  name: string,
): Promise<LearningStatus> {
  const model = modelOf(deps.policy, name);
  const stored = await storedModel(deps, name);
  const [rounds, rho, pending] = await Promise.all([
    deps.store.rounds(name, 50),
    deps.store.spent(name),
    stored.round === null ? Promise.resolve(0) : deps.store.pending(name, stored.round),
  ]);
  const openedAt = stored.roundOpenedAt ?? stored.updatedAt;
  return {
    model: name,
    purpose: model.purpose,
    status: stored.status,
    version: stored.version,
    round:
      stored.round === null
        ? null
        : {
            number: stored.round,
            openedAt,
            pending,
            minClients: model.round.minClients,
            overdue: pending < model.round.minClients && addDuration(openedAt, model.round.maxOpen) <= deps.now(),
          },
    aggregation: model.aggregation,
    trim: model.trim,
    clip: model.clip,
    noise: model.noise,
    learningRate: model.learningRate,
    budget: { ...model.budget },
    spent: { rho, epsilon: rho === 0 ? 0 : zcdpToEpsilon(rho, model.budget.delta) },
    rounds: rounds.map(({ round, openedAt, closedAt, status, participants, rho, version }) => ({
      round,
      openedAt,
      closedAt,
      status,
      participants,
      rho,
      version,
    })),
  };
}
