/**
 * The device's recommender: plays stay on the device, recommendations are
 * computed on the device from the server's item factors and the device's own
 * user vector, and a contribution to a learning round is one clipped, dense
 * change of the item factors (factorization.ts), posted to
 * `POST {api}/learning/{model}/updates`.
 */
import {
  clipToNorm,
  decodeFloat32,
  encodeFloat32,
  gramian,
  type ItemFactors,
  type ItemPlays,
  localUpdate,
  solveUserVector,
  type TrainingOptions,
  topItems,
} from "./factorization.ts";
import { memoryStorage, type RecommenderStorage } from "./storage.ts";

/**
 * The part of `fetch` the recommender uses: the host's own `fetch` fits, and
 * so does a wrapper that adds authentication or retries.
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, type FetchLike } from "consentgate/client";
 *
 * const logged: FetchLike = async (url, init) => {
 *   const response = await fetch(url, init);
 *   console.log(init.method, url, response.status);
 *   return response;
 * };
 * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender", fetch: logged });
 * ```
 */
export type FetchLike = (
  url: string,
  init: {
    method: "GET" | "POST";
    headers: Record<string, string>;
    body?: string;
    credentials?: "omit" | "same-origin" | "include";
  },
) => Promise<{ status: number; json(): Promise<unknown> }>;

/**
 * What `createDeviceRecommender` needs: where the server's learning routes
 * are, which model, and optionally where to keep the device's state, how to
 * reach the server and how to train.
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, indexedDbStorage, type RecommenderOptions } from "consentgate/client";
 *
 * const options: RecommenderOptions = {
 *   api: "https://music.example/privacy",
 *   model: "recommender",
 *   storage: indexedDbStorage(),
 *   credentials: "include",
 *   headers: { "x-requested-with": "consentgate" },
 * };
 * const recommender = createDeviceRecommender(options);
 * ```
 */
export interface RecommenderOptions {
  /** The base of the privacy routes, without a trailing slash: the model is at `{api}/learning/{model}`. */
  api: string;
  /** The model's name in the policy (e.g. "recommender"). */
  model: string;
  /** Where the plays, the user vector and the last contributed round are kept; memory when not given. */
  storage?: RecommenderStorage;
  /** The fetch to use; the host's global fetch when not given. */
  fetch?: FetchLike;
  /** Extra headers on every request (e.g. a CSRF token), or a function that returns them per request. */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** fetch's credentials mode (e.g. "include" to send cookies to another origin). */
  credentials?: "omit" | "same-origin" | "include";
  /** Overrides of the local training's hyperparameters (see `DEFAULT_TRAINING`). */
  training?: Partial<TrainingOptions>;
}

/**
 * What a call to `contribute` did: the round it posted to and the delta's L2
 * norm before clipping, or why it sent nothing: no plays yet, no plays of
 * items the model knows, the server stopped training, the device already
 * contributed to this round (here or, by the server's 409 already_reported,
 * before), the round closed before the post arrived, or the user has not
 * given consent for the model's purpose.
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, type ContributionResult } from "consentgate/client";
 *
 * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender" });
 * const result: ContributionResult = await recommender.contribute();
 * if ("skipped" in result) console.log("nothing sent:", result.skipped);
 * else console.log(`contributed to round ${result.round}`);
 * ```
 */
export type ContributionResult =
  | { round: number; norm: number }
  | {
      skipped:
        | "no_plays"
        | "no_known_plays"
        | "stopped"
        | "already_contributed"
        | "already_reported"
        | "round_closed"
        | "consent_required";
      round?: number;
    };

/**
 * The device's recommender, from `createDeviceRecommender`.
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, type DeviceRecommender } from "consentgate/client";
 *
 * const recommender: DeviceRecommender = createDeviceRecommender({ api: "/privacy", model: "recommender" });
 * await recommender.observe("track-42");
 * ```
 */
