/**
 * The in-process cache of consent choices, so a warm gated write costs no
 * database round trip, and the rule that keeps it honest: a change made on
 * any instance is seen by every instance within one second.
 *
 * On PostgreSQL every change is announced with NOTIFY in the transaction that
 * makes it (src/store/consents.ts); each instance LISTENs on a dedicated
 * connection and drops the subject's entry. A dead or silent listener would
 * serve stale choices, so the listener is also probed: PostgreSQL delivers
 * pending notifications before it answers a query, so when a probe sent at
 * time S is answered, every change committed before S has been seen. Cached
 * choices are served only while the last answered probe is under
 * `maxStalenessMs` old; otherwise reads go to the database.
 *
 * On PGlite there is one process, and local invalidation is the whole story.
 */
import { LRUCache } from "lru-cache";
import type pg from "pg";
import type { Choice } from "../decision/decide.ts";
import { ConsentgateError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Connection } from "./connection.ts";
import { CONSENT_CHANNEL, loadChoices } from "./consents.ts";

export interface ConsentCacheOptions {
  /** Subjects kept. Default 10 000. */
  max?: number;
  /** A choice read that takes longer fails closed. Default 2000 ms. */
  timeoutMs?: number;
  /** The longest a change may go unseen. Default 1000 ms (docs/deployment.md: Several instances). */
  maxStalenessMs?: number;
  logger: Logger;
}

export interface ConsentCache {
  /** The subject's latest choices; rejects with `consent_unavailable` when they cannot be read. */
  choices(subjectId: string): Promise<ReadonlyMap<string, Choice>>;
  /** The subject's choices if they are cached and provably fresh; no I/O (the gate's warm path). */
  peek(subjectId: string): ReadonlyMap<string, Choice> | undefined;
  /** Forget a subject after this instance changed its choices. */
  changed(subjectId: string): void;
  close(): Promise<void>;
}

export function createConsentCache(connection: Connection, options: ConsentCacheOptions): ConsentCache {
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxStalenessMs = options.maxStalenessMs ?? 1000;
  const entries = new LRUCache<string, ReadonlyMap<string, Choice>>({ max: options.max ?? 10_000 });
  // Bumped on every invalidation: a read that raced with one must not be cached.
  let epoch = 0;
  const invalidate = (subjectId?: string) => {
    epoch++;
    if (subjectId === undefined) entries.clear();
    else entries.delete(subjectId);
  };
  const listener = connection.dedicatedClient
    ? listen(connection.dedicatedClient, invalidate, maxStalenessMs, options.logger)
    : undefined;
  const fresh = () => listener === undefined || listener.freshSince() >= Date.now() - maxStalenessMs;

  return {
    async choices(subjectId) {
      if (fresh()) {
        const hit = entries.get(subjectId);
        if (hit) return hit;
      }
      const started = epoch;
      const loaded = await withTimeout(loadChoices(connection, subjectId), timeoutMs);
      if (epoch === started && fresh()) entries.set(subjectId, loaded);
      return loaded;
    },
    peek: (subjectId) => (fresh() ? entries.get(subjectId) : undefined),
    changed: invalidate,
    async close() {
      invalidate();
      await listener?.close();
    },
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout])
    .catch((error: unknown) => {
      throw new ConsentgateError(
        "consent_unavailable",
        "consent state cannot be read right now; nothing was stored",
        {},
        { cause: error },
      );
    })
    .finally(() => clearTimeout(timer));
}

interface Listener {
  /** The send time of the last probe answered; 0 while not listening. */
  freshSince(): number;
  close(): Promise<void>;
}

function listen(
  newClient: () => pg.Client,
  invalidate: (subjectId?: string) => void,
  maxStalenessMs: number,
  logger: Logger,
): Listener {
  let client: pg.Client | undefined;
  let freshSince = 0;
  let closed = false;
  let probing = false;
  const probeEvery = Math.max(50, Math.floor(maxStalenessMs / 4));

  const drop = (reason: unknown) => {
    if (client === undefined) return;
    logger.warn(
      { err: reason },
      "consentgate: consent listener lost; reading choices from the database until it is back",
    );
    const dead = client;
    client = undefined;
    freshSince = 0;
    invalidate();
    dead.end().catch(() => {});
  };

  const connectListener = async () => {
    if (closed || client) return;
    const next = newClient();
    next.on("error", drop);
    next.on("notification", (message) => invalidate(message.payload ?? undefined));
    try {
      await next.connect();
      await next.query(`LISTEN ${CONSENT_CHANNEL}`);
    } catch (error) {
      next.end().catch(() => {});
      logger.warn({ err: error }, "consentgate: cannot listen for consent changes yet");
      return;
    }
    if (closed) return void next.end().catch(() => {});
    client = next;
    // Changes made while nobody listened were missed.
    invalidate();
  };

  const tick = async () => {
    if (probing) return;
    probing = true;
    try {
      if (!client) await connectListener();
      const current = client;
      if (!current) return;
      const sentAt = Date.now();
      await current.query("SELECT 1");
      if (client === current) freshSince = sentAt;
    } catch (error) {
      drop(error);
    } finally {
      probing = false;
    }
  };

  const timer = setInterval(() => void tick(), probeEvery);
  timer.unref();
  void tick();

  return {
    freshSince: () => freshSince,
    async close() {
      closed = true;
      clearInterval(timer);
      const current = client;
      client = undefined;
      freshSince = 0;
      await current?.end().catch(() => {});
    },
  };
}
