/**
 * `req.privacy`: what the gate knows about this request (subject, region,
 * signals) and what the handler may do with personal data. Built per
 * request, so it is a class (one allocation, methods shared) rather than a
 * bag of closures; everything that costs anything (consent lookups, the
 * ability) is computed on first use and remembered for the rest of the request.
 */
import type { Request } from "express";
import { type Actor, type AppAbility, buildAbility, purposeSubject } from "../decision/ability.ts";
import { type Choice, type Decision, decide } from "../decision/decide.ts";
import { ConsentgateError } from "../errors.ts";
import type { Minimizer } from "../minimize/index.ts";
import { addDuration } from "../policy/duration.ts";
import { resolveRegion } from "../policy/region.ts";
import type { Policy } from "../policy/types.ts";
import type { ConsentCache } from "../store/consent-cache.ts";
import { NO_CHOICES } from "../store/consents.ts";
import type { Interaction, InteractionStore } from "../store/interactions.ts";

/**
 * What req.privacy is built from: the compiled policy, the store's consent
 * cache and interactions, and the host's option functions, resolved once by
 * createConsentgate (their defaults applied there, not here).
 */
export interface PrivacyDeps {
  readonly policy: Policy;
  readonly consents: Pick<ConsentCache, "choices" | "peek">;
  readonly interactions: Pick<InteractionStore, "record" | "recent">;
  /** One compiled minimizer per purpose. */
  readonly minimizers: ReadonlyMap<string, Minimizer>;
  readonly now: () => Date;
  /** Whose data the request is about; undefined → anonymous (the `subject` option). */
  readonly subjectOf: (req: Request) => string | undefined;
  /** Who is acting, given the request's subject (the `actor` option, checked, else the subject with no roles). */
  readonly actorOf: (req: Request, subject: string | undefined) => Actor | undefined;
  /** The request's region, when the host names it (the `region` option); undefined → the policy decides. */
  readonly regionOf: (req: Request) => string | undefined;
}

/**
 * `req.privacy`: what the gate knows about this request (whose data it is
 * about, who is acting, the region, the browser's signals) and what the
 * handler may do with personal data. `gate.middleware()` attaches it to
 * every request; `gate.router()` attaches its own when the middleware is not
 * in front of it. Importing "consentgate" adds it to Express's `Request` type.
 *
 * @example
 * ```ts
 * import type { Privacy } from "consentgate";
 *
 * async function personalized(privacy: Privacy): Promise<boolean> {
 *   return privacy.subject !== undefined && (await privacy.can("personalization"));
 * }
 *
 * app.get("/api/home", async (req, res) => {
 *   res.json({ personalized: await personalized(req.privacy) });
 * });
 * ```
 */
