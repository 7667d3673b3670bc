/**
 * DELETE /data: the right to erasure (GDPR Art. 17, CCPA §1798.105).
 *
 * Order: first the request is recorded as received, which makes the store
 * refuse any write decided before that moment (src/store/interactions.ts),
 * so nothing in flight resurrects data; then Consentgate's own tables go in
 * one transaction; then each registered data source. A data source that
 * fails leaves the request `partial` with the failure recorded, never
 * `completed`; the erasure-retry job tries it again. The certificate is
 * signed with the gate's secret and lists what was erased where. A failure
 * is named by a stable reason only: a data source's error text (which may
 * hold a connection string or a query) goes to the host's logger, never into
 * the certificate, the request record or an export.
 */
import type { Logger } from "../logger.ts";
import type { Keyring } from "../signatures/hmac.ts";
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
  readonly keyring: Pick<Keyring, "sign" | "pseudonym">;
  readonly logger: Logger;
}

export const CERTIFICATE_VERSION = "consentgate-erasure/1";

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
  /** The certificate format: "consentgate-erasure/1". */
  version: typeof CERTIFICATE_VERSION;
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
  /** HMAC-SHA256, under a key derived from the gate's secret, of the canonical JSON of every other field (hex). */
  signature: string;
}

export async function erase(deps: ErasureDeps, target: Target, region: string): Promise<ErasureCertificate> {
  const request = await receiveRequest(deps, "erasure", target, region);
  let tables: ErasedCounts;
  try {
    tables = await deps.erasures.erase(target.subjectId, request.id);
  } finally {
    deps.consents.changed(target.subjectId);
  }
  const { erased, failures } = await eraseFromSources(
    deps,
    target.subjectId,
    deps.dataSources.list().map((s) => s.name),
    {},
  );
  return finish(deps, { ...request, tables, erased, failures });
}

/**
 * An erasure still open this long after it was received was interrupted (its
 * process stopped, or its completion could not be recorded): the
 * erasure-retry job runs it again. Longer than any erasure takes, so a live
 * one is left alone.
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
    const tables = await deps.erasures.erase(request.subjectId, request.id, before);
    deps.consents.changed(request.subjectId);
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
  const certificate: ErasureCertificate = { ...body, signature: deps.keyring.sign(body) };
  await finishRequest(deps, { ...r, type: "erasure" }, status, completedAt, certificate, {
    erased: { tables: r.tables, dataSources: r.erased },
    failedDataSources: r.failures.map((f) => f.dataSource),
  });
  return certificate;
}
