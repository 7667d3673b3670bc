/**
 * Gated writes to the app's own tables racing the subject's withdrawal or
 * erasure, with exact counts afterwards: 24 likes of one listener posted at
 * once through instance A while instance B (on PostgreSQL another gate and
 * another host client on the same database; on PGlite, whose database is
 * one process's, the same instance) records the withdrawal of
 * personalization or erases the listener. Every like either committed
 * before the delete that follows the withdrawal or erasure (and was deleted
 * by it) or was refused with consent_required (its own re-check after commit
 * undid it): none is left, and nobody else's is touched.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import request from "supertest";
import type { ErasureCertificate } from "../../src/index.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { type GatedMusic, gatedMusic } from "../support/gated-music.ts";
import type { Scope } from "../support/scope.ts";
import { eu, grant, withdraw } from "../support/subjects.ts";

const WRITERS = 24;

async function instances(scope: Scope): Promise<{ a: GatedMusic; b: GatedMusic }> {
  const database = await testDatabase(scope);
  const a = await gatedMusic(scope, { database });
  return { a, b: onPostgres ? await gatedMusic(scope, { database }) : a };
}

/**
 * WRITERS writers post likes for `id` through `t`, one after another each,
 * from before `change` starts until after it has answered. Every like is
 * 201 or 403 consent_required, and each writer's last, posted after the
 * change, is refused.
 */
async function race(t: GatedMusic, id: string, change: () => Promise<void>) {
  let changed = false;
  const like = async (i: number) => {
    const res = await request(t.app)
      .post("/api/likes")
      .set(eu(id))
      .send({ itemId: `trk-${i}` });
    if (res.status !== 201) {
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "consent_required");
    }
    return res.status;
  };
  const writer = async (i: number) => {
    while (!changed) await like(i);
    assert.equal(await like(i), 403, "a like posted after the change is refused");
  };
  const writers = Array.from({ length: WRITERS }, (_, i) => writer(i));
  // Let the writers get going, so the change lands among their commits.
  await sleep(20);
  await change();
  changed = true;
  await Promise.all(writers);
}

/** A listener who granted personalization on A and liked once, so A's cache holds the grant. */
async function listener(t: GatedMusic, id: string): Promise<void> {
  await grant(t.app, eu(id), "personalization").expect(200);
  await request(t.app).post("/api/likes").set(eu(id)).send({ itemId: "first" }).expect(201);
}

describe(`gated writes racing ${onPostgres ? "another instance's" : "the instance's own"} withdrawal or erasure, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("a withdrawal of the purpose with onWithdrawal: purge leaves none of the likes", async (ctx) => {
    const { a, b } = await instances(ctx);
    await listener(a, "bystander");
    await listener(a, "withdrawing");
    await race(a, "withdrawing", async () => {
      await withdraw(b.app, eu("withdrawing"), "personalization").expect(200);
    });
    assert.equal(await a.host.like.count({ where: { listenerId: "withdrawing" } }), 0, "none left");
    assert.equal(await a.host.like.count({ where: { listenerId: "bystander" } }), 1);
  });

  test("an erasure leaves none of the likes", async (ctx) => {
    const { a, b } = await instances(ctx);
    await listener(a, "bystander");
    await listener(a, "erasing");
    let certificate: ErasureCertificate | undefined;
    await race(a, "erasing", async () => {
      certificate = (await request(b.app).delete("/privacy/data").set(eu("erasing")).expect(200)).body;
    });
    assert.equal(certificate?.status, "completed");
    assert.equal(await a.host.like.count({ where: { listenerId: "erasing" } }), 0, "none left");
    assert.equal(await a.host.like.count({ where: { listenerId: "bystander" } }), 1);
  });
});
