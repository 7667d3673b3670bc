/**
 * Privacy requests (exports and erasures): when each was received, when the
 * law wants it answered, and how it ended.
 */
import type { Prisma } from "../generated/prisma/client.ts";
import type { Connection } from "./connection.ts";

export type RequestType = "export" | "erasure";
/**
 * received → completed, or partial (a data source failed; retried by the jobs), or overdue (past its deadline).
 * An export is answered while it is served, so it also ends as aborted (the client closed the download)
 * or failed (a data source or the store failed mid-stream); either closes it, and a new download is a new request.
 */
export type RequestStatus = "received" | "completed" | "partial" | "overdue" | "aborted" | "failed";

/** How a request can end; all but `partial` close it (set completedAt). */
export type FinishedStatus = Extract<RequestStatus, "completed" | "partial" | "aborted" | "failed">;

export interface PrivacyRequestView {
  id: string;
  type: RequestType;
  status: RequestStatus;
  region: string;
  receivedAt: Date;
  dueAt: Date;
  /** When the request was closed (see RequestStatus); null while it is still owed. */
  completedAt: Date | null;
  /** Acted on by an agent for the subject. */
  actorId: string | null;
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
