/**
 * `req.privacy`: what the gate knows about this request (subject, region,
 * signals) and what the handler may do with personal data. Built per
 * request; everything that costs anything (consent lookups, the ability) is
 * computed on first use and remembered for the rest of the request.
 */
import type { Request } from "express";
import type { Core } from "../core.ts";
import { type AppAbility, buildAbility, purposeSubject } from "../decision/ability.ts";
import { type Decision, decide } from "../decision/decide.ts";
import type { Actor } from "../options.ts";
import { ConsentgateError } from "../errors.ts";
import { addDuration } from "../policy/duration.ts";
import { resolveRegion } from "../policy/region.ts";
import type { Choice } from "../store/consents.ts";
import type { Interaction } from "../store/interactions.ts";

export interface Privacy {
  /** Whose data this request is about; undefined → anonymous. */
  readonly subject: string | undefined;
  /** Who is acting (the subject itself, an agent, a DPO). */
  readonly actor: Actor | undefined;
  /** The policy region this request falls under. */
  readonly region: string;
  readonly signals: { readonly gpc: boolean };
  /** The purpose a gate admitted this request for, and the decision that did. */
  readonly admitted: { readonly purpose: string; readonly decision: Decision & { allowed: true }; readonly at: Date } | undefined;
  /** The decision rules' answer for a purpose (DESIGN.md §4). Rejects with consent_unavailable when it cannot be made. */
  decide(purpose: string): Promise<Decision>;
  /** May this request's subject's data be collected for the purpose? */
  can(purpose: string): Promise<boolean>;
  /** Everything this request may do, as a CASL ability. */
  ability(): Promise<AppAbility>;
  /**
   * Stores one interaction for the admitted purpose: minimized (again, unless
   * it is the body the gate already minimized), inside the purpose's window,
   * expiring after its retention, with the decision that let it in.
   */
  record(kind: string, data: unknown): Promise<void>;
  /** The subject's newest interactions for a purpose, never expired ones; empty when the purpose is not allowed now. */
  recent(purpose: string, options?: { limit?: number }): Promise<Interaction[]>;
}


const KIND = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

const NO_CHOICES: ReadonlyMap<string, Choice> = new Map();

const ADMIT = Symbol("admit");
const DECIDE_NOW = Symbol("decideNow");
type Admittable = Privacy & {
  [ADMIT](purpose: string, decision: Decision & { allowed: true }, body: unknown): void;
  [DECIDE_NOW](purpose: string): Decision | undefined;
};

/** The decision without waiting, when the subject's choices are already at hand (internal: the gate's warm path). */
export function decideNow(privacy: Privacy, purpose: string): Decision | undefined {
  return (privacy as Admittable)[DECIDE_NOW](purpose);
}

/** Records that a gate admitted the request for a purpose, with the body it minimized (internal: hosts only read `admitted`). */
export function markAdmitted(privacy: Privacy, purpose: string, decision: Decision & { allowed: true }, body: unknown): void {
  (privacy as Admittable)[ADMIT](purpose, decision, body);
}

export function createPrivacy(core: Core, req: Request): Privacy {
  const { policy } = core;
  const subject = core.subjectOf(req);
  const actor = core.actorOf(req) ?? (subject === undefined ? undefined : { id: subject, roles: [] });
  const region = resolveRegion(policy, {
    explicit: core.regionOf?.(req),
    header: policy.regionHeader === undefined ? undefined : req.headers[policy.regionHeader],
  });
  // Sec-GPC: 1 is the only value the GPC specification defines.
  const gpc = req.headers["sec-gpc"] === "1";
  let choices: Promise<ReadonlyMap<string, Choice>> | undefined;
  const loadChoices = () => (choices ??= subject === undefined ? Promise.resolve(NO_CHOICES) : core.consents.choices(subject));
  let ability: Promise<AppAbility> | undefined;
  let admitted: Privacy["admitted"];
  let minimizedBody: unknown;

  const privacy: Admittable = {
    subject,
    actor,
    region,
    signals: { gpc },
    get admitted() {
      return admitted;
    },
    async decide(purpose: string) {
      const known = await loadChoices();
      return decide({ policy, purpose, region, gpc, choice: known.get(purpose) });
    },
    async can(purpose: string) {
      return (await privacy.ability()).can("collect", purposeSubject(purpose));
    },
    ability() {
      return (ability ??= (async () => {
        const allowed: string[] = [];
        for (const name of Object.keys(policy.purposes)) if ((await privacy.decide(name)).allowed) allowed.push(name);
        return buildAbility({ policy, allowedPurposes: allowed, subjectId: subject, roles: actor?.roles ?? [] });
      })());
    },
    [DECIDE_NOW](purpose: string) {
      const known = subject === undefined ? NO_CHOICES : core.consents.peek(subject);
      return known && decide({ policy, purpose, region, gpc, choice: known.get(purpose) });
    },
    [ADMIT](purpose: string, decision: Decision & { allowed: true }, body: unknown) {
      admitted = { purpose, decision, at: core.now() };
      minimizedBody = body;
    },
    async record(kind: string, data: unknown) {
      if (!admitted) {
        throw new ConsentgateError("unmapped_write", "record() needs a purpose: gate the route with gate.purpose(name) or map it in the policy's routes");
      }
      const purpose = policy.purposes[admitted.purpose]!;
      if (purpose.window === undefined || purpose.retention === undefined) {
        throw new ConsentgateError("unmapped_write", `purpose "${purpose.name}" keeps no interactions (it has no window in the policy)`, { purpose: purpose.name });
      }
      if (subject === undefined) throw new ConsentgateError("unauthenticated", "an interaction belongs to a signed-in subject");
      if (typeof kind !== "string" || !KIND.test(kind)) {
        throw new ConsentgateError("invalid_body", "kind must be 1-64 letters, digits, or . _ : - (e.g. \"play\")", { purpose: purpose.name });
      }
      const stored = data === minimizedBody ? (data as Record<string, unknown>) : core.minimizers.get(purpose.name)!(data);
      const now = core.now();
      await core.interactions.record({
        subjectId: subject,
        purpose: purpose.name,
        window: purpose.window,
        kind,
        data: stored,
        createdAt: now,
        expiresAt: addDuration(now, purpose.retention),
        receiptId: admitted.decision.receiptId,
        source: admitted.decision.source,
        legalBasis: purpose.legalBasis,
        policyVersion: policy.version,
        decidedAt: admitted.at,
        region,
      }).catch((error: unknown) => {
        if (error instanceof ConsentgateError) throw error;
        throw new ConsentgateError("consent_unavailable", "the store cannot be written right now; nothing was stored", { purpose: purpose.name, region }, { cause: error });
      });
    },
    async recent(purposeName: string, options: { limit?: number } = {}) {
      const purpose = policy.purposes[purposeName];
      if (!purpose) throw new ConsentgateError("unknown_purpose", `unknown purpose "${purposeName}"`, { purpose: purposeName, region });
      if (subject === undefined || purpose.window === undefined || !(await privacy.decide(purposeName)).allowed) return [];
      const limit = Math.max(0, Math.min(Math.floor(options.limit ?? purpose.window), purpose.window));
      return core.interactions.recent(subject, purposeName, { limit, now: core.now() });
    },
  };
  return privacy;
}
