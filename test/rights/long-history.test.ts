import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import request from "supertest";
import { HISTORY_PAGE } from "../../src/store/consents.ts";
import { testApp } from "../support/app.ts";
import { onPostgres, persistentDatabase, testStore } from "../support/database.ts";
import { asText, subject } from "../support/subjects.ts";

// More than two pages, and not a multiple of the page size.
const CHOICES = 2 * HISTORY_PAGE + 203;

describe(`a subject with a long consent history, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("the export streams every receipt in order across pages; the privacy center lists the newest 20", async (ctx) => {
    const db = await persistentDatabase(ctx);
    // Written straight into the store: the rate limits would (rightly) stop a script making them over HTTP.
    const start = Date.parse("2026-01-01T00:00:00Z");
    const events = Array.from({ length: CHOICES }, (_, i) => ({
      id: randomUUID(),
      subjectId: "longtime",
      purpose: "personalization",
      granted: i % 2 === 0,
      region: "EU",
      policyVersion: "test-1",
      signature: `signature-${i}`,
      at: new Date(start + i * 60_000),
    }));
    const store = await testStore(ctx, db);
    await store.connection.prisma.consentEvent.createMany({ data: events });
    await store.close();

    const t = await testApp(ctx, { database: db.option });
    t.app.use("/center", t.gate.privacyCenter());
    const res = await asText(request(t.app).get("/privacy/export").set(subject("longtime")));
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.body as string);
    assert.deepEqual(
      doc.consents.history.map((r: { id: string }) => r.id),
      events.map((e) => e.id),
      "every receipt once, oldest first",
    );
    assert.equal(doc.consents.history.at(-1).signature, `signature-${CHOICES - 1}`);

    const center = await request(t.app).get("/center").set(subject("longtime")).expect(200);
    const listed = [...center.text.matchAll(/<summary>Receipt ([0-9a-f-]+)<\/summary>/g)].map((m) => m[1]);
    assert.deepEqual(
      listed,
      events
        .slice(-20)
        .map((e) => e.id)
        .reverse(),
    );
    assert.match(center.text, new RegExp(`Only your 20 most recent receipts of ${CHOICES} are listed here`));
    assert.ok(center.text.length < 100_000, `the page stays small (${center.text.length} characters)`);
  });
});
