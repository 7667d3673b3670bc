/**
 * Group commit: callers add one item each; items are written together in one
 * statement when the batch is full or a few milliseconds have passed. Each
 * caller's promise settles with its own item's outcome, and only after the
 * statement's transaction has committed, so nothing acknowledged is lost and
 * a failed batch rejects every caller in it.
 */
export interface GroupCommitOptions<Item, Result> {
  /** Writes a batch; returns one outcome per item, in order (an Error rejects that item's caller). */
  flush(items: Item[]): Promise<(Result | Error)[]>;
  /** Items per statement. Default 256. */
  maxBatch?: number;
  /** How long the first item of a batch may wait for company. Default 2 ms. */
  maxWaitMs?: number;
  /** Batches in flight at once (more need more connections). Default 2. */
  concurrency?: number;
}

export interface GroupCommit<Item, Result> {
  add(item: Item): Promise<Result>;
  /** Resolves when everything added so far has settled. */
  drain(): Promise<void>;
}

interface Pending<Item, Result> {
  item: Item;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

export function createGroupCommit<Item, Result>(options: GroupCommitOptions<Item, Result>): GroupCommit<Item, Result> {
  const maxBatch = options.maxBatch ?? 256;
  const maxWaitMs = options.maxWaitMs ?? 2;
  const concurrency = options.concurrency ?? 2;
  let queue: Pending<Item, Result>[] = [];
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  const idle: (() => void)[] = [];

  const settleIdle = () => {
    if (inFlight === 0 && queue.length === 0) for (const done of idle.splice(0)) done();
  };

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    while (queue.length > 0 && inFlight < concurrency) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight++;
      options
        .flush(batch.map((p) => p.item))
        .then(
          (outcomes) => batch.forEach((p, i) => (outcomes[i] instanceof Error ? p.reject(outcomes[i]) : p.resolve(outcomes[i] as Result))),
          (error: unknown) => batch.forEach((p) => p.reject(error)),
        )
        .finally(() => {
          inFlight--;
          // What queued up meanwhile goes at once: that is where batches grow under load.
          if (queue.length > 0) flush();
          else settleIdle();
        });
    }
  };

  return {
    add(item) {
      return new Promise<Result>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (queue.length >= maxBatch) flush();
        else if (!timer && inFlight < concurrency) timer = setTimeout(flush, maxWaitMs);
      });
    },
    drain() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