export interface DeviceRecommender {
  /**
   * Records one play of `itemId` in the device's storage (the last
   * `MAX_PLAYS` plays are kept). Nothing is sent.
   *
   * @example
   * ```ts
   * import { createDeviceRecommender } from "consentgate/client";
   *
   * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender" });
   * await recommender.observe("track-42");
   * ```
   */
  observe(itemId: string): Promise<void>;
  /**
   * The k item ids with the highest predicted preference for this device,
   * best first, computed on the device (the model is downloaded on first use
   * and cached). Played items are left out unless `includePlayed`; a device
   * with no plays yet gets [] (there is nothing to personalize from).
   *
   * @example
   * ```ts
   * import { createDeviceRecommender } from "consentgate/client";
   *
   * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender" });
   * const next = await recommender.recommend(10);
   * ```
   */
  recommend(k: number, options?: { includePlayed?: boolean }): Promise<string[]>;
  /**
   * Takes part in the current learning round: downloads the model, trains on
   * the stored plays, clips the dense change of the item factors to the
   * model's `clip` and posts it once per round. Throws a `LearningError` on
   * an answer it cannot act on (e.g. 401, 400, 5xx); those in
   * `ContributionResult` are not errors.
   *
   * @example
   * ```ts
   * import { createDeviceRecommender } from "consentgate/client";
   *
   * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender" });
   * // Once a day, when the device is idle and on Wi-Fi:
   * const result = await recommender.contribute();
   * ```
   */
  contribute(): Promise<ContributionResult>;
  /**
   * Downloads the model again (a new version after the server applied a
   * round), so the next `recommend` uses it.
   *
   * @example
   * ```ts
   * import { createDeviceRecommender } from "consentgate/client";
   *
   * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender" });
   * await recommender.refresh();
   * ```
   */
  refresh(): Promise<void>;
}

/**
 * The server's answer that `contribute` (or `refresh`, `recommend`) could not
 * act on: the HTTP status and the error code of the body
 * `{ error: { code, message } }` ("unauthenticated", "invalid_body", …;
 * "invalid_response" when the body is not what the contract says).
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, LearningError } from "consentgate/client";
 *
 * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender" });
 * try {
 *   await recommender.contribute();
 * } catch (error) {
 *   if (error instanceof LearningError && error.status === 401) console.log("sign in first");
 * }
 * ```
 */
export class LearningError extends Error {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The error code of its body, or "invalid_response". */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "LearningError";
    this.status = status;
    this.code = code;
  }
}

/**
 * The local training's hyperparameters when `RecommenderOptions.training`
 * does not set them: those of bench/learning.ts (16 dimensions, 5 000
 * simulated devices, 500 a round, clip 1, server learning rate 100), where
 * 40 rounds reach 0.988× the recall@10 of centralized implicit ALS with the
 * same α and λ. itemRegularization is λ/5 000 there (λ/n for n devices).
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, DEFAULT_TRAINING } from "consentgate/client";
 *
 * const recommender = createDeviceRecommender({
 *   api: "/privacy",
 *   model: "recommender",
 *   training: { epochs: DEFAULT_TRAINING.epochs * 2 },
 * });
 * ```
 */
export const DEFAULT_TRAINING: Readonly<TrainingOptions> = Object.freeze({
  alpha: 4,
  regularization: 5,
  itemRegularization: 0.001,
  learningRate: 0.01,
  epochs: 1,
});

/**
 * How many plays the device keeps (the most recent): enough to describe a
 * taste, bounded so that storage and the user-vector solve stay small.
 *
 * @example
 * ```ts
 * import { MAX_PLAYS } from "consentgate/client";
 *
 * console.log(`the device remembers its last ${MAX_PLAYS} plays`);
 * ```
 */
export const MAX_PLAYS = 500;

/** The model as GET {api}/learning/{model} publishes it, decoded. */
interface PublishedModel {
  version: number;
  round: number | null;
  status: "training" | "stopped";
  itemIds: string[];
  clip: number;
  factors: ItemFactors;
  /** YᵀY, computed once per download. */
  gram: Float64Array;
  rowOf: Map<string, number>;
}

