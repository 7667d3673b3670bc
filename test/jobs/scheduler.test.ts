import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { createConsentgate, isConsentgateError } from "../../src/index.ts";
import { TEST_SECRET, testApp, testGate } from "../support/app.ts";
import { runNode } from "../support/child.ts";
import { onPostgres, sqlClient, testDatabase } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { eventsOf, logOf } from "../support/subjects.ts";

const EVERY_SECOND = "* * * * * *";

describe(`scheduled jobs on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("jobs: true runs the jobs on their schedules; close() stops them", async (ctx) => {
    const purges = jobsDone("purge");
    const t = await testApp(ctx, {
      jobs: true,
      schedules: { purge: EVERY_SECOND, deadlines: EVERY_SECOND },
      logger: purges.logger,
    });
    await purges.reached(2);
    assert.ok(
      eventsOf(await logOf(t.app, "EU"), "purge.ran").length >= 2,
      "each scheduled run is in the compliance log",
    );
  });

  test("with two instances on one database, each fire runs once", {
    skip: !onPostgres && "PGlite is one process's database",
  }, async (ctx) => {
    const db = await testDatabase(ctx);
    // Both instances report to one counter: wait for two runs, wherever they were elected.
    const purges = jobsDone("purge");
    const options = { database: db.option, jobs: true, schedules: { purge: EVERY_SECOND }, logger: purges.logger };
    const [a, b] = [await testGate(ctx, options), await testGate(ctx, options)];
    await purges.reached(2);
    await Promise.all([a.close(), b.close()]);
    const client = await sqlClient(ctx, db);
    const leases = (await client.query(`SELECT "fireAt", holder, "finishedAt" FROM job_leases WHERE job = 'purge'`))
      .rows;
    const runs = (
      await client.query(
        `SELECT details->>'before' AS at FROM compliance_log WHERE region = 'EU' AND event = 'purge.ran'`,
      )
    ).rows;
    assert.ok(leases.length >= 2, `${leases.length} fires elected`);
    // A fire runs at most once, on its elected instance; the only fire that
    // may not run at all is one elected just as the instances stopped.
    assert.ok(runs.length <= leases.length, `${runs.length} runs for ${leases.length} elected fires`);
    assert.ok(runs.length >= leases.length - 1, `${runs.length} runs for ${leases.length} elected fires`);
    assert.ok(leases.every((l) => l.finishedAt !== null));
  });

  test("schedules must be cron expressions node-cron can run, in the options and in the policy", async () => {
    await assert.rejects(
      createConsentgate({ database: "memory", policies: testPolicy(), schedules: { purge: "every minute" } }),
      (e) => {
        assert.ok(isConsentgateError(e, "invalid_option"));
        assert.match(e.message, /schedules\.purge: "every minute" is not a cron expression/);
        return true;
      },
    );
    await assert.rejects(
      createConsentgate({ database: "memory", policies: testPolicy(), schedules: { purg: "* * * * *" } as never }),
      (e) => isConsentgateError(e, "invalid_option"),
    );
    await assert.rejects(
      createConsentgate({ database: "memory", policies: testPolicy({ jobs: { "log-retention": "99 * * * *" } }) }),
      (e) => {
        assert.ok(isConsentgateError(e, "policy_invalid"));
        // The policy loader refuses it now, in the policy's own problem list (it used to pass to start-up).
        assert.deepEqual(e.details.problems, [
          'jobs.log-retention: "99 * * * *" is not a schedule the job runner accepts (a value out of range, such as minute 60 or day 31 of February)',
        ]);
        return true;
      },
    );
  });

  test("runJob refuses unknown jobs, and options only the purge job has", async (ctx) => {
    const gate = await testGate(ctx, { database: "memory" });
    await assert.rejects(
      gate.runJob("purgeall" as never),
      (e) => isConsentgateError(e, "invalid_option") && /unknown job "purgeall"/.test(e.message),
    );
    await assert.rejects(
      gate.runJob("deadlines", { dryRun: true }),
      (e) => isConsentgateError(e, "invalid_option") && /purge job only/.test(e.message),
    );
  });

  test("a gate with scheduled jobs leaves nothing that keeps the process alive once closed", async (ctx) => {
    const db = await testDatabase(ctx);
    const script = `
      import { createConsentgate } from "${path.resolve("src/index.ts")}";
      let ran = () => {};
      const done = new Promise((resolve) => (ran = resolve));
      // The jobs' timers are unref'd by design: this interval stands for the host's server until the first run.
      const host = setInterval(() => {}, 1000);
      const logger = { debug() {}, warn() {}, error() {}, info(_obj, msg) { if (msg === "consentgate: purge done") ran(); } };
      const gate = await createConsentgate({
        database: process.env.DB, secret: "${TEST_SECRET}", policies: JSON.parse(process.env.POLICY),
        jobs: true, schedules: { purge: "${EVERY_SECOND}" }, logger,
      });
      await done;
      clearInterval(host);
      await gate.close();
      console.log("closed");
    `;
    const { code, stdout, stderr } = await runNode(
      script,
      { DB: db.option, POLICY: JSON.stringify(testPolicy()) },
      30_000,
    );
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), "closed");
  });
});

/**
 * A logger that counts the runs of a job ("consentgate: <job> done"), so a
 * test waits for runs to happen instead of for time to pass. The deadline of
 * reached() is only a safety net for a test that would otherwise hang.
 */
function jobsDone(job: string) {
  let count = 0;
  const waiting: { n: number; resolve(): void }[] = [];
  const info = (_obj: unknown, message?: string) => {
    if (message !== `consentgate: ${job} done`) return;
    count++;
    for (const w of waiting.filter((w) => count >= w.n)) w.resolve();
  };
  const logger = { debug() {}, info, warn() {}, error() {} };
  const reached = async (n: number, safetyMs = 60_000) => {
    if (count >= n) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => waiting.push({ n, resolve })),
        new Promise<never>(
          (_, reject) => (timer = setTimeout(() => reject(new Error(`${job} ran ${count} of ${n} times`)), safetyMs)),
        ),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  return { logger, reached };
}
