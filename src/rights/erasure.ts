/**
 * DELETE /data: the right to erasure (GDPR Art. 17, CCPA §1798.105).
 *
 * Order: first the request is recorded as received, which makes the store
 * refuse any write decided before that moment (src/store/interactions.ts),
 * so nothing in flight resurrects data; then Consentgate's own tables go in
 * one transaction; then each registered data source. A data source that
 * fails leaves the request `partial` with the failure recorded, never
 * `completed`; the erasure-retry job tries it again. The certificate is
 * signed with Ed25519 like receipts (anyone can check it against `GET /keys`)
 * and lists what was erased where. A failure
 * is named by a stable reason only: a data source's error text (which may
 * hold a connection string or a query) goes to the host's logger, never into
 * the certificate, the request record or an export.
 */
import type { Logger } from "../logger.ts";
import type { DocumentSigner } from "../signatures/ed25519.ts";
import type { ConsentCache } from "../store/consent-cache.ts";
import type { ErasedCounts, Erasures } from "../store/erase.ts";
import type { Requests } from "../store/requests.ts";
import type { DataSources } from "./data-sources.ts";
import { type RequestDeps, finishRequest, receiveRequest } from "./requests.ts";
import type { Target } from "./subject.ts";

/** What erasing (and retrying erasures, for the erasure-retry job) needs. */
export interface ErasureDeps extends RequestDeps {
  /** Erases Consentgate's own tables in one transaction. */
  readonly erasures: Erasures;
  readonly requests: Pick<Requests, "open" | "finish" | "interruptedErasures" | "partial">;
  /** Told of every erasure, so this instance's cache forgets the subject's choices. */
  readonly consents: Pick<ConsentCache, "changed">;
  readonly dataSources: Pick<DataSources, "list" | "get">;
  readonly signer: Pick<DocumentSigner, "sign">;
  readonly logger: Logger;
}

export const CERTIFICATE_VERSION = "consentgate-erasure/2";
/** Certificates signed with an HMAC of the secret, before Ed25519: no `kid`, a hex signature. */
export const HMAC_CERTIFICATE_VERSION = "consentgate-erasure/1";

/**
 * A data source an erasure could not erase from, as the certificate lists
 * it: by a stable reason only (the error itself goes to the host's logger).
 *
 * @example
 * ```ts
 * import type { DataSourceFailure } from "consentgate";
 *
 * const retryLater = (failures: DataSourceFailure[]) =>
 *   failures.filter((f) => f.reason === "data_source_failed").map((f) => f.dataSource);
 * ```
 */
export interface DataSourceFailure {
  /** The data source's registered name. */
  dataSource: string;
  /** data_source_failed: its erase threw; data_source_missing: it is no longer registered. */
  reason: "data_source_failed" | "data_source_missing";
  /** When it failed, ISO 8601. */
  at: string;
}

/**
 * What `DELETE /data` answers: a signed certificate of what was erased
 * where. `partial` when a data source failed; the erasure-retry job tries
 * those again.
 *
 * @example
 * ```ts
 * import type { ErasureCertificate } from "consentgate";
 *
 * // In a browser, after the user confirmed.
 * async function eraseMe(): Promise<string> {
 *   const res = await fetch("/privacy/data", { method: "DELETE" });
 *   const certificate = (await res.json()) as ErasureCertificate;
 *   const rows = Object.values(certificate.erased.tables).reduce((a, b) => a + b, 0);
 *   if (certificate.status === "completed") return `${rows} records erased`;
 *   return `still erasing from ${certificate.failures.map((f) => f.dataSource).join(", ")}`;
 * }
 * ```
 */
export interface ErasureCertificate {
  /**
   * The certificate format: "consentgate-erasure/2" (Ed25519); "consentgate-erasure/1"
   * for certificates issued before, signed with an HMAC of the secret, without `kid`.
   */
  version: typeof CERTIFICATE_VERSION | typeof HMAC_CERTIFICATE_VERSION;
  /** The erasure request's id, for `GET /requests/:id`. */
  requestId: string;
  /** Whose data was erased. */
  subject: string;
  /** completed, or partial while a data source still has to be erased from. */
  status: "completed" | "partial";
  /** The version of the policy in force. */
  policyVersion: string;
  /** When the request was received, ISO 8601. */
  receivedAt: string;
  /** When the erasure was completed, ISO 8601; null while partial. */
  completedAt: string | null;
  /** What was erased where. */
  erased: {
    /** Rows erased from Consentgate's own tables. */
    tables: ErasedCounts;
    /** Records each data source's erase reported, by name. */
    dataSources: Record<string, number>;
  };
  /** The data sources that could not be erased from yet. */
  failures: DataSourceFailure[];
  /** The signing key, as `GET /keys` names it (its RFC 7638 thumbprint); signed too. Absent on version 1. */
  kid?: string;
  /**
   * Ed25519, base64url, over the RFC 8785 canonical JSON of every other
   * field (version 1: HMAC-SHA256 under a key derived from the secret, hex).
   */
  signature: string;
}

export async function erase(deps: ErasureDeps, target: Target, region: string): Promise<ErasureCertificate> {
  const { request, tables } = await receiveAndEraseTables(deps, target, region);
  const { erased, failures } = await eraseFromSources(
    deps,
    target.subjectId,
    deps.dataSources.list().map((s) => s.name),
    {},
  );
  return finish(deps, { ...request, tables, erased, failures });
}

/** What {@link eraseOwnTables} did: the open request and the rows erased from Consentgate's tables. */
export interface OwnTablesErased {
  requestId: string;
  tables: ErasedCounts;
}

