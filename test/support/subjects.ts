/**
 * Who calls the test apps, and what they do over HTTP. The test app (app.ts)
 * names the signed-in subject by x-user and its roles by x-roles
 * (comma-separated); the test policy reads the region from x-region; GPC is
 * the sec-gpc header. Builders return plain header objects for supertest's
 * set(), and combine by spreading or by passing more of them.
 */
import assert from "node:assert/strict";
import type { Express } from "express";
import request from "supertest";
import type { AuditEntry } from "../../src/audit/events.ts";

export type Headers = Record<string, string>;

/** A signed-in subject, plus any other headers. */
export const subject = (id: string, ...more: Headers[]): Headers => Object.assign({ "x-user": id }, ...more);

/** The region header: a country ("DE") or subdivision ("US-CA") the policy maps to a region. */
export const region = (code: string): Headers => ({ "x-region": code });

/** The actor's roles: "agent" acts for others, "dpo" reads the compliance logs. */
export const roles = (...names: string[]): Headers => ({ "x-roles": names.join(",") });

/** Global Privacy Control, on. */
export const GPC: Headers = { "sec-gpc": "1" };

/** A subject in the EU (Germany): opt-in, so nothing but contract and legitimate interest without consent. */
export const eu = (id: string, ...more: Headers[]): Headers => subject(id, region("DE"), ...more);

/** A subject in California: opt-out, where GPC opts out of sale and sharing. */
export const ca = (id: string, ...more: Headers[]): Headers => subject(id, region("US-CA"), ...more);

/** An agent who acts for subjects (naming them with ?subject=). */
export const agent = (id: string, ...more: Headers[]): Headers => subject(id, roles("agent"), ...more);

/** The data protection officer, who reads the compliance logs and reports. */
export const DPO: Headers = subject("dpo-1", roles("dpo"));

/** PUT /privacy/consents/:purpose {granted: true} as `who`; more of the body (overrideGpc) in `body`. Add .expect() as the test needs. */
export const grant = (app: Express, who: Headers, purpose: string, body: object = {}) =>
  request(app)
    .put(`/privacy/consents/${purpose}`)
    .set(who)
    .send({ granted: true, ...body });

/** The same route with {granted: false}: a withdrawal, or an objection to a legitimate interest. */
export const withdraw = (app: Express, who: Headers, purpose: string) =>
  request(app).put(`/privacy/consents/${purpose}`).set(who).send({ granted: false });

/** The whole answer as text in res.body, whatever its type (exports are attachments, logs JSONL). */
export const asText = (req: request.Test) =>
  req.buffer(true).parse((res, done) => {
    let text = "";
    res.on("data", (chunk: Buffer) => (text += chunk.toString()));
    res.on("end", () => done(null, text));
  });

/** A region's compliance log as the DPO reads it: GET /privacy/admin/compliance/:region, JSONL. */
export async function logOf(app: Express, region: string): Promise<AuditEntry[]> {
  const res = await asText(request(app).get(`/privacy/admin/compliance/${region}`).set(DPO));
  assert.equal(res.status, 200, String(res.body));
  return (res.body as string)
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEntry);
}

export const eventsOf = (entries: AuditEntry[], event: string) => entries.filter((e) => e.event === event);
