/**
 * The life of a privacy request as the law sees it: received (with its
 * deadline from the region's requestDeadline, logged), then finished
 * (logged). Shared by export and erasure.
 */
import { randomUUID } from "node:crypto";
import type { ComplianceLog } from "../audit/events.ts";
import { ConsentgateError } from "../errors.ts";
import { addDuration } from "../policy/duration.ts";
import { regionRules } from "../policy/region.ts";
import type { Keyring } from "../signatures/hmac.ts";
import { LOG_EVENT } from "../store/compliance-log.ts";
import type { Policy } from "../policy/types.ts";
import type { FinishedStatus, RequestType, Requests } from "../store/requests.ts";
import type { Target } from "./subject.ts";

/** What opening and closing a privacy request needs. */
export interface RequestDeps {
  readonly policy: Policy;
  readonly requests: Pick<Requests, "open" | "finish">;
  readonly audit: Pick<ComplianceLog, "prepare">;
  /** Names the actor of a request made on a subject's behalf in the log. */
  readonly keyring: Pick<Keyring, "pseudonym">;
  readonly now: () => Date;
}

export interface ReceivedRequest {
  id: string;
  type: RequestType;
  subjectId: string;
  region: string;
  receivedAt: Date;
  dueAt: Date;
}

export async function receiveRequest(
  deps: RequestDeps,
  type: RequestType,
  target: Target,
  regionName: string,
): Promise<ReceivedRequest> {
  const region = regionRules(deps.policy, regionName);
  const receivedAt = deps.now();
  const request = {
    id: randomUUID(),
    type,
    subjectId: target.subjectId,
    region: region.name,
    receivedAt,
    dueAt: addDuration(receivedAt, region.requestDeadline),
  };
  // The request and its log entry commit together: a failure stores neither, and a retry is one new request.
  const logged = deps.audit.prepare({
    region: region.name,
    event: LOG_EVENT.requestReceived,
    subjectId: target.subjectId,
    // Who acted for the subject (an agent, or the operator of `consentgate export|erase`) is accountable, so
    // named; by pseudonym, as subjects are: an agent is a signed-in user, and the log holds no raw user ids.
    details: {
      requestId: request.id,
      type,
      onBehalf: target.onBehalf,
      ...(target.onBehalf ? { actor: deps.keyring.pseudonym(target.actorId) } : {}),
    },
  });
  await unavailableOnFailure(
    deps.requests.open({ ...request, actorId: target.onBehalf ? target.actorId : undefined }, logged),
    region.name,
  );
  return request;
}

/** Stores how the request ended (`details` is the subject's record of it) and logs it without personal data (`logged`). */
export async function finishRequest(
  deps: RequestDeps,
  request: Pick<ReceivedRequest, "id" | "type" | "subjectId" | "region">,
  status: FinishedStatus,
  completedAt: Date,
  details: object,
  logged: Record<string, unknown> = {},
): Promise<void> {
  const entry = deps.audit.prepare({
    region: request.region,
    event: LOG_EVENT.requestCompleted,
    subjectId: request.subjectId,
    details: { requestId: request.id, type: request.type, status, ...logged },
  });
  await unavailableOnFailure(deps.requests.finish(request.id, status, completedAt, details, entry), request.region);
}

/** A store that fails is a 503 for the caller, never a 500. */
async function unavailableOnFailure(write: Promise<void>, region: string): Promise<void> {
  try {
    await write;
  } catch (error) {
    throw new ConsentgateError(
      "consent_unavailable",
      "the request could not be recorded; try again",
      { region },
      { cause: error },
    );
  }
}