/**
 * `consentgate erase`'s step, in a process that has none of the app's data
 * sources or gated models: records the erasure request and erases
 * Consentgate's own tables as erase() does (their counts noted on the
 * request), then leaves the request open (`received`), neither finished nor
 * signed. Finishing it here would certify an erasure the app's tables have
 * not had. The app's erasure-retry job takes it up INTERRUPTED_AFTER_MS
 * after it was received, erases the app's data too, keeps these counts, and
 * signs the certificate.
 */
export async function eraseOwnTables(deps: ErasureDeps, target: Target, region: string): Promise<OwnTablesErased> {
  const { request, tables } = await receiveAndEraseTables(deps, target, region);
  return { requestId: request.id, tables };
}

async function receiveAndEraseTables(deps: ErasureDeps, target: Target, region: string) {
  const request = await receiveRequest(deps, "erasure", target, region);
  const tables = await eraseTables(deps, target.subjectId, request.id);
  return { request, tables };
}

/** Consentgate's own tables, in one transaction; `before`: the counts an earlier pass noted on the request. */
async function eraseTables(
  deps: ErasureDeps,
  subjectId: string,
  requestId: string,
  before?: ErasedCounts,
): Promise<ErasedCounts> {
  try {
    return await deps.erasures.erase(subjectId, requestId, before);
  } finally {
    // Also when it throws: the commit may have happened before the error reached us; forgetting is always safe.
    deps.consents.changed(subjectId);
  }
}

/**
 * An erasure still open this long after it was received was interrupted (its
 * process stopped, or its completion could not be recorded): the
 * erasure-retry job runs it again. Longer than any erasure takes, so a live
 * one is left alone. `consentgate erase` leaves its requests open on purpose
 * (see eraseOwnTables): this job is what finishes them, in the app.
 */
export const INTERRUPTED_AFTER_MS = 15 * 60_000;

/**
 * For the erasure-retry job: runs every interrupted erasure again (erasing is
 * idempotent; the counts of an earlier pass, noted with the tables' erasure,
 * are kept), then retries the failed data sources of every `partial` one.
 */
export async function retryPartialErasures(deps: ErasureDeps): Promise<{ retried: number; completed: number }> {
  let completed = 0;
  const interrupted = await deps.requests.interruptedErasures(new Date(deps.now().getTime() - INTERRUPTED_AFTER_MS));
  for (const request of interrupted) {
    const before = (request.details as { erased?: { tables?: ErasedCounts } } | null)?.erased?.tables;
    const tables = await eraseTables(deps, request.subjectId, request.id, before);
    const { erased, failures } = await eraseFromSources(
      deps,
      request.subjectId,
      deps.dataSources.list().map((s) => s.name),
      {},
    );
    const certificate = await finish(deps, { ...request, tables, erased, failures });
    if (certificate.status === "completed") completed++;
  }
  const partial = await deps.requests.partial();
  for (const request of partial) {
    const previous = request.details as ErasureCertificate;
    const names = previous.failures.map((f) => f.dataSource);
    const { erased, failures } = await eraseFromSources(deps, request.subjectId, names, previous.erased.dataSources);
    const certificate = await finish(deps, {
      id: request.id,
      subjectId: request.subjectId,
      region: request.region,
      receivedAt: request.receivedAt,
      tables: previous.erased.tables,
      erased,
      failures,
    });
    if (certificate.status === "completed") completed++;
  }
  return { retried: interrupted.length + partial.length, completed };
}

async function eraseFromSources(
  deps: ErasureDeps,
  subjectId: string,
  names: string[],
  already: Record<string, number>,
) {
  const erased = { ...already };
  const failures: DataSourceFailure[] = [];
  for (const name of names) {
    const source = deps.dataSources.get(name);
    if (!source) {
      deps.logger.error(
        { dataSource: name },
        "consentgate: a data source to erase from is no longer registered; the request stays partial",
      );
      failures.push({ dataSource: name, reason: "data_source_missing", at: deps.now().toISOString() });
      continue;
    }
    try {
      const count = await source.erase(subjectId);
      erased[name] = (erased[name] ?? 0) + (Number.isFinite(count) ? Number(count) : 0);
    } catch (error) {
      deps.logger.error(
        { err: error, dataSource: name },
        "consentgate: a data source failed to erase; the request stays partial",
      );
      failures.push({ dataSource: name, reason: "data_source_failed", at: deps.now().toISOString() });
    }
  }
  return { erased, failures };
}

async function finish(
  deps: ErasureDeps,
  r: {
    id: string;
    subjectId: string;
    region: string;
    receivedAt: Date;
    tables: ErasedCounts;
    erased: Record<string, number>;
    failures: DataSourceFailure[];
  },
): Promise<ErasureCertificate> {
  const status = r.failures.length === 0 ? "completed" : "partial";
  const completedAt = deps.now();
  const body = {
    version: CERTIFICATE_VERSION,
    requestId: r.id,
    subject: r.subjectId,
    status,
    policyVersion: deps.policy.version,
    receivedAt: r.receivedAt.toISOString(),
    completedAt: status === "completed" ? completedAt.toISOString() : null,
    erased: { tables: r.tables, dataSources: r.erased },
    failures: r.failures,
  } as const;
  const certificate: ErasureCertificate = deps.signer.sign(body);
  await finishRequest(deps, { ...r, type: "erasure" }, status, completedAt, certificate, {
    erased: { tables: r.tables, dataSources: r.erased },
    failedDataSources: r.failures.map((f) => f.dataSource),
  });
  return certificate;
}
