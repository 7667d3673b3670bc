/**
 * `consentgate insights release <name>` against an app's database: a release
 * by hand, the budget refusing the next one (exit 1), and clear usage errors.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import request from "supertest";
import { testApp } from "../support/app.ts";
import { type CliApp, cliApp } from "../support/child.ts";
import { type PersistentDatabase, onPostgres } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { ca } from "../support/subjects.ts";

const popular = { key: "itemId", epsilon: 1, delta: 1e-6, maxKeys: 1, every: "1d", budget: { epsilon: 1, per: "30d" } };

describe(`consentgate insights release on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: PersistentDatabase;
  let policies: string;
  let database: string[];
  let env: CliApp["env"];
  let cli: CliApp["cli"];
  before(async () => {
    const policy = testPolicy({ purposes: { personalization: { insights: { popular } } } });
    ({ db, policies, database, env, cli } = await cliApp(suite, policy));
    const t = await testApp(suite, { database: db.option, policies: policy });
    // Eighty listeners share one song: well above the threshold (maxKeys 1, epsilon 1, delta 1e-6: 15).
    for (let i = 0; i < 80; i++)
      await request(t.app)
        .post("/api/plays")
        .set(ca(`cli-fan-${i}`))
        .send({ itemId: "shared" })
        .expect(201);
    await t.gate.close();
  });

  test("releases once, then the budget refuses with exit 1 and says the previous release is still served", async () => {
    const first = await cli("insights", "release", "popular", "--policies", policies, ...database);
    assert.equal(first.code, 0, first.err.join("\n"));
    assert.match(first.out.at(-1)!, /^popular: released 1 key \(threshold \d+\); epsilon spent 1 of 1/);
    const second = await cli("insights", "release", "popular", "--policies", policies, ...database);
    assert.equal(second.code, 1);
    assert.match(second.out.at(-1)!, /^popular: refused \(budget_exhausted\).*previous release is still served/);
    const json = await cli("insights", "release", "popular", "--json", "--policies", policies, ...database);
    assert.deepEqual([json.code, json.err], [1, []]);
    assert.deepEqual(JSON.parse(json.out.join("\n")), {
      released: false,
      name: "popular",
      code: "budget_exhausted",
      spent: 1,
      budget: 1,
    });
  });

  test("a release the policy does not have, a missing name or another action is a usage error", async () => {
    const unknown = await cli("insights", "release", "nope", "--policies", policies, ...database);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err.join("\n"), /no insight release "nope" in the policy \(releases: popular\)/);
    for (const argv of [["insights"], ["insights", "release"], ["insights", "publish", "popular"]]) {
      const bad = await cli(...argv, "--policies", policies, ...database);
      assert.equal(bad.code, 2, argv.join(" "));
      assert.match(bad.err.join("\n"), /usage: consentgate insights release <name>/);
    }
  });
});
