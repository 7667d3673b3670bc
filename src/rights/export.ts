/**
 * GET /export: everything held about the subject (GDPR Art. 15 and 20, CCPA
 * §1798.110), as one JSON document in a versioned shape, streamed: consent
 * history is read page by page and large data sources item by item, so
 * neither is ever built as one string.
 *
 * Shape (consentgate-export/1):
 *   { format, generatedAt, subject, region, policyVersion, request,
 *     purposes:     { [purpose]: { description, legalBasis, saleOrShare, sensitive, retention, window, decision } },
 *     consents:     { current: { [purpose]: { granted, receiptId, at } }, history: Receipt[] },
 *     interactions: { [purpose]: Interaction[] },       // each with its provenance; purposes since removed included
 *     requests:     PrivacyRequest[],
 *     telemetry:    { metric, at }[],                  // when a telemetry report was sent (the report is not kept)
 *     learning:     { model, round, purpose, receivedAt, delta }[],  // federated updates not yet aggregated
 *     dataSources:  { [name]: any } }                   // iterables become arrays; big integers text, bytes base64
 *
 * The request records how the download really ended: completed, aborted (the
 * client went away before the end) or failed (with a stable reason only; the
 * error itself goes to the host's logger, never into the request or the answer).
 */
import type { Writable } from "node:stream";
import type { Response } from "express";
import { effectiveDecisions } from "../decision/effective.ts";
import type { Logger } from "../logger.ts";
import type { DocumentSigner } from "../signatures/ed25519.ts";
import type { ConsentCache } from "../store/consent-cache.ts";
import type { Interaction, InteractionStore } from "../store/interactions.ts";
import type { StoredUpdate } from "../store/learning.ts";
import type { TelemetryRecordView } from "../store/telemetry.ts";
import type { ConsentStore } from "../store/consents.ts";
import type { Requests } from "../store/requests.ts";
import type { DataSources } from "./data-sources.ts";
import { receiptOf } from "./receipts.ts";
import { type ReceivedRequest, type RequestDeps, finishRequest, receiveRequest } from "./requests.ts";
import type { Target } from "./subject.ts";
import { drained } from "./drained.ts";

/** What an export reads, and where it records how the download ended. */
export interface ExportDeps extends RequestDeps {
  /** The subject's receipts, read a page at a time. */
  readonly consentStore: Pick<ConsentStore, "events">;
  readonly requests: Pick<Requests, "open" | "finish" | "forSubject">;
  readonly consents: Pick<ConsentCache, "choices">;
  readonly interactions: Pick<InteractionStore, "forSubject">;
  /** When the subject sent telemetry reports (the per-subject limit's records). */
  readonly telemetry: { forSubject(subjectId: string): Promise<TelemetryRecordView[]> };
  /** The subject's federated-learning updates still waiting for their round (aggregated ones are gone). */
  readonly learning: { forSubject(subjectId: string): Promise<StoredUpdate[]> };
  readonly dataSources: Pick<DataSources, "list">;
  /** Receipts are rebuilt from their stored events and checked against their signature. */
  readonly signer: Pick<DocumentSigner, "check">;
  readonly logger: Logger;
}

export const EXPORT_FORMAT = "consentgate-export/1";

/** The client closed the connection before the document ended. */
class DownloadAborted extends Error {}

/** A registered data source threw while exporting; `cause` is for the logger only. */
class DataSourceFailed extends Error {
  constructor(
    readonly dataSource: string,
    cause: unknown,
  ) {
    super(`data source "${dataSource}" failed to export`, { cause });
  }
}

type Write = (chunk: string) => Promise<void>;

/**
 * Writes the subject's export to `out` (the HTTP response, or for the CLI
 * stdout or a file) and ends it; `begin` runs before the first byte, with
 * the file name the download is offered as (the route sets its headers).
 */
