/**
 * Local-DP telemetry (tables telemetry_cells and telemetry_reports): every
 * query on them is here.
 *
 * A report is one call of the database function consentgate_telemetry_report
 * (migration 0008, owned here), one transaction: it takes the subject's write
 * lock shared (so an erasure, which takes it exclusive, either deletes this
 * report's record or comes after it), then the subject's telemetry lock
 * exclusive, counts the subject's records of the metric in the rolling
 * period, and either refuses or adds one record and the report's bit to its
 * sketch cell. Two reports of one subject, on any instance, queue on that
 * lock, so the second counts the first's record: the limit cannot be raced
 * past. The report itself is not kept; only its ±1 is added into the cell's sum.
 */
import type { Connection, SqlSession } from "./connection.ts";

export interface ReportRequest {
  subjectId: string;
  /** The metric's name: what the subject's limit and records are kept under. */
  metric: string;
  /** The sketch the report's bit goes into: the metric with its parameters (src/insights/telemetry.ts, sketchId). */
  sketch: string;
  hash: number;
  index: number;
  bit: 1 | -1;
  now: Date;
  /** The rolling period's start: records after it count against the limit. */
  since: Date;
  /** Reports allowed in the period. */
  limit: number;
}

/** One stored sketch cell: the sum of its bits, and how many reports it received. */
export interface StoredCell {
  hash: number;
  index: number;
  sum: number;
  reports: number;
}

/** When the subject reported to a metric (an export lists these; what was reported is not kept anywhere). */
export interface TelemetryRecordView {
  /** The metric's name in the policy. */
  metric: string;
  /** When the report was accepted. */
  at: Date;
}

type Query = Pick<SqlSession, "query">;

/** What became of a report: accepted, or refused by the limit until the oldest counted record leaves the period. */
export type ReportOutcome = { accepted: true } | { accepted: false; oldest: Date };

/** Adds the report, or refuses it (nothing stored) when the subject's limit for the period is used up. */
export async function recordReport(connection: Connection, request: ReportRequest): Promise<ReportOutcome> {
  // All of it in the database function of migration 0008, which says why each step is there: one round trip
  // (on PGlite, a transaction of five statements took 30 ms a report, the function 7: see the commit message).
  const [row] = await connection.query<{ oldest: Date | null }>(
    "SELECT consentgate_telemetry_report($1, $2, $3, $4, $5, $6, $7, $8, $9) AS oldest",
    [
      request.subjectId,
      request.metric,
      request.sketch,
      request.hash,
      request.index,
      request.bit,
      request.now,
      request.since,
      request.limit,
    ],
    "consentgate_telemetry_report",
  );
  const oldest = row?.oldest;
  return oldest == null ? { accepted: true } : { accepted: false, oldest: new Date(oldest) };
}

/** Deletes the subject's records of every metric, in the erasure's transaction (erase.ts). */
export async function deleteSubjectTelemetryInTransaction(
  tx: { $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number> },
  subjectId: string,
): Promise<number> {
  return tx.$executeRawUnsafe(`DELETE FROM telemetry_reports WHERE "subjectId" = $1`, subjectId);
}

/** The metric's tables as the layers above use them, bound to one open store. */
export interface TelemetryStore {
  /** Adds one report under the subject's limit (see recordReport). */
  report(request: ReportRequest): Promise<ReportOutcome>;
  /** Every stored cell of a sketch, read in one statement so that the sums and n agree. */
  cells(sketch: string): Promise<StoredCell[]>;
  /** When the subject reported, oldest first (the records still kept). */
  forSubject(subjectId: string): Promise<TelemetryRecordView[]>;
}

export function createTelemetryStore(connection: Connection): TelemetryStore {
  const query: Query = connection;
  return {
    report: (request) => recordReport(connection, request),
    cells: (sketch) =>
      query.query<StoredCell>(`SELECT hash, "index", sum, reports FROM telemetry_cells WHERE sketch = $1`, [sketch]),
    forSubject: (subjectId) =>
      query.query<TelemetryRecordView>(
        `SELECT metric, at FROM telemetry_reports WHERE "subjectId" = $1 ORDER BY at, seq`,
        [subjectId],
      ),
  };
}
