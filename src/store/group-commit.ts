/**
 * Group commit: callers add one item each; items are written together in one
 * statement. A batch leaves as soon as a flight is free (at the end of the
 * current event-loop turn, so items added together travel together) or when
 * it is full; while flights are busy, arrivals gather into the next batch, so
 * batches grow with load and a lone write never waits on a timer. Each
 * caller's promise settles with its own item's outcome, and only after the
 * statement's transaction has committed, so nothing acknowledged is lost and
 * a failed batch rejects every caller in it.
 */
export interface GroupCommitOptions<Item, Result> {
  /** Writes a batch; returns one outcome per item, in order (an Error rejects that item's caller). */
  flush(items: Item[]): Promise<(Result | Error)[]>;
  /** Items per statement. Default 256. */
  maxBatch?: number;
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
  const concurrency = options.concurrency ?? 2;
  let queue: Pending<Item, Result>[] = [];
  let inFlight = 0;
  let scheduled: NodeJS.Immediate | undefined;
  const idle: (() => void)[] = [];

  const settleIdle = () => {
    if (inFlight === 0 && queue.length === 0) for (const done of idle.splice(0)) done();
  };

  const flush = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    while (queue.length > 0 && inFlight < concurrency) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight++;
      options
        .flush(batch.map((p) => p.item))
        .then(
          (outcomes) =>
            batch.forEach((p, i) =>
              outcomes[i] instanceof Error ? p.reject(outcomes[i]) : p.resolve(outcomes[i] as Result),
            ),
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
        else if (!scheduled && inFlight < concurrency) scheduled = setImmediate(flush);
      });
    },
    drain() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
