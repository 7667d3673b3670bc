/**
 * Privacy requests (exports and erasures): when each was received, when the
 * law wants it answered, and how it ended. Every query on `privacy_requests`
 * is here (the erasure's own transaction calls the `*InTransaction` helpers).
 */
import { appendLogEntry, type PendingLogEntry } from "./compliance-log.ts";
import type { Connection } from "./connection.ts";
import type { Prisma } from "../generated/prisma/client.ts";

/** The kinds of privacy request, as stored; queries take these as parameters. */
export const REQUEST_TYPE = { export: "export", erasure: "erasure" } as const;

/**
 * What a privacy request asks for: a copy of the subject's data (`GET
 * /export`) or its erasure (`DELETE /data`).
 *
 * @example
 * ```ts
 * import type { RequestType } from "consentgate";
 *
 * const label: Record<RequestType, string> = { export: "Download", erasure: "Erasure" };
 * ```
 */
export type RequestType = (typeof REQUEST_TYPE)[keyof typeof REQUEST_TYPE];

/** The statuses a request moves through, as stored; queries take these as parameters. */
export const REQUEST_STATUS = {
  received: "received",
  completed: "completed",
  partial: "partial",
  overdue: "overdue",
  aborted: "aborted",
  failed: "failed",
} as const;

/**
 * received → completed, or partial (a data source failed; retried by the jobs), or overdue (past its deadline).
 * An export is answered while it is served, so it also ends as aborted (the client closed the download)
 * or failed (a data source or the store failed mid-stream); either closes it, and a new download is a new request.
 *
 * @example
 * ```ts
 * import type { RequestStatus } from "consentgate";
 *
 * const needsAttention = (status: RequestStatus) => status === "partial" || status === "overdue";
 * const open = (await gate.store.requests.forSubject("alice")).filter((r) => needsAttention(r.status));
 * ```
 */
export type RequestStatus = (typeof REQUEST_STATUS)[keyof typeof REQUEST_STATUS];

/** How a request can end; all but `partial` close it (set completedAt). */
export type FinishedStatus = Extract<RequestStatus, "completed" | "partial" | "aborted" | "failed">;

/**
 * An export or erasure request as `gate.store.requests.forSubject()`
 * returns it (and, with dates as ISO strings and an `overdue` flag, as
 * `GET /requests` answers).
 *
 * @example
 * ```ts
 * import type { PrivacyRequestView } from "consentgate";
 *
 * const line = (r: PrivacyRequestView) => `${r.type} ${r.status}, due ${r.dueAt.toISOString().slice(0, 10)}`;
 * console.log((await gate.store.requests.forSubject("alice")).map(line));
 * ```
 */
export interface PrivacyRequestView {
  /** The request's id (a UUID), as `GET /requests/:id` takes it. */
  id: string;
  /** Export or erasure. */
  type: RequestType;
  /** Where it stands; see RequestStatus. */
  status: RequestStatus;
  /** The region whose deadline applies. */
  region: string;
  /** When it was received. */
  receivedAt: Date;
  /** When the law wants it answered: receivedAt plus the region's requestDeadline. */
  dueAt: Date;
  /** When the request was closed (see RequestStatus); null while it is still owed. */
  completedAt: Date | null;
  /** The agent who made the request for the subject; null when the subject made it. */
  actorId: string | null;
  /**
   * What the request recorded about how it went (an erasure's counts and failures, an export's
   * format or failure reason); null until it recorded anything.
   */
  details: unknown;
}

/** A request with the subject it is for, as the jobs read it. */
export type SubjectRequest = PrivacyRequestView & { subjectId: string };

/**
 * Past its legal deadline and not answered, whether or not the deadlines job has marked it yet.
 * The one rule for "past": strictly after dueAt (at dueAt itself it is still on time); every query
 * here that looks for overdue requests says `dueAt < now` to match.
 */
