/**
 * The reads made per request (recent(), and what the privacy center shows:
 * the rows held per purpose, the newest receipts and requests): prepared
 * statements, so they are checked here against what the rest of the store
 * answers for the same rows, with the types the public ones declare.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";
import { createConsentStore } from "../../src/store/consents.ts";
import { createInteractionStore, toInteraction } from "../../src/store/interactions.ts";
import { REQUEST_STATUS, REQUEST_TYPE, createRequests } from "../../src/store/requests.ts";
import type { Store } from "../../src/store/store.ts";
import { DAY } from "../support/clock.ts";
import { onPostgres, storedInteraction, testDatabase, testStore } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";

const NOW = new Date("2026-11-28T12:00:00.000Z");
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

describe(`the per-request reads on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let store: Store;
  before(async () => {
    store = await testStore(suite, await testDatabase(suite));
  });

  test("recent(): the ring's unexpired rows by seq, newest first, up to the limit, as stored", async () => {
    const receipt = randomUUID();
    const data = {
      seq: 6,
      unicode: "Björk — 東京 🎧",
      nested: { list: [1, "two", null, true, { x: -1.5e-7 }] },
      empty: {},
    };
    // A full ring of window 5 after seven writes: seq 2..6 in slots seq % 5, so slot order is not seq order.
    const ring = [2, 3, 4, 5, 6].map((seq) =>
      storedInteraction("reader", {
        data: seq === 6 ? data : { seq },
        createdAt: at(seq - 10),
        // seq 4 expired a millisecond before NOW; the rest are kept a day.
        expiresAt: seq === 4 ? new Date(NOW.getTime() - 1) : new Date(at(seq - 10).getTime() + DAY),
        receiptId: seq === 5 ? receipt : undefined,
        source: seq === 5 ? "explicit" : "region-default",
      }),
    );
    await store.connection.prisma.interaction.createMany({
      data: [
        ...ring.map((row, k) => ({ ...row, seq: BigInt(k + 2), slot: (k + 2) % 5 })),
        { ...storedInteraction("reader", { purpose: "analytics", createdAt: at(-1) }), seq: 9n },
        { ...storedInteraction("someone-else", { createdAt: at(-1) }), seq: 9n },
      ],
    });
    const interactions = createInteractionStore(store.connection);
    const recent = (limit: number) => interactions.recent("reader", "personalization", { limit, now: NOW });
    const seqs = (rows: { data: unknown }[]) => rows.map((r) => (r.data as { seq: number }).seq);

    assert.deepEqual(seqs(await recent(5)), [6, 5, 3, 2], "seq 4 has expired");
    assert.deepEqual(seqs(await recent(2)), [6, 5]);
    assert.deepEqual(await recent(0), []);
    const [newest, withReceipt] = await recent(2);
    assert.deepEqual(newest!.data, data, "the JSON as written");
    assert.ok(newest!.at instanceof Date && newest!.expiresAt instanceof Date);
    assert.equal(newest!.at.getTime(), at(-4).getTime());
    assert.deepEqual(withReceipt!.provenance, {
      source: "explicit",
      receiptId: receipt,
      legalBasis: "consent",
      policyVersion: "v1",
    });
    // What Prisma reads for the same rows, field for field.
    const read = await store.connection.prisma.interaction.findMany({
      where: { subjectId: "reader", purpose: "personalization", expiresAt: { gt: NOW } },
      orderBy: { seq: "desc" },
    });
    assert.deepStrictEqual(await recent(5), read.map(toInteraction));
  });

  test("held per purpose counts one subject's unexpired rows; without a time, every row held", async () => {
    await store.connection.prisma.interaction.createMany({
      data: [
        // Expired before NOW, at NOW (expired too), after it.
        ...[at(-1), NOW, at(1)].map((expiresAt, k) => ({
          ...storedInteraction("holder", { expiresAt }),
          seq: BigInt(k),
          slot: k,
        })),
        ...[0, 1].map((k) => ({
          ...storedInteraction("holder", { purpose: "analytics", expiresAt: at(-k) }),
          seq: BigInt(k),
          slot: k,
        })),
        storedInteraction("not-holder"),
      ],
    });
    const interactions = createInteractionStore(store.connection);
    assert.deepEqual(await interactions.countByPurpose({ subjectId: "holder", unexpiredAt: NOW }), {
      personalization: 1,
    });
    assert.deepEqual(await interactions.countByPurpose({ subjectId: "holder" }), { personalization: 3, analytics: 2 });
    assert.deepEqual(await interactions.countByPurpose({ subjectId: "nobody", unexpiredAt: NOW }), {});
  });

  test("the newest receipts: newest first by seq, with the total, as the full history has them", async () => {
    // More than nine, so that seq ordered as text would differ; several in the same millisecond.
    const events = Array.from({ length: 25 }, (_, i) => ({
      id: randomUUID(),
      subjectId: "chooser",
      purpose: i % 2 ? "personalization" : "advertising",
      granted: i % 3 === 0,
      overrideGpc: i === 3,
      gpc: i % 4 === 0,
      region: "EU",
      policyVersion: "test-1",
      actorId: i % 5 === 0 ? "agent-1" : null,
      signature: `signature-${i}`,
      at: at(Math.floor(i / 3)),
    }));
    for (const event of events) await store.connection.prisma.consentEvent.create({ data: event });
    await store.connection.prisma.consentEvent.create({
      data: { ...events[0]!, id: randomUUID(), subjectId: "other" },
    });
    const consents = createConsentStore(store.connection);

    const latest = await consents.latest("chooser", 12);
    assert.equal(latest.total, 25);
    assert.deepEqual(
      latest.events.map((e) => e.id),
      events
        .slice(-12)
        .map((e) => e.id)
        .reverse(),
    );
    const full = await store.connection.prisma.consentEvent.findMany({
      where: { subjectId: "chooser" },
      orderBy: { seq: "desc" },
    });
    assert.deepStrictEqual(latest.events, full.slice(0, 12), "every column, seq a bigint, at a Date");
    assert.deepEqual(await consents.latest("chooser", 50), { events: full, total: 25 });
    assert.deepEqual(await consents.latest("nobody", 12), { events: [], total: 0 });
  });

  test("the newest requests: newest first, ties in id order, with the total, as the full list has them", async () => {
    const requests = createRequests(store.connection);
    // Three received in the same millisecond: the id orders them.
    const received = [at(-30), at(-20), at(-10), at(-10), at(-10), at(-5)];
    for (const [i, receivedAt] of received.entries()) {
      await requests.open({
        id: randomUUID(),
        subjectId: "requester",
        type: i % 2 ? REQUEST_TYPE.erasure : REQUEST_TYPE.export,
        region: "EU",
        actorId: i === 1 ? "agent-1" : undefined,
        receivedAt,
        dueAt: new Date(receivedAt.getTime() + 30 * DAY),
      });
    }
    await requests.open({
      id: randomUUID(),
      subjectId: "other",
      type: REQUEST_TYPE.export,
      region: "EU",
      actorId: undefined,
      receivedAt: at(0),
      dueAt: at(60),
    });
    const all = await requests.forSubject("requester");
    await requests.finish(all[0]!.id, REQUEST_STATUS.completed, at(-1), { format: "json", sources: ["app"] });
    const full = await requests.forSubject("requester");

    const latest = await requests.latestForSubject("requester", 4);
    assert.equal(latest.total, 6);
    assert.deepStrictEqual(latest.requests, full.slice(0, 4), "every field, dates as Date, details parsed");
    assert.deepEqual(latest.requests[0]!.details, { format: "json", sources: ["app"] });
    assert.ok(latest.requests[0]!.completedAt instanceof Date);
    const ties = full.filter((r) => r.receivedAt.getTime() === at(-10).getTime()).map((r) => r.id);
    assert.deepEqual(ties, [...ties].sort(), "same millisecond: id order");
    assert.deepEqual(await requests.latestForSubject("nobody", 4), { requests: [], total: 0 });
  });
});