export interface Privacy {
  /**
   * Whose data this request is about (the `subject` option's answer); undefined → anonymous.
   *
   * @example
   * ```ts
   * app.get("/api/whoami", (req, res) => {
   *   res.json({ signedIn: req.privacy.subject !== undefined });
   * });
   * ```
   */
  readonly subject: string | undefined;
  /**
   * Who is acting (the `actor` option's answer; else the subject, with no
   * roles): the subject itself, an agent acting for someone, a DPO.
   *
   * @example
   * ```ts
   * app.get("/api/admin", (req, res) => {
   *   res.sendStatus(req.privacy.actor?.roles.includes("dpo") ? 200 : 403);
   * });
   * ```
   */
  readonly actor: Actor | undefined;
  /**
   * The policy region this request falls under: the `region` option's
   * answer, else the policy's region header and country map, else the
   * policy's default region.
   *
   * @example
   * ```ts
   * app.get("/api/cookie-banner", (req, res) => {
   *   res.json({ showBanner: gate.policy.regions[req.privacy.region]?.model === "opt-in" });
   * });
   * ```
   */
  readonly region: string;
  /**
   * The privacy signals the browser sent with this request.
   *
   * @example
   * ```ts
   * app.get("/api/ads", (req, res) => {
   *   res.json({ gpc: req.privacy.signals.gpc });
   * });
   * ```
   */
  readonly signals: {
    /** The request carried `Sec-GPC: 1` (Global Privacy Control). */
    readonly gpc: boolean;
  };
  /**
   * The purpose a gate admitted this write for, the decision that let it in,
   * and when; undefined on reads and on writes no gate admitted.
   *
   * @example
   * ```ts
   * app.post("/api/plays", gate.purpose("personalization"), (req, res) => {
   *   res.status(201).json({ purpose: req.privacy.admitted?.purpose, basis: req.privacy.admitted?.decision.source });
   * });
   * ```
   */
  readonly admitted:
    | { readonly purpose: string; readonly decision: Decision & { allowed: true }; readonly at: Date }
    | undefined;
  /**
   * The decision rules' answer for a purpose (docs/decision-rules.md):
   * allowed or not, and why (the subject's choice, GPC, the legal basis, the
   * region's default). A purpose the policy lacks is a denial with reason
   * `unknown_purpose`, not an error.
   *
   * @throws {ConsentgateError} `consent_unavailable` (rejects) when the subject's choices cannot be read: fail closed.
   *
   * @example
   * ```ts
   * app.get("/api/ads/eligible", async (req, res) => {
   *   const decision = await req.privacy.decide("advertising");
   *   res.json(decision.allowed ? { eligible: true, because: decision.source } : { eligible: false, because: decision.reason });
   * });
   * ```
   */
  decide(purpose: string): Promise<Decision>;
  /**
   * May this request's subject's data be collected for the purpose? The
   * same answer as `decide(purpose).allowed`, read through `ability()`.
   *
   * @throws {ConsentgateError} `consent_unavailable` (rejects) when the subject's choices cannot be read.
   *
   * @example
   * ```ts
   * app.get("/api/recommendations", async (req, res) => {
   *   res.json({ personalized: await req.privacy.can("personalization") });
   * });
   * ```
   */
  can(purpose: string): Promise<boolean>;
  /**
   * Everything this request may do, as a CASL ability: `collect` a purpose
   * (with the purpose's fields), `read`/`export`/`erase`/`change` a
   * subject's data (`SubjectData`), `read` a region's compliance log
   * (`ComplianceLog`, role `dpo`).
   *
   * @throws {ConsentgateError} `consent_unavailable` (rejects) when the subject's choices cannot be read.
   *
   * @example
   * ```ts
   * import { subject } from "@casl/ability";
   *
   * app.get("/api/users/:id/history", async (req, res) => {
   *   const ability = await req.privacy.ability();
   *   if (!ability.can("read", subject("SubjectData", { subjectId: req.params.id }))) return void res.sendStatus(403);
   *   res.json(await gate.store.interactions.forSubject(req.params.id));
   * });
   * ```
   */
  ability(): Promise<AppAbility>;
  /**
   * Stores one interaction for the admitted purpose: minimized (again,
   * unless it is the body the gate already minimized), inside the purpose's
   * window, expiring after its retention, with the decision that let it in.
   * Resolves once committed.
   *
   * @throws {ConsentgateError} (rejects; nothing is stored) `unmapped_write` when no gate
   * admitted the request or the purpose keeps no interactions (no `window`); `unauthenticated`
   * for an anonymous request; `invalid_body` for a kind that is not 1-64 letters, digits or
   * `. _ : -`, or data the store cannot hold; `consent_required` when the consent was withdrawn
   * or the data erased before the write committed; `consent_unavailable` when the store cannot
   * be written.
   *
   * @example
   * ```ts
   * app.post("/api/plays", gate.purpose("personalization"), async (req, res) => {
   *   await req.privacy.record("play", req.body);
   *   res.status(201).end();
   * });
   * ```
   */
  record(kind: string, data: unknown): Promise<void>;
  /**
   * The subject's newest interactions for a purpose, newest first, never
   * expired ones; at most the purpose's window (or `limit`). Empty for an
   * anonymous request and when the purpose is not allowed now.
   *
   * @throws {ConsentgateError} (rejects) `unknown_purpose` for a purpose the policy lacks;
   * `consent_unavailable` when the subject's choices cannot be read.
   *
   * @example
   * ```ts
   * app.get("/api/recent", async (req, res) => {
   *   const plays = await req.privacy.recent("personalization", { limit: 10 });
   *   res.json(plays.filter((p) => p.kind === "play").map((p) => p.data));
   * });
   * ```
   */
  recent(purpose: string, options?: { limit?: number }): Promise<Interaction[]>;
}

const KIND = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

class RequestPrivacy implements Privacy {
  readonly subject: string | undefined;
  readonly actor: Actor | undefined;
  readonly region: string;
  readonly signals: { readonly gpc: boolean };
  #deps: PrivacyDeps;
  #choices: Promise<ReadonlyMap<string, Choice>> | undefined;
  #ability: Promise<AppAbility> | undefined;
  #admitted: Privacy["admitted"];
  #minimizedBody: unknown;

  constructor(deps: PrivacyDeps, facts: PrivacyFacts) {
    this.#deps = deps;
    this.subject = facts.subject;
    this.actor = facts.actor;
    this.region = facts.region;
    this.signals = { gpc: facts.gpc };
  }

  get admitted() {
    return this.#admitted;
  }

