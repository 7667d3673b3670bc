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
import type { Response } from "express";
import type { Core } from "../core.ts";
import { effectiveDecisions } from "../decision/effective.ts";
import { consentHistory } from "../store/consents.ts";
import type { Interaction } from "../store/interactions.ts";
import { receiptOf } from "./receipts.ts";
import { finishRequest, receiveRequest } from "./requests.ts";
import type { Target } from "./subject.ts";

export const EXPORT_FORMAT = "consentgate-export/1";

export async function streamExport(core: Core, target: Target, signals: { region: string; gpc: boolean }, res: Response): Promise<void> {
  const { policy } = core;
  const { subjectId } = target;
  const request = await receiveRequest(core, "export", target, signals.region);
  const { id, receivedAt, dueAt, region } = request;

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
    effectiveDecisions(policy, { region, gpc: signals.gpc }, choices).map(({ purpose: p, decision }) => [
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
    ]),
  );
  const receipts = history.map(receiptOf);
  const head = {
    format: EXPORT_FORMAT,
    generatedAt: receivedAt.toISOString(),
    subject: subjectId,
    region,
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
  // Completed before the response ends: a client that asks for the request's
  // status as soon as its download finishes must see it completed. (If this
  // fails, the connection closes on an unfinished document.)
  await finishRequest(core, request, "completed", core.now(), { format: EXPORT_FORMAT });
  res.end();
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