export async function streamExport(
  deps: ExportDeps,
  target: Target,
  signals: { region: string; gpc: boolean },
  out: Writable,
  begin: (fileName: string) => void = () => {},
): Promise<void> {
  const request = await receiveRequest(deps, "export", target, signals.region);
  const download = openDownload(out);
  try {
    await writeDocument(deps, target, signals, request, begin, download.write);
    // A client that left after the last chunk did not get the whole document either.
    if (download.closed()) throw new DownloadAborted();
    // Completed before the response ends: a client that asks for the request's
    // status as soon as its download finishes must see it completed.
    await finishRequest(deps, request, "completed", deps.now(), { format: EXPORT_FORMAT });
  } catch (error) {
    await recordUnfinished(deps, request, error);
    // Before the first byte the router answers with an error body; after it, the connection is cut.
    throw error;
  }
  out.end();
}

/** How GET /export answers: a JSON attachment named after the day of the request. */
export function httpDownload(res: Response): (fileName: string) => void {
  return (fileName) => {
    res.status(200);
    res.attachment(fileName);
    res.type("application/json");
  };
}

async function writeDocument(
  deps: ExportDeps,
  target: Target,
  signals: { gpc: boolean },
  request: ReceivedRequest,
  begin: (fileName: string) => void,
  write: Write,
): Promise<void> {
  const { policy } = deps;
  const { subjectId } = target;
  const { id, receivedAt, dueAt, region } = request;

  // Everything that can fail before the first byte is read first, so a failure is still a clean error response.
  const [choices, requests, interactions, telemetry, updates] = await Promise.all([
    deps.consents.choices(subjectId),
    deps.requests.forSubject(subjectId),
    deps.interactions.forSubject(subjectId, { now: receivedAt }),
    deps.telemetry.forSubject(subjectId),
    deps.learning.forSubject(subjectId),
  ]);
  // Each update in full: it is what the device sent, base64 of little-endian float32 as it was posted.
  const learning = updates.map(({ model, round, purpose, receivedAt: at, delta }) => ({
    model,
    round,
    purpose,
    receivedAt: at.toISOString(),
    delta: Buffer.from(delta.buffer, delta.byteOffset, delta.byteLength).toString("base64"),
  }));

  begin(`consentgate-export-${receivedAt.toISOString().slice(0, 10)}.json`);

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
  const head = {
    format: EXPORT_FORMAT,
    generatedAt: receivedAt.toISOString(),
    subject: subjectId,
    region,
    policyVersion: policy.version,
    request: { id, receivedAt: receivedAt.toISOString(), dueAt: dueAt.toISOString() },
    purposes,
  };
  const current = Object.fromEntries(
    [...choices].map(([purpose, c]) => [
      purpose,
      { granted: c.granted, receiptId: c.receiptId, at: c.at.toISOString() },
    ]),
  );
  await write(`${JSON.stringify(head).slice(0, -1)},"consents":{"current":${JSON.stringify(current)},"history":`);
  await writeArray(
    mapped(deps.consentStore.events(subjectId), (event) => receiptOf(deps.signer, event)),
    write,
  );

  // Windows bound what is held per purpose, so one read holds it all.
  const byPurpose: Record<string, Interaction[]> = Object.fromEntries(Object.keys(policy.purposes).map((p) => [p, []]));
  for (const row of interactions) (byPurpose[row.purpose] ??= []).push(row);
  await write(
    `},"interactions":${JSON.stringify(byPurpose)},"requests":${JSON.stringify(requests)},"telemetry":${JSON.stringify(telemetry)},"learning":${JSON.stringify(learning)},"dataSources":{`,
  );
  let first = true;
  for (const source of deps.dataSources.list()) {
    await write(`${first ? "" : ","}${JSON.stringify(source.name)}:`);
    await writeSource(source.name, () => source.export(subjectId), write);
    first = false;
  }
  await write("}}");
}

/**
 * Writes that wait for a slow reader instead of buffering for it, and stop
 * with DownloadAborted once the client has gone: nothing more is read from
 * the store or the data sources for nobody.
 */
function openDownload(res: Writable): { write: Write; closed: () => boolean } {
  let gone = false;
  res.once("close", () => {
    gone = !res.writableFinished;
  });
  const closed = () => gone || res.destroyed;
  const write: Write = async (chunk) => {
    if (closed()) throw new DownloadAborted();
    if (res.write(chunk)) return;
    await drained(res);
    if (closed()) throw new DownloadAborted();
  };
  return { write, closed };
}