  async decide(purpose: string): Promise<Decision> {
    const known = await (this.#choices ??=
      this.subject === undefined ? Promise.resolve(NO_CHOICES) : this.#deps.consents.choices(this.subject));
    return this.#decideWith(known, purpose);
  }

  async can(purpose: string): Promise<boolean> {
    return (await this.ability()).can("collect", purposeSubject(purpose));
  }

  ability(): Promise<AppAbility> {
    return (this.#ability ??= (async () => {
      const { policy } = this.#deps;
      const allowed: string[] = [];
      for (const name of Object.keys(policy.purposes)) if ((await this.decide(name)).allowed) allowed.push(name);
      return buildAbility({
        policy,
        allowedPurposes: allowed,
        subjectId: this.subject,
        roles: this.actor?.roles ?? [],
      });
    })());
  }

  /** The decision without waiting, when the subject's choices are cached (the gate's warm path). */
  decideNow(purpose: string): Decision | undefined {
    const known = this.subject === undefined ? NO_CHOICES : this.#deps.consents.peek(this.subject);
    return known && this.#decideWith(known, purpose);
  }

  admit(purpose: string, decision: Decision & { allowed: true }, body: unknown): void {
    this.#admitted = { purpose, decision, at: this.#deps.now() };
    this.#minimizedBody = body;
  }

  async record(kind: string, data: unknown): Promise<void> {
    const deps = this.#deps;
    const admitted = this.#admitted;
    if (!admitted) {
      throw new ConsentgateError(
        "unmapped_write",
        "record() needs a purpose: gate the route with gate.purpose(name) or map it in the policy's routes",
      );
    }
    const purpose = deps.policy.purposes[admitted.purpose]!;
    if (purpose.window === undefined || purpose.retention === undefined) {
      throw new ConsentgateError(
        "unmapped_write",
        `purpose "${purpose.name}" keeps no interactions (it has no window in the policy)`,
        { purpose: purpose.name },
      );
    }
    if (this.subject === undefined)
      throw new ConsentgateError("unauthenticated", "an interaction belongs to a signed-in subject");
    if (typeof kind !== "string" || !KIND.test(kind)) {
      throw new ConsentgateError("invalid_body", 'kind must be 1-64 letters, digits, or . _ : - (e.g. "play")', {
        purpose: purpose.name,
      });
    }
    const stored =
      data === this.#minimizedBody ? (data as Record<string, unknown>) : deps.minimizers.get(purpose.name)!(data);
    const now = deps.now();
    await deps.interactions
      .record({
        subjectId: this.subject,
        purpose: purpose.name,
        window: purpose.window,
        kind,
        data: stored,
        createdAt: now,
        expiresAt: addDuration(now, purpose.retention),
        receiptId: admitted.decision.receiptId,
        source: admitted.decision.source,
        legalBasis: purpose.legalBasis,
        policyVersion: deps.policy.version,
        decidedAt: admitted.at,
        region: this.region,
      })
      .catch((error: unknown) => {
        if (error instanceof ConsentgateError) throw error;
        throw new ConsentgateError(
          "consent_unavailable",
          "the store cannot be written right now; nothing was stored",
          { purpose: purpose.name, region: this.region },
          { cause: error },
        );
      });
  }

  async recent(purposeName: string, options: { limit?: number } = {}): Promise<Interaction[]> {
    const deps = this.#deps;
    const purpose = deps.policy.purposes[purposeName];
    if (!purpose)
      throw new ConsentgateError("unknown_purpose", `unknown purpose "${purposeName}"`, {
        purpose: purposeName,
        region: this.region,
      });
    if (this.subject === undefined || purpose.window === undefined || !(await this.decide(purposeName)).allowed)
      return [];
    const limit = Math.max(0, Math.min(Math.floor(options.limit ?? purpose.window), purpose.window));
    return deps.interactions.recent(this.subject, purposeName, { limit, now: deps.now() });
  }

  #decideWith(known: ReadonlyMap<string, Choice>, purpose: string): Decision {
    return decide({
      policy: this.#deps.policy,
      purpose,
      region: this.region,
      gpc: this.signals.gpc,
      choice: known.get(purpose),
    });
  }
}

export function createPrivacy(deps: PrivacyDeps, req: Request): Privacy {
  const { policy } = deps;
  const subject = deps.subjectOf(req);
  return new RequestPrivacy(deps, {
    subject,
    actor: deps.actorOf(req, subject),
    region: resolveRegion(policy, {
      explicit: deps.regionOf(req),
      header: policy.regionHeader === undefined ? undefined : req.headers[policy.regionHeader],
    }),
    // Sec-GPC: 1 is the only value the GPC specification defines.
    gpc: req.headers["sec-gpc"] === "1",
  });
}

/** Who a request (or work done outside one) is about, and the signals that came with it. */
export interface PrivacyFacts {
  readonly subject: string | undefined;
  readonly actor: Actor | undefined;
  readonly region: string;
  readonly gpc: boolean;
}

/** req.privacy's decisions for work outside a request (gate.as, a subject an agent writes for). */
export function privacyFor(deps: PrivacyDeps, facts: PrivacyFacts): Privacy {
  return new RequestPrivacy(deps, facts);
}

/** The decision without waiting, when the subject's choices are already at hand (internal: the gate's warm path). */
export function decideNow(privacy: Privacy, purpose: string): Decision | undefined {
  return (privacy as RequestPrivacy).decideNow(purpose);
}

/** Records that a gate admitted the request for a purpose, with the body it minimized (internal: hosts only read `admitted`). */
export function markAdmitted(
  privacy: Privacy,
  purpose: string,
  decision: Decision & { allowed: true },
  body: unknown,
): void {
  (privacy as RequestPrivacy).admit(purpose, decision, body);
}