/** The device's state under one storage key per model. */
interface DeviceState {
  /** The last MAX_PLAYS plays, oldest first, as item ids. */
  plays: string[];
  /** x_u against the model version `userVersion`, or null before the first solve. */
  user: number[] | null;
  userVersion: number | null;
  /** The last round this device's delta was accepted for (or reported as already received). */
  contributedRound: number | null;
}

/**
 * The device's side of federated learning for a recommender model: plays
 * stay in `storage`; `recommend` computes locally from the server's item
 * factors and the device's own user vector; `contribute` sends only the
 * clipped, dense change of the item factors for the current round.
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, indexedDbStorage } from "consentgate/client";
 *
 * const recommender = createDeviceRecommender({
 *   api: "/privacy",
 *   model: "recommender",
 *   storage: indexedDbStorage(),
 * });
 * await recommender.observe("track-42"); // on every play
 * const next = await recommender.recommend(10); // item ids, computed on the device
 * const result = await recommender.contribute(); // { round, norm } or { skipped }
 * ```
 */
export function createDeviceRecommender(options: RecommenderOptions): DeviceRecommender {
  const storage = options.storage ?? memoryStorage();
  const training: TrainingOptions = { ...DEFAULT_TRAINING, ...options.training };
  const base = `${options.api}/learning/${encodeURIComponent(options.model)}`;
  const key = `consentgate:learning:${options.model}`;
  let cached: PublishedModel | undefined;
  let contributing: Promise<ContributionResult> | undefined;

  const load = async (): Promise<DeviceState> => {
    const stored = (await storage.get(key)) as Partial<DeviceState> | undefined;
    return {
      plays: Array.isArray(stored?.plays) ? stored.plays : [],
      user: Array.isArray(stored?.user) ? stored.user : null,
      userVersion: typeof stored?.userVersion === "number" ? stored.userVersion : null,
      contributedRound: typeof stored?.contributedRound === "number" ? stored.contributedRound : null,
    };
  };
  const save = (state: DeviceState) => storage.set(key, state);

  const request = async (method: "GET" | "POST", url: string, body?: unknown) => {
    const doFetch: FetchLike = options.fetch ?? (globalThis.fetch as unknown as FetchLike);
    const extra = typeof options.headers === "function" ? await options.headers() : options.headers;
    const headers: Record<string, string> = { accept: "application/json", ...extra };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await doFetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    });
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      json = undefined;
    }
    return { status: response.status, json };
  };

  const download = async (): Promise<PublishedModel> => {
    const { status, json } = await request("GET", base);
    if (status !== 200) throw errorOf(status, json);
    cached = parseModel(json);
    return cached;
  };

  const observe = async (itemId: string): Promise<void> => {
    if (typeof itemId !== "string" || itemId.length === 0)
      throw new TypeError("observe: itemId must be a non-empty string");
    const state = await load();
    state.plays.push(itemId);
    if (state.plays.length > MAX_PLAYS) state.plays.splice(0, state.plays.length - MAX_PLAYS);
    // The user vector no longer matches the plays: recommend solves it again.
    state.userVersion = null;
    await save(state);
  };

  const recommend = async (k: number, recommendOptions: { includePlayed?: boolean } = {}): Promise<string[]> => {
    const model = cached ?? (await download());
    const state = await load();
    const plays = playsOf(state.plays, model.rowOf);
    if (plays.length === 0) return [];
    let user = state.user;
    // x_u is solved again when the model or the plays changed since it was stored.
    if (user === null || state.userVersion !== model.version || user.length !== model.factors.dimensions) {
      user = Array.from(solveUserVector(model.factors, plays, training, model.gram));
      await save({ ...state, user, userVersion: model.version });
    }
    const exclude = recommendOptions.includePlayed ? undefined : new Set(plays.map((play) => play.item));
    return topItems(model.factors, user, Math.min(k, model.itemIds.length), exclude).map((row) => model.itemIds[row]!);
  };

  const contributeOnce = async (): Promise<ContributionResult> => {
    const state = await load();
    if (state.plays.length === 0) return { skipped: "no_plays" };
    const model = await download();
    if (model.status !== "training" || model.round === null) return { skipped: "stopped" };
    const round = model.round;
    if (state.contributedRound === round) return { skipped: "already_contributed", round };
    const plays = playsOf(state.plays, model.rowOf);
    if (plays.length === 0) return { skipped: "no_known_plays", round };
    const { delta } = localUpdate(model.factors, plays, training, model.gram);
    const clipped = clipToNorm(delta, model.clip);
    const { status, json } = await request("POST", `${base}/updates`, { round, delta: encodeFloat32(clipped.delta) });
    const done = async () => save({ ...(await load()), contributedRound: round });
    if (status === 202) {
      await done();
      return { round, norm: clipped.norm };
    }
    const code = errorCode(json);
    if (status === 409 && code === "already_reported") {
      await done();
      return { skipped: "already_reported", round };
    }
    if (status === 409 && code === "round_closed") return { skipped: "round_closed", round };
    if (status === 403 && code === "consent_required") return { skipped: "consent_required", round };
    throw errorOf(status, json);
  };

  return {
    observe,
    recommend,
    contribute: () => {
      // One contribution at a time: a second call while one runs shares its result instead of posting twice.
      contributing ??= contributeOnce().finally(() => {
        contributing = undefined;
      });
      return contributing;
    },
    refresh: async () => {
      await download();
    },
  };
}

