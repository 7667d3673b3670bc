/**
 * The `ip` rule through a real app: an address that carries a client's IPv4
 * address (6to4, Teredo, NAT64, IPv4-mapped, -translated, -compatible) is
 * stored as that IPv4 address masked to the rule's bits, never whole.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import request from "supertest";
import { testApp } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { ca } from "../support/subjects.ts";

describe(`the ip rule on stored plays, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("every IPv4-carrying IPv6 form is stored as the IPv4 address's first 24 bits", async (ctx) => {
    const t = await testApp(ctx);
    const sent = [
      "2002:cb00:714d:1::5", // 6to4
      "2001:0:4136:e378:8000:63bf:34ff:8eb2", // Teredo (inverted)
      "64:ff9b::cb00:714d", // NAT64
      "::ffff:203.0.113.77", // IPv4-mapped
      "::ffff:0:203.0.113.77", // IPv4-translated
      "::203.0.113.77", // IPv4-compatible
      "203.0.113.77",
    ];
    // One user per address: the purpose's window (5) would push the first ones out.
    for (const [i, ip] of sent.entries()) {
      await request(t.app)
        .post("/api/plays")
        .set(ca(`ip-${i}`))
        .send({ itemId: "trk", context: { ip } })
        .expect(201);
      const stored = await t.gate.store.interactions.forSubject(`ip-${i}`);
      assert.deepEqual(
        stored.map((row) => (row.data as { context: unknown }).context),
        [{ ip: "203.0.113.0" }],
        ip,
      );
    }
  });
});
