/**
 * `consentgate learning status <model>` against an app's database: the line
 * and the rounds table after a published round, and clear usage errors.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import request from "supertest";
import { encodeFloat32 } from "../../src/client/index.ts";
import { hostApp, testGate } from "../support/app.ts";
import { type CliApp, cliApp } from "../support/child.ts";
import { type PersistentDatabase, onPostgres } from "../support/database.ts";
import { onDevicePolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { eu, grant } from "../support/subjects.ts";

const ITEMS = ["a", "b", "c"];
const policy = onDevicePolicy({ dimensions: 2, noise: 2 });

describe(`consentgate learning status on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: PersistentDatabase;
  let policies: string;
  let database: string[];
  let env: CliApp["env"];
  let cli: CliApp["cli"];
  before(async () => {
    ({ db, policies, database, env, cli } = await cliApp(suite, policy));
    const gate = await testGate(suite, { database: db.option, policies: policy });
    await gate.learning.define("recommender", { items: () => ITEMS });
    const app = hostApp(gate);
    for (const id of ["d-1", "d-2"]) {
      await grant(app, eu(id), "on-device").expect(200);
      await request(app)
        .post("/privacy/learning/recommender/updates")
        .set(eu(id))
        .send({ round: 1, delta: encodeFloat32(new Float32Array(6).fill(0.1)) })
        .expect(202);
    }
    assert.equal((await gate.runJob("learning")).models[0]?.outcome, "published");
    await gate.close();
  });

  test("prints the model's line and its rounds", async () => {
    const run = await cli("learning", "status", "recommender", "--policies", policies, ...database);
    assert.equal(run.code, 0, run.err.join("\n"));
    assert.match(
      run.out[0]!,
      /^recommender: training, version 2, round 2 open with 0 of 2 updates; epsilon \d+\.\d{3} of 10 \(delta 0\.000001\); clip 1, trimmed-mean \(trim 0\.1\), noise ×2$/,
    );
    const text = run.out.join("\n");
    assert.match(text, /round\s+status\s+participants\s+rho\s+version\s+closed/);
    assert.match(text, /\n1\s+published\s+2\s+0\.1250\s+2\s+\d{4}-/, "rho 1/(2·2²) = 0.125");
  });

  test("--json: the status as GET /admin/learning/:model gives it", async () => {
    const run = await cli("learning", "status", "recommender", "--json", "--policies", policies, ...database);
    assert.deepEqual([run.code, run.err], [0, []]);
    const status = JSON.parse(run.out.join("\n"));
    assert.deepEqual([status.model, status.status, status.version], ["recommender", "training", 2]);
    assert.deepEqual(
      status.rounds.map((r: { round: number; participants: number }) => [r.round, r.participants]),
      [[1, 2]],
    );
  });

  test("a model the policy does not have, or a wrong action, is a usage error", async () => {
    const unknown = await cli("learning", "status", "nope", "--policies", policies, ...database);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err.join("\n"), /no federated model "nope" in the policy \(models: recommender\)/);
    for (const argv of [["learning"], ["learning", "status"], ["learning", "train", "recommender"]]) {
      const bad = await cli(...argv, "--policies", policies, ...database);
      assert.equal(bad.code, 2, argv.join(" "));
      assert.match(bad.err.join("\n"), /usage: consentgate learning status <model>/);
    }
  });
});
