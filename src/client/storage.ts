/**
 * Where the device keeps its learning state (its plays, its user vector, the
 * last round it contributed to): a plain key-value adapter, so a host can
 * use IndexedDB, memory, or its own store. Nothing stored here is ever sent.
 */

/**
 * A key-value store for the device's own state. Values are plain JSON-like
 * data (objects, arrays, numbers, strings, null). `get` answers undefined for
 * a key never set. Either method may be synchronous or return a promise.
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, type RecommenderStorage } from "consentgate/client";
 *
 * // The browser's localStorage as the store (values are small: at most 500 plays and one vector).
 * declare const localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
 * const storage: RecommenderStorage = {
 *   get: (key) => {
 *     const text = localStorage.getItem(key);
 *     return text === null ? undefined : JSON.parse(text);
 *   },
 *   set: (key, value) => localStorage.setItem(key, JSON.stringify(value)),
 * };
 * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender", storage });
 * ```
 */
export interface RecommenderStorage {
  /** The value stored under `key`, or undefined. */
  get(key: string): unknown | Promise<unknown>;
  /** Stores `value` under `key`, replacing what was there. */
  set(key: string, value: unknown): void | Promise<void>;
}

/**
 * A store in memory: the state lasts as long as the page (or the process).
 * Values are copied in and out (structuredClone), as a real store would.
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, memoryStorage } from "consentgate/client";
 *
 * const recommender = createDeviceRecommender({ api: "/privacy", model: "recommender", storage: memoryStorage() });
 * ```
 */
export function memoryStorage(): RecommenderStorage {
  const values = new Map<string, unknown>();
  return {
    get: (key) => (values.has(key) ? structuredClone(values.get(key)) : undefined),
    set: (key, value) => {
      values.set(key, structuredClone(value));
    },
  };
}

/** The few pieces of the IndexedDB API this file uses (the package has no DOM types). */
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}
interface IdbDatabase {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: "readonly" | "readwrite"): { objectStore(name: string): IdbStore };
}
interface IdbStore {
  get(key: string): IdbRequest<unknown>;
  put(value: unknown, key: string): IdbRequest<unknown>;
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

const STORE = "state";

function settle<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * A store in the browser's IndexedDB (database `name`, one object store), so
 * the device's plays and user vector survive reloads. The database is opened
 * on first use; where there is no IndexedDB (Node, some private modes) the
 * first get or set rejects with an Error.
 *
 * @example
 * ```ts
 * import { createDeviceRecommender, indexedDbStorage } from "consentgate/client";
 *
 * const recommender = createDeviceRecommender({
 *   api: "/privacy",
 *   model: "recommender",
 *   storage: indexedDbStorage("my-app-learning"),
 * });
 * ```
 */
export function indexedDbStorage(name = "consentgate-learning"): RecommenderStorage {
  let database: Promise<IdbDatabase> | undefined;
  const open = (): Promise<IdbDatabase> => {
    database ??= new Promise<IdbDatabase>((resolve, reject) => {
      const factory = (globalThis as { indexedDB?: IdbFactory }).indexedDB;
      if (factory === undefined) return reject(new Error("indexedDbStorage: this host has no IndexedDB"));
      const request = factory.open(name, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
      };
      settle(request).then(resolve, reject);
    });
    return database;
  };
  return {
    get: async (key) => settle((await open()).transaction(STORE, "readonly").objectStore(STORE).get(key)),
    set: async (key, value) => {
      await settle((await open()).transaction(STORE, "readwrite").objectStore(STORE).put(value, key));
    },
  };
}