/** Records an export that did not complete, and hands the detail to the logger only. */
async function recordUnfinished(deps: ExportDeps, request: ReceivedRequest, error: unknown): Promise<void> {
  const log = { requestId: request.id };
  let status: "aborted" | "failed";
  let details: { format: string; reason: string; dataSource?: string };
  if (error instanceof DownloadAborted) {
    status = "aborted";
    details = { format: EXPORT_FORMAT, reason: "client_closed" };
    deps.logger.info(
      log,
      "consentgate: the client closed an export before it ended; the request is recorded as aborted",
    );
  } else if (error instanceof DataSourceFailed) {
    status = "failed";
    details = { format: EXPORT_FORMAT, reason: "data_source_failed", dataSource: error.dataSource };
    deps.logger.error(
      { ...log, err: error.cause, dataSource: error.dataSource },
      "consentgate: a data source failed to export; the download was cut",
    );
  } else {
    status = "failed";
    details = { format: EXPORT_FORMAT, reason: "export_failed" };
    deps.logger.error({ ...log, err: error }, "consentgate: an export failed; the download was cut");
  }
  try {
    await finishRequest(deps, request, status, deps.now(), details, { reason: details.reason });
  } catch (finishError) {
    deps.logger.error(
      { ...log, err: finishError },
      `consentgate: the ${status} export could not be recorded; it stays received`,
    );
  }
}

/** A data source's export as JSON; an (async) iterable as a JSON array, item by item. Its own errors become DataSourceFailed. */
async function writeSource(name: string, exported: () => unknown, write: Write): Promise<void> {
  let value: unknown;
  try {
    value = await exported();
  } catch (error) {
    throw new DataSourceFailed(name, error);
  }
  const iterable =
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    (Symbol.asyncIterator in value || Symbol.iterator in value);
  if (!iterable) return write(sourceJson(value));
  await writeArray(guarded(name, value as AsyncIterable<unknown> | Iterable<unknown>), write, sourceJson);
}

/**
 * A data source's value as JSON, with what database rows hold and JSON
 * lacks made plain: dates as ISO text (their own toJSON), decimals as text
 * (Prisma's Decimal's toJSON), big integers as decimal text, bytes as base64.
 */
function sourceJson(value: unknown): string {
  return JSON.stringify(value ?? null, function plain(this: Record<string, unknown>, key, converted: unknown) {
    if (typeof converted === "bigint") return converted.toString();
    // The value before its toJSON: a Buffer's would be { type, data: [bytes…] }.
    const original = this[key];
    if (original instanceof Uint8Array)
      return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString("base64");
    return converted;
  });
}

/** Items as a JSON array, one write each. Leaving early (the client left) closes the iterator, so a source can release its cursor. */
async function writeArray(
  items: AsyncIterable<unknown>,
  write: Write,
  json: (item: unknown) => string = (item) => JSON.stringify(item ?? null),
): Promise<void> {
  await write("[");
  let first = true;
  for await (const item of items) {
    await write(`${first ? "" : ","}${json(item)}`);
    first = false;
  }
  await write("]");
}

async function* mapped<T, U>(items: AsyncIterable<T>, map: (item: T) => U): AsyncGenerator<U> {
  for await (const item of items) yield map(item);
}

/** The source's items, with an error the source raises (not one raised while writing them) marked as its failure. */
async function* guarded(name: string, items: AsyncIterable<unknown> | Iterable<unknown>): AsyncGenerator<unknown> {
  const iterator =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : (items as Iterable<unknown>)[Symbol.iterator]();
  let done = false;
  try {
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (error) {
        done = true;
        throw new DataSourceFailed(name, error);
      }
      if (step.done) {
        done = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // Stopped early by the consumer: let the source clean up; its errors here change nothing.
    if (!done) await Promise.resolve(iterator.return?.()).catch(() => {});
  }
}
