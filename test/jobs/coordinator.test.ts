import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { before, describe, test } from "node:test";
import { createLeaseCoordinator, type LeaseCoordinator } from "../../src/jobs/coordinator.ts";
import { silentLogger } from "../../src/logger.ts";
import type { GateMetrics, JobOutcome } from "../../src/metrics/observations.ts";
import { createJobLeases } from "../../src/store/job-leases.ts";
import type { Store } from "../../src/store/store.ts";
import { DAY, testClock, until } from "../support/clock.ts";
import { onPostgres, testDatabase, testStore } from "../support/database.ts";
import { onCleanup, suiteScope } from "../support/scope.ts";

describe(`the run coordinator on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  // Two instances: on PostgreSQL each has its own connection pool; PGlite is one process's database.
  let stores: Store[];
  const clock = testClock("2026-05-01T00:00:00.000Z");
  const coordinators: LeaseCoordinator[] = [];
  let n = 0;
  // Every test elects fires of a job of its own, so one database serves the whole file.
  const freshJob = () => `job-${++n}`;
  const instance = (i: number, options: { clock?: () => Date; metrics?: Pick<GateMetrics, "jobRun"> } = {}) => {
    const coordinator = createLeaseCoordinator(createJobLeases(stores[i % stores.length]!.connection), {
      holder: `instance-${i}`,
      clock: clock.now,
      logger: silentLogger,
      ...options,
    });
    coordinators.push(coordinator);
    return coordinator;
  };
  before(async () => {
    const db = await testDatabase(suite);
    stores = onPostgres ? [await testStore(suite, db), await testStore(suite, db)] : [await testStore(suite, db)];
    // Before the stores close: the coordinators' renewals use them.
    onCleanup(suite, () => Promise.all(coordinators.map((c) => c.close(0))));
  });
  const fire = (minute: number) => new Date(Date.UTC(2026, 4, 1, 0, minute));
  const leases = (job: string) =>
    stores[0]!.connection.query<{ fireAt: Date; holder: string; finished: boolean }>(
      `SELECT "fireAt", holder, "finishedAt" IS NOT NULL AS finished FROM job_leases WHERE job = $1 ORDER BY "fireAt"`,
      [job],
    );

  test("the instance that loses a fire counts it as skipped (consentgate_job_runs_total)", async () => {
    const job = freshJob();
    const counted: [number, string, JobOutcome][] = [];
    const [a, b] = [0, 1].map((i) =>
      instance(i, { metrics: { jobRun: (name, outcome) => counted.push([i, name, outcome]) } }),
    );
    const [wonA, wonB] = await Promise.all([a!.claim(job, fire(0), 60_000), b!.claim(job, fire(0), 60_000)]);
    assert.equal(Number(wonA) + Number(wonB), 1);
    assert.deepEqual(
      counted,
      [[wonA ? 1 : 0, job, "skipped"]],
      "the winner's run is counted by the job runner, not here",
    );
    await (wonA ? a! : b!).finish(job, fire(0));
  });

  test("two instances asking for the same fires at the same moment: each fire runs exactly once", async () => {
    const job = freshJob();
    const [a, b] = [instance(0), instance(1)];
    for (let minute = 0; minute < 20; minute++) {
      const [wonA, wonB] = await Promise.all([a.claim(job, fire(minute), 60_000), b.claim(job, fire(minute), 60_000)]);
      assert.equal(Number(wonA) + Number(wonB), 1, `fire ${minute}: exactly one winner`);
      await (wonA ? a : b).finish(job, fire(minute));
    }
    const rows = await leases(job);
    assert.equal(rows.length, 20);
    assert.ok(rows.every((r) => r.finished));
    // The same fire asked again later (a slow instance) does not run twice.
    assert.equal(await b.claim(job, fire(3), 60_000), false);
  });

  test("through node-cron's interface: shouldRun(key) elects, onComplete(key) releases", async () => {
    const job = freshJob();
    const [a, b] = [instance(0), instance(1)];
    const key = `${job}:${fire(0).toISOString()}`;
    const results = await Promise.all([a.shouldRun(key, 60_000), b.shouldRun(key, 60_000)]);
    const winner = results[0] ? a : b;
    assert.deepEqual([...results].sort(), [false, true]);
    await winner.onComplete!(key);
    assert.deepEqual(
      (await leases(job)).map((r) => [r.fireAt.toISOString(), r.finished]),
      [[fire(0).toISOString(), true]],
    );
  });

  test("a job runs on one instance at a time: the next fire waits for a running one", async () => {
    const job = freshJob();
    const [a, b] = [instance(0), instance(1)];
    assert.equal(await a.claim(job, fire(0), 60_000), true);
    assert.equal(await b.claim(job, fire(15), 60_000), false, "fire 0 is still running on a");
    await a.finish(job, fire(0));
    assert.equal(await b.claim(job, fire(30), 60_000), true);
    await b.finish(job, fire(30));
  });

  test("a crashed runner's lease expires: the next fire runs, and its own fire can be taken over", async () => {
    const job = freshJob();
    const [crashed, b, c] = [instance(0), instance(1), instance(2)];
    assert.equal(await crashed.claim(job, fire(0), 60_000), true);
    await crashed.close(0); // dies: no more renewals, never finishes
    clock.advance(59_000);
    assert.equal(await b.claim(job, fire(15), 60_000), false, "not expired yet");
    clock.advance(2_000);
    assert.equal(await b.claim(job, fire(15), 60_000), true, "expired: the job's next fire runs");
    await b.finish(job, fire(15));
    assert.equal(
      await c.claim(job, fire(0), 60_000),
      true,
      "the dead runner's own fire is taken over by whoever asks for it late",
    );
    await c.finish(job, fire(0));
    assert.deepEqual(
      (await leases(job)).map((r) => [r.holder, r.finished]),
      [
        ["instance-2", true],
        ["instance-1", true],
      ],
    );
  });

  test("a live runner renews its lease, so a long run is never taken over", async () => {
    const job = freshJob();
    // The lease is short so that renewals come often; the lease times follow a
    // clock of the test's own, so only the renewal itself (an event: the
    // row's expiry moves) decides the outcome, never how fast this machine is.
    const start = new Date("2026-06-01T00:00:00.000Z");
    const own = testClock(start);
    const [a, b] = [instance(0, { clock: own.now }), instance(1, { clock: own.now })];
    const at = (ms: number) => new Date(start.getTime() + ms);
    const expiry = async () =>
      (
        await stores[0]!.connection.query<{ expiresAt: Date }>(`SELECT "expiresAt" FROM job_leases WHERE job = $1`, [
          job,
        ])
      )[0]!.expiresAt.getTime();
    assert.equal(await a.claim(job, start, 150), true);
    assert.equal(await expiry(), at(150).getTime());
    own.set(at(100));
    await until(async () => (await expiry()) === at(250).getTime(), "a never renewed its lease");
    own.set(at(200)); // past the first expiry, within the renewed one
    assert.equal(await b.claim(job, start, 150), false, "renewed, so still a's");
    assert.equal(await b.claim(job, at(1), 150), false, "and the job's next fire waits for it");
    await a.finish(job, start);
    assert.equal(await b.claim(job, at(1), 150), true);
    await b.finish(job, at(1));
  });

  test("close() waits for the runs that hold leases, and lease history older than a week is deleted", async () => {
    const job = freshJob();
    const a = instance(0);
    assert.equal(await a.claim(job, fire(0), 60_000), true);
    let closed = false;
    const closing = a.close().then(() => (closed = true));
    await sleep(50);
    assert.equal(closed, false, "a run still holds its lease");
    await a.finish(job, fire(0));
    await closing;

    clock.advance(8 * DAY);
    const b = instance(1);
    assert.equal(await b.claim(job, new Date(clock.now().getTime()), 60_000), true);
    assert.deepEqual(
      (await leases(job)).map((r) => r.holder),
      ["instance-1"],
      "the week-old finished lease is gone",
    );
  });
});
