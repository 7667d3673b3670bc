/**
 * Accepting one device's update to a federated model's open round
 * (`POST /learning/:model/updates`, docs/learning.md).
 *
 * An update is personal data until its round is aggregated: it is gated for
 * the model's purpose like a write, validated strictly before anything is
 * stored, and kept one per subject per round.
 */
import type { Decision } from "../decision/decide.ts";
import { refusalMessage } from "../decision/refusal.ts";
import { ConsentgateError } from "../errors.ts";
import { type LearningDeps, modelOf, notDefined } from "./models.ts";

/** Who sends an update, and how the request decides the model's purpose (req.privacy). */
export interface Contributor {
  subjectId: string | undefined;
  region: string;
  decide(purpose: string): Promise<Decision>;
}

/** Canonical base64 (RFC 4648 §4, with padding): the only spelling of a delta accepted. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** How many "=" end a base64 text. */
const padding = (text: string) => (text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0);

/** The length of the base64 text of `bytes` bytes. */
export const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);

/**
 * The length of the base64 delta the model takes now, or undefined when the
 * model is not in the policy or not defined (the route then answers
 * not_found itself). The router sizes its body parser by it.
 */
export async function expectedDeltaLength(deps: LearningDeps, name: string): Promise<number | undefined> {
  if (!Object.hasOwn(deps.policy.learning, name)) return undefined;
  const values = await deps.store.values(name);
  return values === undefined ? undefined : base64Length(values * 4);
}

/**
 * Accepts one update, or throws: `not_found` (no such model, or not defined
 * yet), `unauthenticated`, `invalid_body` (not `{ round, delta }`, a delta
 * of the wrong length, a value that is NaN or infinite, a round that does
 * not exist yet), `consent_required` / `consent_unavailable`,
 * `round_closed` (training stopped, or the round closed), `already_reported`
 * (one update per subject per round). Nothing is stored when it throws.
 */
export async function acceptUpdate(
  deps: LearningDeps,
  name: string,
  contributor: Contributor,
  body: unknown,
): Promise<{ round: number }> {
  const model = modelOf(deps.policy, name);
  const { subjectId } = contributor;
  if (subjectId === undefined) throw new ConsentgateError("unauthenticated", "sign in to contribute to a model");
  const values = await deps.store.values(name);
  if (values === undefined) throw notDefined(name);
  const { round, delta } = parseUpdate(body, values);
  const decidedAt = deps.now();
  const decision = await contributor.decide(model.purpose);
  if (!decision.allowed) {
    throw new ConsentgateError("consent_required", refusalMessage(deps.policy, decision, true), {
      purpose: model.purpose,
      region: contributor.region,
    });
  }
  const outcome = await deps.store.submit({
    subjectId,
    model: name,
    round,
    purpose: model.purpose,
    // The text as it came: parseUpdate checked it is canonical base64 of finite values, so nothing is re-encoded.
    delta,
    now: deps.now(),
    decision: { receiptId: decision.receiptId, at: decidedAt },
  });
  switch (outcome) {
    case "accepted":
      return { round };
    case "already_reported":
      throw new ConsentgateError(
        "already_reported",
        `this subject already sent an update to round ${round} of "${name}"`,
        { round },
      );
    case "round_closed":
      throw new ConsentgateError(
        "round_closed",
        `round ${round} of "${name}" is closed; fetch the model for the open round`,
        { round },
      );
    case "stopped":
      throw new ConsentgateError(
        "round_closed",
        `training of "${name}" has stopped (its privacy budget is spent); no round is open`,
        { round },
      );
    case "unknown_round":
      throw new ConsentgateError(
        "invalid_body",
        `round ${round} of "${name}" is not open yet; fetch the model for the open round`,
        { round },
      );
    case "decision_changed":
      throw new ConsentgateError(
        "consent_required",
        `consent for "${model.purpose}" was withdrawn or the subject's data erased before this update was stored; nothing was stored`,
        { purpose: model.purpose, region: contributor.region },
      );
    case "no_model":
      throw notDefined(name);
  }
}

/**
 * `{ round, delta }` with delta the canonical base64 of exactly `values`
 * finite little-endian float32 values, or invalid_body. Answers the delta's
 * text as it came.
 */
export function parseUpdate(body: unknown, values: number): { round: number; delta: string } {
  const expected = `{ "round": <the open round>, "delta": <base64 of ${values} little-endian float32 values> }`;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ConsentgateError("invalid_body", `expected ${expected}`);
  }
  const extra = Object.keys(body).filter((key) => key !== "round" && key !== "delta");
  if (extra.length > 0)
    throw new ConsentgateError("invalid_body", `unknown field(s) ${extra.join(", ")}; expected ${expected}`);
  const { round, delta } = body as { round?: unknown; delta?: unknown };
  if (typeof round !== "number" || !Number.isSafeInteger(round) || round < 1) {
    throw new ConsentgateError("invalid_body", `round must be a whole number ≥ 1; expected ${expected}`);
  }
  const bytes = values * 4;
  if (
    typeof delta !== "string" ||
    delta.length !== base64Length(bytes) ||
    !BASE64.test(delta) ||
    // The padding says how many bytes the last group holds: exactly `bytes`, not one more or less.
    padding(delta) !== (3 - (bytes % 3)) % 3
  ) {
    throw new ConsentgateError(
      "invalid_body",
      `delta must be the base64 of exactly ${values} float32 values (${base64Length(bytes)} characters), got ${typeof delta === "string" ? `${delta.length} characters` : typeof delta}`,
    );
  }
  // Decoded into an aligned buffer of its own (Buffer.from may share a pool whose offset is not 4-aligned).
  const floats = new Float32Array(bytes / 4);
  Buffer.from(floats.buffer).write(delta, "base64");
  for (let i = 0; i < floats.length; i++) {
    if (!Number.isFinite(floats[i]!)) {
      throw new ConsentgateError(
        "invalid_body",
        `delta value ${i} is ${floats[i]}; every value must be a finite number`,
        { index: i },
      );
    }
  }
  return { round, delta };
}
