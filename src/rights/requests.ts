/**
 * The life of a privacy request as the law sees it: received (with its
 * deadline from the region's requestDeadline, logged), then finished
 * (logged). Shared by export and erasure.
 */
import { randomUUID } from "node:crypto";
import type { Core } from "../core.ts";
import { addDuration } from "../policy/duration.ts";
import { regionRules } from "../policy/region.ts";
import type { FinishedStatus, RequestType } from "../store/requests.ts";
import type { Target } from "./subject.ts";

export interface ReceivedRequest {
  id: string;
  type: RequestType;
  subjectId: string;
  region: string;
  receivedAt: Date;
  dueAt: Date;
}

export async function receiveRequest(core: Core, type: RequestType, target: Target, regionName: string): Promise<ReceivedRequest> {
  const region = regionRules(core.policy, regionName);
  const receivedAt = core.now();
  const request = { id: randomUUID(), type, subjectId: target.subjectId, region: region.name, receivedAt, dueAt: addDuration(receivedAt, region.requestDeadline) };
  await core.requests.open({ ...request, actorId: target.onBehalf ? target.actorId : undefined });
  await core.audit.append({ region: region.name, event: "request.received", subjectId: target.subjectId, details: { requestId: request.id, type, onBehalf: target.onBehalf } });
  return request;
}

/** Stores how the request ended (`details` is the subject's record of it) and logs it without personal data (`logged`). */
export async function finishRequest(
  core: Core,
  request: Pick<ReceivedRequest, "id" | "type" | "subjectId" | "region">,
  status: FinishedStatus,
  completedAt: Date,
  details: object,
  logged: Record<string, unknown> = {},
): Promise<void> {
  await core.requests.finish(request.id, status, completedAt, details as never);
  await core.audit.append({ region: request.region, event: "request.completed", subjectId: request.subjectId, details: { requestId: request.id, type: request.type, status, ...logged } });
}