/** The stored plays as rows of the model with their counts; items the model does not know are left out. */
function playsOf(itemIds: readonly string[], rowOf: ReadonlyMap<string, number>): ItemPlays[] {
  const counts = new Map<number, number>();
  for (const id of itemIds) {
    const row = rowOf.get(id);
    if (row !== undefined) counts.set(row, (counts.get(row) ?? 0) + 1);
  }
  return [...counts].map(([item, count]) => ({ item, count }));
}

function errorCode(json: unknown): string | undefined {
  const error = (json as { error?: { code?: unknown } } | undefined)?.error;
  return typeof error?.code === "string" ? error.code : undefined;
}

function errorOf(status: number, json: unknown): LearningError {
  const error = (json as { error?: { message?: unknown } } | undefined)?.error;
  const message = typeof error?.message === "string" ? error.message : `the server answered ${status}`;
  return new LearningError(status, errorCode(json) ?? "invalid_response", message);
}

/** The GET body checked against the contract; anything else is a LearningError("invalid_response"). */
function parseModel(json: unknown): PublishedModel {
  const bad = (why: string) => new LearningError(200, "invalid_response", `the model is malformed: ${why}`);
  const body = json as Record<string, unknown> | undefined;
  if (typeof body !== "object" || body === null) throw bad("not an object");
  const { version, round, status, items, dimensions, clip, factors } = body;
  if (!Number.isInteger(version)) throw bad("version");
  if (round !== null && !Number.isInteger(round)) throw bad("round");
  if (status !== "training" && status !== "stopped") throw bad("status");
  if (!Array.isArray(items) || !items.every((id) => typeof id === "string")) throw bad("items");
  if (!Number.isInteger(dimensions) || (dimensions as number) < 1) throw bad("dimensions");
  if (typeof clip !== "number" || !(clip > 0) || !Number.isFinite(clip)) throw bad("clip");
  if (typeof factors !== "string") throw bad("factors");
  const itemIds = items as string[];
  const d = dimensions as number;
  let values: Float32Array;
  try {
    values = decodeFloat32(factors, itemIds.length * d);
  } catch (error) {
    throw bad((error as Error).message);
  }
  const model: ItemFactors = { items: itemIds.length, dimensions: d, factors: values };
  return {
    version: version as number,
    round: round as number | null,
    status,
    itemIds,
    clip,
    factors: model,
    gram: gramian(model),
    rowOf: new Map(itemIds.map((id, row) => [id, row])),
  };
}