export function isOverdue(request: Pick<PrivacyRequestView, "completedAt" | "dueAt">, now: Date): boolean {
  return request.completedAt === null && now > request.dueAt;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface NewRequest {
  id: string;
  subjectId: string;
  type: RequestType;
  region: string;
  actorId: string | undefined;
  receivedAt: Date;
  dueAt: Date;
}

type Row = {
  id: string;
  subjectId: string;
  type: string;
  status: string;
  region: string;
  receivedAt: Date;
  dueAt: Date;
  completedAt: Date | null;
  actorId: string | null;
  details: unknown;
};

/** A request as the layers above see it, from its row (a Prisma row or a raw one; exported for bench reads). */
export const requestViewOf = (r: Omit<Row, "subjectId">): PrivacyRequestView => ({
  id: r.id,
  type: r.type as RequestType,
  status: r.status as RequestStatus,
  region: r.region,
  receivedAt: r.receivedAt,
  dueAt: r.dueAt,
  completedAt: r.completedAt,
  actorId: r.actorId,
  details: r.details,
});

const withSubject = (r: Row): SubjectRequest => ({ ...requestViewOf(r), subjectId: r.subjectId });

/** Newest first; ties (one millisecond) in id order, so pages and lists agree. */
const NEWEST_FIRST = [{ receivedAt: "desc" }, { id: "asc" }] satisfies Prisma.PrivacyRequestOrderByWithRelationInput[];

/**
 * The privacy center's list, read on every visit: one prepared statement, the
 * page of requests with the count beside it (a scalar subquery, run once; no
 * row when there are no requests, so the total is then 0), in NEWEST_FIRST's
 * order. It was a Prisma findMany and count, two queries each costing more in
 * the Prisma client than in the database. Measured with `npm run bench --
 * reads` (5 requests per subject, the newest 20; time per read against the
 * Prisma pair, same run, one caller / 20 callers at once):
 *   PostgreSQL 0.13 / 0.08 of Prisma's time, PGlite 0.09 / 0.11
 * A generic plan walks the (subjectId, receivedAt) index backwards (EXPLAIN
 * under force_generic_plan).
 */
const LATEST_SQL = `
SELECT id, "subjectId", type, status, region, "receivedAt", "dueAt", "completedAt", "actorId", details,
       (SELECT count(*)::int FROM privacy_requests WHERE "subjectId" = $1) AS total
FROM privacy_requests
WHERE "subjectId" = $1
ORDER BY "receivedAt" DESC, id ASC
LIMIT $2`;

export function createRequests(connection: Connection) {
  const { prisma } = connection;
  /** The log entry's append, last in the change's transaction: it holds the region's log head until the commit. */
  const alongside = (logged: PendingLogEntry | undefined) =>
    logged === undefined ? [] : [appendLogEntry(prisma, logged)];
  return {
    /** Records a request as received, with its compliance log entry (`logged`) in the same transaction. */
    async open(request: NewRequest, logged?: PendingLogEntry): Promise<void> {
      const created = prisma.privacyRequest.create({
        data: { ...request, actorId: request.actorId ?? null, status: REQUEST_STATUS.received },
      });
      await prisma.$transaction([created, ...alongside(logged)]);
    },
    /** Records how a request ended (`details`: the subject's record of it), with its log entry in the same transaction. */
    async finish(
      id: string,
      status: FinishedStatus,
      completedAt: Date,
      details: object,
      logged?: PendingLogEntry,
    ): Promise<void> {
      const updated = prisma.privacyRequest.update({
        where: { id },
        data: {
          status,
          completedAt: status === REQUEST_STATUS.partial ? null : completedAt,
          details: details as Prisma.InputJsonValue,
        },
      });
      await prisma.$transaction([updated, ...alongside(logged)]);
    },
    async forSubject(subjectId: string): Promise<PrivacyRequestView[]> {
      const rows = await prisma.privacyRequest.findMany({ where: { subjectId }, orderBy: NEWEST_FIRST });
      return rows.map(requestViewOf);
    },
    /** The subject's newest `limit` requests, newest first, and how many there are in all. */
    async latestForSubject(
      subjectId: string,
      limit: number,
    ): Promise<{ requests: PrivacyRequestView[]; total: number }> {
      const rows = await connection.query<Row & { total: number }>(
        LATEST_SQL,
        [subjectId, limit],
        "consentgate_latest_requests",
      );
      return { requests: rows.map(requestViewOf), total: rows[0]?.total ?? 0 };
    },
    /** A request only its own subject may see: another subject's id reads as missing. */
    async find(subjectId: string, id: string): Promise<PrivacyRequestView | undefined> {
      // Ids are UUIDs; anything else names no request (and must not reach a uuid column as a query error).
      if (!UUID.test(id)) return undefined;
      const row = await prisma.privacyRequest.findFirst({ where: { id, subjectId } });
      return row ? requestViewOf(row) : undefined;
    },
    /**
     * Erasures received before `receivedBefore` that never ended (still
     * `received`, or `overdue`): interrupted after their tables were erased,
     * or before. For the erasure-retry job.
     */
    async interruptedErasures(receivedBefore: Date): Promise<SubjectRequest[]> {
      const rows = await prisma.privacyRequest.findMany({
        where: {
          type: REQUEST_TYPE.erasure,
          status: { in: [REQUEST_STATUS.received, REQUEST_STATUS.overdue] },
          completedAt: null,
          receivedAt: { lt: receivedBefore },
        },
        orderBy: { receivedAt: "asc" },
      });
      return rows.map(withSubject);
    },
    /** Erasures a data source failed, oldest first. For the erasure-retry job. */
    async partial(): Promise<SubjectRequest[]> {
      const rows = await prisma.privacyRequest.findMany({
        where: { type: REQUEST_TYPE.erasure, status: REQUEST_STATUS.partial },
        orderBy: { receivedAt: "asc" },
      });
      return rows.map(withSubject);
    },
    /** Marks `received` requests due before `now` as `overdue`; answers how many it marked. For the deadlines job. */
    async markOverdue(now: Date): Promise<number> {
      const { count } = await prisma.privacyRequest.updateMany({
        where: { status: REQUEST_STATUS.received, completedAt: null, dueAt: { lt: now } },
        data: { status: REQUEST_STATUS.overdue },
      });
      return count;
    },
    /** Requests due before `now` and still open (`overdue`, or `partial` erasures), by due date. For the deadlines job. */
    async pastDeadline(now: Date): Promise<SubjectRequest[]> {
      const rows = await prisma.privacyRequest.findMany({
        where: {
          status: { in: [REQUEST_STATUS.overdue, REQUEST_STATUS.partial] },
          completedAt: null,
          dueAt: { lt: now },
        },
        orderBy: [{ dueAt: "asc" }, { id: "asc" }],
      });
      return rows.map(withSubject);
    },
    /**
     * The privacy officer's list for a region: the requests past their deadline and still open
     * (oldest deadline first, whenever received), and those received in [from, to) (newest first),
     * at most `limit` of each, with how many there are of each in all.
     */
    async forRegion(
      region: string,
      from: Date,
      to: Date,
      now: Date,
      limit: number,
    ): Promise<{
      overdue: PrivacyRequestView[];
      overdueTotal: number;
      received: PrivacyRequestView[];
      receivedTotal: number;
    }> {
      const overdueWhere = openOverdueWhere(now, region);
      const receivedWhere = { region, receivedAt: { gte: from, lt: to } };
      const overdue = await prisma.privacyRequest.findMany({
        where: overdueWhere,
        orderBy: [{ dueAt: "asc" }, { id: "asc" }],
        take: limit,
      });
      const received = await prisma.privacyRequest.findMany({
        where: receivedWhere,
        orderBy: NEWEST_FIRST,
        take: limit,
      });
      // Counted only when the list is full: a shorter one is all there is.
      const count = async (rows: readonly unknown[], where: Prisma.PrivacyRequestWhereInput) =>
        rows.length < limit ? rows.length : prisma.privacyRequest.count({ where });
      return {
        overdue: overdue.map(requestViewOf),
        overdueTotal: await count(overdue, overdueWhere),
        received: received.map(requestViewOf),
        receivedTotal: await count(received, receivedWhere),
      };
    },
    /** Any subject's request, for the privacy officer (who sees requests, not whose they are). */
    async findAny(id: string): Promise<PrivacyRequestView | undefined> {
      if (!UUID.test(id)) return undefined;
      const row = await prisma.privacyRequest.findUnique({ where: { id } });
      return row ? requestViewOf(row) : undefined;
    },
    /** How many of the region's requests are past their deadline at `now` and not completed. For the compliance report. */
    countOpenOverdue(region: string, now: Date): Promise<number> {
      return prisma.privacyRequest.count({ where: openOverdueWhere(now, region) });
    },
    /** The same over every region: for the consentgate_requests_overdue gauge, read when it is scraped. */
    countAllOpenOverdue(now: Date): Promise<number> {
      return prisma.privacyRequest.count({ where: openOverdueWhere(now) });
    },
  };
}

/** Past its deadline (see isOverdue) and still open: received, overdue, or a partial erasure. */
const openOverdueWhere = (now: Date, region?: string): Prisma.PrivacyRequestWhereInput => ({
  ...(region === undefined ? {} : { region }),
  completedAt: null,
  status: { not: REQUEST_STATUS.completed },
  dueAt: { lt: now },
});

export type Requests = ReturnType<typeof createRequests>;

/** In an erasure's transaction: deletes the subject's requests but the erasure's own (`keepId`); answers how many went. */
export async function deleteSubjectRequestsInTransaction(
  tx: Prisma.TransactionClient,
  subjectId: string,
  keepId: string,
): Promise<number> {
  return (await tx.privacyRequest.deleteMany({ where: { subjectId, id: { not: keepId } } })).count;
}

/** In an erasure's transaction: notes on the erasure request what its tables' erasure deleted, so an interrupted erasure can be finished with them. */
export async function noteErasedInTransaction(
  tx: Prisma.TransactionClient,
  id: string,
  tables: Record<string, number>,
): Promise<void> {
  await tx.privacyRequest.update({ where: { id }, data: { details: { erased: { tables: { ...tables } } } } });
}
