import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, test } from "node:test";
import request from "supertest";
import { TEST_SECRET, testApp } from "../support/app.ts";
import { type CliApp, cliApp } from "../support/child.ts";
import { DAY, testClock } from "../support/clock.ts";
import { type PersistentDatabase, onPostgres, testStore } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { eu, grant, region, subject } from "../support/subjects.ts";

describe(`consentgate purge, report and verify on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: PersistentDatabase;
  let policies: string;
  let database: string[];
  let env: CliApp["env"];
  let cli: CliApp["cli"];
  before(async () => {
    ({ db, policies, database, env, cli } = await cliApp(suite, testPolicy()));

    // A month ago: EU and US-CA listeners whose service plays (7 days' retention) have expired since.
    const clock = testClock(Date.now() - 30 * DAY);
    const t = await testApp(suite, { database: db.option, now: clock.now });
    for (const [user, code] of [
      ["cli-eu", "DE"],
      ["cli-ca", "US-CA"],
    ] as const) {
      for (let i = 0; i < 3; i++)
        await request(t.app)
          .post("/api/service")
          .set(subject(user, region(code)))
          .send({ itemId: `t${i}` })
          .expect(201);
    }
    await grant(t.app, eu("cli-eu"), "personalization").expect(200);
    await request(t.app).post("/api/plays").set(eu("cli-eu")).send({ itemId: "kept" }).expect(201);
    await t.gate.close();
  });

  test("purge --dry-run counts per region and purpose and changes nothing; purge deletes and logs", async () => {
    const dry = await cli("purge", "--dry-run", "--policies", policies, ...database);
    assert.equal(dry.code, 0, dry.err.join("\n"));
    assert.deepEqual(dry.out, [
      "region  purpose  expired  out of window",
      "------  -------  -------  -------------",
      "EU      service  3        0",
      "US-CA   service  3        0",
      "Would delete 6 interactions and 2 empty windows (dry run: nothing changed).",
    ]);
    const done = await cli("purge", "--policies", policies, ...database);
    assert.equal(done.code, 0);
    assert.equal(done.out.at(-1), "Deleted 6 interactions and 2 empty windows; logged per region as purge.ran.");
    const again = await cli("purge", "--policies", policies, ...database);
    assert.deepEqual(again.out, ["Deleted 0 interactions and 0 empty windows; logged per region as purge.ran."]);
  });

  test("verify: exit 0 for an intact chain, 1 with the entry and the reason for a broken one", async (ctx) => {
    const intact = await cli("verify", "EU", "--policies", policies, ...database);
    assert.equal(intact.code, 0);
    assert.match(intact.out[0] ?? "", /^EU: the compliance log is intact \(\d+ entries\)\.$/);

    const store = await testStore(ctx, db);
    await store.connection.query(`UPDATE compliance_log SET details = '{}' WHERE region = 'US-CA' AND seq = 2`);
    await store.close();
    const broken = await cli("verify", "US-CA", "--policies", policies, ...database);
    assert.equal(broken.code, 1);
    assert.deepEqual(broken.out, [
      "US-CA: the compliance log is broken at entry 2: entry 2 was changed (its content no longer matches its hash).",
    ]);
  });

  test("report: the region's summary, as text or JSON; exit 1 once a request is past its deadline", async (ctx) => {
    const text = await cli("report", "EU", "--policies", policies, ...database);
    assert.equal(text.code, 0, text.err.join("\n"));
    assert.match(text.out[0] ?? "", /^Compliance report for EU, from the oldest kept entry to now \(as of .+\)$/);
    assert.ok(
      text.out.some((line) => /^consents given\s+1$/.test(line)),
      text.out.join("\n"),
    );
    assert.ok(
      text.out.some((line) => /^service\s+3\s+0$/.test(line)),
      text.out.join("\n"),
    );
    assert.equal(text.out.at(-1), "No request is past its legal deadline.");

    const store = await testStore(ctx, db);
    await store.connection.prisma.privacyRequest.create({
      data: {
        id: randomUUID(),
        subjectId: "cli-late",
        type: "export",
        status: "received",
        region: "EU",
        receivedAt: new Date(Date.now() - 40 * DAY),
        dueAt: new Date(Date.now() - 9 * DAY),
      },
    });
    await store.close();
    const json = await cli("report", "EU", "--json", "--from", "2000-01-01", "--policies", policies, ...database);
    assert.equal(json.code, 1);
    const summary = JSON.parse(json.out.join("\n"));
    assert.equal(summary.from, "2000-01-01T00:00:00.000Z");
    assert.deepEqual(summary.requests, { received: 0, completed: 0, overdue: 0, openOverdue: 1 });
    assert.deepEqual(summary.rowsPurged, { total: 3, byPurpose: { service: 3 } });
  });

  test("the database comes from DATABASE_URL when --database is not given", {
    skip: !onPostgres && "PGlite files are found in the working directory",
  }, async () => {
    env.DATABASE_URL = db.option;
    try {
      assert.equal((await cli("verify", "EU", "--policies", policies)).code, 0);
    } finally {
      env.DATABASE_URL = undefined;
    }
  });

  test("wrong usage: exit 2 with the reason and the command's usage", async () => {
    const cases: [string[], RegExp][] = [
      [["purge", "--database", "memory"], /an in-memory database starts empty/],
      [["purge", "--database", "mysql://x@y/z"], /unsupported protocol "mysql:"/],
      [["purge", "now"], /does not take positional arguments/],
      [["verify", "--policies", policies, ...database], /name one region \(EU, US-CA, OTHER\)/],
      [["verify", "EUR", "--policies", policies, ...database], /unknown region "EUR" \(did you mean "EU"\?\)/],
      [["report", "EU", "--to", "soon", "--policies", policies, ...database], /--to must be a date/],
    ];
    for (const [argv, reason] of cases) {
      const { code, err } = await cli(...argv);
      assert.equal(code, 2, argv.join(" "));
      assert.match(err[0] ?? "", reason);
      assert.match(err[1] ?? "", new RegExp(`^usage: consentgate ${argv[0]} `));
    }
    env.CONSENTGATE_SECRET = undefined;
    try {
      const { code, err } = await cli("purge", "--policies", policies, ...database);
      assert.equal(code, 2);
      assert.match(err[0] ?? "", /set CONSENTGATE_SECRET/);
    } finally {
      env.CONSENTGATE_SECRET = TEST_SECRET;
    }
  });

  test("a broken policy folder: its problems, exit 1", async () => {
    const broken = path.join(db.directory, `broken-${randomUUID().slice(0, 8)}`);
    await mkdir(broken);
    await writeFile(path.join(broken, "policy.yaml"), "version: 1\npurposes: nope\n");
    const { code, err } = await cli("verify", "EU", "--policies", broken, ...database);
    assert.equal(code, 1);
    assert.equal(err.at(-1), `${broken}: the policy is not valid`);
    assert.ok(err.length > 1);
  });
});
