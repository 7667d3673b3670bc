/**
 * Whose data a rights request is about. A subject acts on itself only; an
 * actor with role `agent` may name a subject with `?subject=` and is then
 * recorded as the actor. The subject's id is never read from the body, and
 * never from the query for anyone but an agent.
 */
import type { Request } from "express";
import { ConsentgateError } from "../errors.ts";
import { unstorableText } from "../store/storable.ts";

export interface Target {
  subjectId: string;
  /** Who acts: the subject itself or the agent. */
  actorId: string;
  onBehalf: boolean;
}

export function targetOf(req: Request): Target {
  const { subject, actor } = req.privacy;
  const named = req.query.subject;
  if (named !== undefined) {
    if (!actor?.roles.includes("agent")) {
      throw new ConsentgateError("forbidden", "only an agent may act for another subject (?subject=)");
    }
    // NUL and lone surrogates cannot be stored or looked up: refuse them here rather than as a database error.
    if (typeof named !== "string" || named.length === 0 || named.length > 256 || unstorableText(named)) {
      throw new ConsentgateError("invalid_body", "?subject= must name one subject id");
    }
    return { subjectId: named, actorId: actor.id, onBehalf: named !== subject };
  }
  if (subject === undefined)
    throw new ConsentgateError("unauthenticated", "sign in to see or change your privacy choices");
  if (unstorableText(subject))
    throw new ConsentgateError("invalid_body", "this subject id cannot be stored (it holds NUL or a lone surrogate)");
  return { subjectId: subject, actorId: actor?.id ?? subject, onBehalf: false };
}
