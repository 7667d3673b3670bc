/**
 * Privacy requests (exports and erasures): when each was received, when the
 * law wants it answered, and how it ended.
 */
import type { Prisma } from "../generated/prisma/client.ts";
import type { Connection } from "./connection.ts";

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
export type RequestType = "export" | "erasure";
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
export type RequestStatus = "received" | "completed" | "partial" | "overdue" | "aborted" | "failed";

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

/** Past its legal deadline and not answered, whether or not the deadlines job has marked it yet. */
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

const view = (r: { id: string; type: string; status: string; region: string; receivedAt: Date; dueAt: Date; completedAt: Date | null; actorId: string | null; details: unknown }): PrivacyRequestView => ({
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

export function createRequests(connection: Connection) {
  const { prisma } = connection;
  return {
    /** `alongside`: statements that commit with the change or not at all (its compliance log entry). */
    async open(request: NewRequest, alongside: Prisma.PrismaPromise<unknown>[] = []): Promise<void> {
      await prisma.$transaction([prisma.privacyRequest.create({ data: { ...request, actorId: request.actorId ?? null, status: "received" } }), ...alongside]);
    },
    async finish(id: string, status: FinishedStatus, completedAt: Date, details: Prisma.InputJsonValue, alongside: Prisma.PrismaPromise<unknown>[] = []): Promise<void> {
      await prisma.$transaction([
        prisma.privacyRequest.update({ where: { id }, data: { status, completedAt: status === "partial" ? null : completedAt, details } }),
        ...alongside,
      ]);
    },
    async forSubject(subjectId: string): Promise<PrivacyRequestView[]> {
      const rows = await prisma.privacyRequest.findMany({ where: { subjectId }, orderBy: [{ receivedAt: "desc" }, { id: "asc" }] });
      return rows.map(view);
    },
    /** A request only its own subject may see: another subject's id reads as missing. */
    async find(subjectId: string, id: string): Promise<PrivacyRequestView | undefined> {
      // Ids are UUIDs; anything else names no request (and must not reach a uuid column as a query error).
      if (!UUID.test(id)) return undefined;
      const row = await prisma.privacyRequest.findFirst({ where: { id, subjectId } });
      return row ? view(row) : undefined;
    },
    /**
     * Erasures received before `receivedBefore` that never ended (still
     * `received`, or `overdue`): interrupted after their tables were erased,
     * or before. For the erasure-retry job.
     */
    async interruptedErasures(receivedBefore: Date): Promise<(PrivacyRequestView & { subjectId: string })[]> {
      const rows = await prisma.privacyRequest.findMany({
        where: { type: "erasure", status: { in: ["received", "overdue"] satisfies RequestStatus[] }, completedAt: null, receivedAt: { lt: receivedBefore } },
        orderBy: { receivedAt: "asc" },
      });
      return rows.map((r) => ({ ...view(r), subjectId: r.subjectId }));
    },
    async partial(): Promise<(PrivacyRequestView & { subjectId: string })[]> {
      const rows = await prisma.privacyRequest.findMany({ where: { type: "erasure", status: "partial" }, orderBy: { receivedAt: "asc" } });
      return rows.map((r) => ({ ...view(r), subjectId: r.subjectId }));
    },
  };
}

export type Requests = ReturnType<typeof createRequests>;
