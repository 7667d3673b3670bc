import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import request from "supertest";
import { HISTORY_PAGE } from "../../src/store/consents.ts";
import { openStore } from "../../src/store/store.ts";
import { persistentDatabase } from "../jobs/persistent-database.ts";
import { createTestApp } from "../support/app.ts";
import { STORE_OPTIONS, onPostgres } from "../support/database.ts";

// More than two pages, and not a multiple of the page size.
const CHOICES = 2 * HISTORY_PAGE + 203;

describe(`a subject with a long consent history, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("the export streams every receipt in order across pages; the privacy center lists the newest 20", async () => {
    const db = await persistentDatabase();
    try {
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
      const store = await openStore(db.database, STORE_OPTIONS);
      await store.connection.prisma.consentEvent.createMany({ data: events });
      await store.close();

      const t = await createTestApp(db.option);
      t.app.use("/center", t.gate.privacyCenter());
      try {
        const res = await request(t.app).get("/privacy/export").set({ "x-user": "longtime" }).buffer(true).parse((r, done) => {
          let text = "";
          r.on("data", (chunk: Buffer) => (text += chunk));
          r.on("end", () => done(null, text));
        });
        assert.equal(res.status, 200);
        const doc = JSON.parse(res.body as string);
        assert.deepEqual(
          doc.consents.history.map((r: { id: string }) => r.id),
          events.map((e) => e.id),
          "every receipt once, oldest first",
        );
        assert.equal(doc.consents.history.at(-1).signature, `signature-${CHOICES - 1}`);

        const center = await request(t.app).get("/center").set({ "x-user": "longtime" }).expect(200);
        const listed = [...center.text.matchAll(/<summary>Receipt ([0-9a-f-]+)<\/summary>/g)].map((m) => m[1]);
        assert.deepEqual(listed, events.slice(-20).map((e) => e.id).reverse());
        assert.match(center.text, new RegExp(`Only your 20 most recent receipts of ${CHOICES} are listed here`));
        assert.ok(center.text.length < 100_000, `the page stays small (${center.text.length} characters)`);
      } finally {
        await t.gate.close();
      }
    } finally {
      await db.cleanup();
    }
  });
});
