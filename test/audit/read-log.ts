/** Reading a region's compliance log as a DPO does: GET /privacy/admin/compliance/:region, JSONL. */
import assert from "node:assert/strict";
import type { Express } from "express";
import request from "supertest";
import type { AuditEntry } from "../../src/audit/events.ts";

export const DPO = { "x-user": "dpo-1", "x-roles": "dpo" };

export async function logOf(app: Express, region: string): Promise<AuditEntry[]> {
  const res = await request(app).get(`/privacy/admin/compliance/${region}`).set(DPO).buffer(true).parse((res, done) => {
    let text = "";
    res.on("data", (chunk: Buffer) => (text += chunk.toString()));
    res.on("end", () => done(null, text));
  });
  assert.equal(res.status, 200, String(res.body));
  return (res.body as string).split("\n").filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);
}

export const eventsOf = (entries: AuditEntry[], event: string) => entries.filter((e) => e.event === event);
