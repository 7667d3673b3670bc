/**
 * GET /export: everything held about the subject (GDPR Art. 15 and 20, CCPA
 * §1798.110), as one JSON document in a versioned shape, streamed: large
 * data sources are written item by item, never built as one string.
 *
 * Shape (consentgate-export/1):
 *   { format, generatedAt, subject, region, policyVersion, request,
 *     purposes:     { [purpose]: { description, legalBasis, saleOrShare, sensitive, retention, window, decision } },
 *     consents:     { current: { [purpose]: { granted, receiptId, at } }, history: Receipt[] },
 *     interactions: { [purpose]: Interaction[] },       // each with its provenance; purposes since removed included
 *     requests:     PrivacyRequest[],
 *     dataSources:  { [name]: any } }                   // iterables become arrays
 */
import { once } from "node:events";
import { randomUUID } from "node:crypto";
import type { Response } from "express";
import type { Core } from "../core.ts";
import { decide } from "../decision/decide.ts";
import { addDuration } from "../policy/duration.ts";
import { consentHistory } from "../store/consents.ts";
import { RECEIPT_VERSION, type Receipt } from "./receipts.ts";
import type { Target } from "./subject.ts";
import type { Interaction } from "../store/interactions.ts";

export const EXPORT_FORMAT = "consentgate-export/1";

export async function streamExport(core: Core, target: Target, signals: { region: string; gpc: boolean }, res: Response): Promise<void> {
  const { policy } = core;
  const { subjectId } = target;
  const id = randomUUID();
  const receivedAt = core.now();
  const region = policy.regions[signals.region] ?? policy.regions[policy.defaults.region]!;
  const dueAt = addDuration(receivedAt, region.requestDeadline);
  await core.requests.open({ id, subjectId, type: "export", region: region.name, actorId: target.onBehalf ? target.actorId : undefined, receivedAt, dueAt });
  await core.audit.append({ region: region.name, event: "request.received", subjectId, details: { requestId: id, type: "export", onBehalf: target.onBehalf } });

  // Everything that can fail before the first byte is read first, so a failure is still a clean error response.
  const [choices, history, requests, interactions] = await Promise.all([
    core.consents.choices(subjectId),
    consentHistory(core.connection, subjectId),
    core.requests.forSubject(subjectId),
    core.interactions.forSubject(subjectId, { now: receivedAt }),
  ]);

  res.status(200);
  res.attachment(`consentgate-export-${receivedAt.toISOString().slice(0, 10)}.json`);
  res.type("application/json");
  const write = async (chunk: string) => {
    if (!res.write(chunk)) await once(res, "drain");
  };

  const purposes = Object.fromEntries(
    Object.values(policy.purposes).map((p) => {
      const decision = decide({ policy, purpose: p.name, region: region.name, gpc: signals.gpc, choice: choices.get(p.name) });
      return [
        p.name,
        {
          description: p.description,
          legalBasis: p.legalBasis,
          saleOrShare: p.saleOrShare,
          sensitive: p.sensitive,
          retention: p.retention?.text ?? null,
          window: p.window ?? null,
          decision: { granted: decision.allowed, source: decision.source },
        },
      ];
    }),
  );
  const receipts: Receipt[] = history.map((e) => ({
    version: RECEIPT_VERSION,
    id: e.id,
    subject: e.subjectId,
    purpose: e.purpose,
    granted: e.granted,
    policyVersion: e.policyVersion,
    region: e.region,
    at: e.at.toISOString(),
    gpc: e.gpc,
    overrideGpc: e.overrideGpc,
    signature: e.signature,
  }));
  const head = {
    format: EXPORT_FORMAT,
    generatedAt: receivedAt.toISOString(),
    subject: subjectId,
    region: region.name,
    policyVersion: policy.version,
    request: { id, receivedAt: receivedAt.toISOString(), dueAt: dueAt.toISOString() },
    purposes,
    consents: {
      current: Object.fromEntries([...choices].map(([purpose, c]) => [purpose, { granted: c.granted, receiptId: c.receiptId, at: c.at.toISOString() }])),
      history: receipts,
    },
  };
  const headJson = JSON.stringify(head);
  // Windows bound what is held per purpose, so one read holds it all.
  const byPurpose: Record<string, Interaction[]> = Object.fromEntries(Object.keys(policy.purposes).map((p) => [p, []]));
  for (const row of interactions) (byPurpose[row.purpose] ??= []).push(row);
  await write(`${headJson.slice(0, -1)},"interactions":${JSON.stringify(byPurpose)},"requests":${JSON.stringify(requests)},"dataSources":{`);
  let first = true;
  for (const source of core.dataSources.list()) {
    await write(`${first ? "" : ","}${JSON.stringify(source.name)}:`);
    await writeValue(await source.export(subjectId), write);
    first = false;
  }
  await write("}}");
  res.end();

  await core.requests.finish(id, "completed", core.now(), { format: EXPORT_FORMAT });
  await core.audit.append({ region: region.name, event: "request.completed", subjectId, details: { requestId: id, type: "export", status: "completed" } });
}

/** A value as JSON; an (async) iterable as a JSON array written item by item. */
async function writeValue(value: unknown, write: (chunk: string) => Promise<void>): Promise<void> {
  const iterable = value !== null && typeof value === "object" && !Array.isArray(value) && (Symbol.asyncIterator in value || Symbol.iterator in value);
  if (!iterable) return write(JSON.stringify(value ?? null));
  await write("[");
  let first = true;
  for await (const item of value as AsyncIterable<unknown>) {
    await write(`${first ? "" : ","}${JSON.stringify(item ?? null)}`);
    first = false;
  }
  await write("]");
}
