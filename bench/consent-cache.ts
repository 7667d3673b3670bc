/**
 * What one subject costs in the consent cache (the `consentCache.subjects`
 * option's memory figure): the heap growth while the real cache, sized for N
 * subjects, reads N distinct subjects through its batched path on an
 * in-memory database (after the same reads through a cache of one, so the
 * database's own warm-up does not count), once for people with no choice on
 * record and once for people with two.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { silentLogger } from "../src/logger.ts";
import { createConsentCache } from "../src/store/consent-cache.ts";
import { openStore } from "../src/store/store.ts";
import { fmt, table } from "./support.ts";

const SUBJECTS = 50_000;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

export async function benchConsentCacheMemory(): Promise<void> {
  const store = await openStore({ kind: "pglite-memory" }, { poolSize: 1 });
  const { connection } = store;
  const rows: Record<string, string>[] = [];
  // Ids as a host's would be, made per request (from a header): a prefix and a UUID-sized tail, 41 characters.
  const id = (prefix: string, i: number) => `${prefix}-${String(i).padStart(36, "0")}`;
  const readAll = async (cache: ReturnType<typeof createConsentCache>, prefix: string) => {
    for (let i = 0; i < SUBJECTS; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => cache.choices(id(prefix, i + j))));
    }
  };
  const newCache = (subjects: number) =>
    createConsentCache(connection, { subjects, timeoutMs: 60_000, maxStalenessMs: 1000, logger: silentLogger });
  const measure = async (label: string, prefix: string) => {
    // The same reads through a cache of one first, so that the database's buffers and compiled code are in place.
    const warm = newCache(1);
    await readAll(warm, prefix);
    await warm.close();
    const before = heapUsed();
    const cache = newCache(SUBJECTS);
    await readAll(cache, prefix);
    const after = heapUsed();
    if (cache.peek(id(prefix, SUBJECTS - 1)) === undefined) throw new Error("a subject was not cached");
    rows.push({ subjects: label, "bytes per subject": fmt((after - before) / SUBJECTS, 0) });
    await cache.close();
  };
  await measure("no choice on record", "none");
  await connection.query(
    `INSERT INTO consent_state ("subjectId", purpose, granted, "receiptId", "policyVersion", "updatedAt")
     SELECT 'two-' || lpad(i::text, 36, '0'), p, p = 'personalization', gen_random_uuid(), 'bench', now()
     FROM generate_series(0, $1::int - 1) AS i, unnest(ARRAY['personalization', 'analytics']) AS p`,
    [SUBJECTS],
  );
  await measure("two choices each", "two");
  await store.close();
  table(`consent cache memory: heap growth over ${SUBJECTS} cached subjects (ids of 41 characters)`, rows);
}
