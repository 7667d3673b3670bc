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
import { type GateMetrics, silentMetrics } from "../metrics/observations.ts";
import type { Connection } from "./connection.ts";
import { CONSENT_CHANNEL, loadChoicesOf, NO_CHOICES } from "./consents.ts";
import { createGroupCommit } from "./group-commit.ts";

/** The longest a change made on another instance may go unseen (docs/deployment.md: Several instances). */
export const MAX_STALENESS_MS = 1000;

export interface CacheSettings {
  /** Subjects whose choices are kept (the `consentCache.subjects` option). */
  subjects: number;
  /** A choice read that takes longer fails closed (the `consentCache.timeoutMs` option). */
  timeoutMs: number;
  /** The longest a change may go unseen; MAX_STALENESS_MS outside tests. */
  maxStalenessMs: number;
  logger: Logger;
  /** Where each lookup's hit or miss is told. Default: nowhere. */
  metrics?: Pick<GateMetrics, "consentLookup">;
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

/** Subjects per query: a 512-element text[] parameter is ~20 kB, one index probe each. */
const MAX_BATCH = 512;
/** Batched reads in flight at once: two keep the database busy while the next batch gathers. */
const READS_IN_FLIGHT = 2;

/** A read in flight for one subject, shared by every request that misses on it meanwhile. */
interface Read {
  readonly answer: Promise<ReadonlyMap<string, Choice>>;
  /** An invalidation arrived while it was in flight: its answer may predate the change, so it is not cached. */
  stale: boolean;
}

/**
 * Cache misses travel together: every subject missed in one event-loop turn
 * (or while the previous reads are in flight) is read in one prepared
 * `ANY($1)` query, and requests missing on the same subject share one read.
 * Under load that turns thousands of misses per second into a few hundred
 * queries, each barely costlier than a point select.
 */
export function createConsentCache(connection: Connection, options: CacheSettings): ConsentCache {
  const { timeoutMs, maxStalenessMs } = options;
  const metrics = options.metrics ?? silentMetrics;
  // Empty answers are cached like any other (most people never make a choice), as the one shared NO_CHOICES.
  const entries = new LRUCache<string, ReadonlyMap<string, Choice>>({ max: options.subjects });
  const inFlight = new Map<string, Read>();
  const reads = createGroupCommit<string, ReadonlyMap<string, Choice>>({
    async flush(subjectIds) {
      const found = await loadChoicesOf(connection, subjectIds);
      return subjectIds.map((id) => found.get(id) ?? NO_CHOICES);
    },
    maxBatch: MAX_BATCH,
    concurrency: READS_IN_FLIGHT,
  });
  const invalidate = (subjectId?: string) => {
    if (subjectId === undefined) {
      entries.clear();
      for (const read of inFlight.values()) read.stale = true;
      inFlight.clear();
      return;
    }
    entries.delete(subjectId);
    const read = inFlight.get(subjectId);
    if (read) {
      read.stale = true;
      // Requests arriving from now on start a read that sees the change.
      inFlight.delete(subjectId);
    }
  };
  const listener = connection.dedicatedClient
    ? listen(connection.dedicatedClient, invalidate, maxStalenessMs, options.logger)
    : undefined;
  const fresh = () => listener === undefined || listener.freshSince() >= Date.now() - maxStalenessMs;

  const read = (subjectId: string): Read => {
    const pending: Read = {
      stale: false,
      answer: reads.add(subjectId).then(
        (loaded) => {
          if (inFlight.get(subjectId) === pending) inFlight.delete(subjectId);
          if (!pending.stale && fresh()) entries.set(subjectId, loaded);
          return loaded;
        },
        (error: unknown) => {
          if (inFlight.get(subjectId) === pending) inFlight.delete(subjectId);
          throw error;
        },
      ),
    };
    inFlight.set(subjectId, pending);
    return pending;
  };

  return {
    choices(subjectId) {
      if (fresh()) {
        const hit = entries.get(subjectId);
        if (hit) {
          metrics.consentLookup(true);
          return Promise.resolve(hit);
        }
      }
      metrics.consentLookup(false);
      // Each waiting request has its own deadline: a slow shared read fails every one of them closed in time.
      return withTimeout((inFlight.get(subjectId) ?? read(subjectId)).answer, timeoutMs);
    },
    peek(subjectId) {
      const hit = fresh() ? entries.get(subjectId) : undefined;
      // A miss here is counted by the choices() read that always follows it.
      if (hit) metrics.consentLookup(true);
      return hit;
    },
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
