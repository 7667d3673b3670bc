/**
 * gate.store: typed, read-mostly access for the host app. Writes go through
 * the gate (record, consents, erasure) so that every rule applies; the host
 * reads what is held, for its own screens and checks. Part of the composition
 * root: it puts the store's tables and the compliance log (a layer above the
 * store) behind one object.
 */
import type { AuditEntry, ComplianceLog, VerifyResult } from "./audit/events.ts";
import type { Choice } from "./decision/decide.ts";
import type { ConsentRecord, ConsentStore } from "./store/consents.ts";
import type { Interaction, InteractionStore } from "./store/interactions.ts";
import type { PrivacyRequestView, Requests } from "./store/requests.ts";

/**
 * `gate.store`: reads of what Consentgate holds, for the host app's own
 * screens and checks. Nothing here writes: writes go through the gate
 * (`req.privacy.record`, the privacy endpoints), so that every rule applies.
 * Reads reject with the database driver's error (not a ConsentgateError)
 * when the database cannot be reached.
 *
 * @example
 * ```ts
 * import type { StoreAccess } from "consentgate";
 *
 * async function summary(store: StoreAccess, subjectId: string) {
 *   const [held, choices, requests] = await Promise.all([
 *     store.interactions.countByPurpose(subjectId),
 *     store.consents.current(subjectId),
 *     store.requests.forSubject(subjectId),
 *   ]);
 *   return { held, choices, openRequests: requests.filter((r) => r.completedAt === null).length };
 * }
 *
 * console.log(await summary(gate.store, "alice"));
 * ```
 */
export interface StoreAccess {
  /** The windowed interactions `req.privacy.record()` stored. */
  interactions: {
    /**
     * A subject's interactions, newest first per purpose, never past
     * `expiresAt` (purposes since removed from the policy included).
     *
     * @example
     * ```ts
     * const plays = await gate.store.interactions.forSubject("alice", { purpose: "personalization" });
     * console.log(plays.map((p) => `${p.kind} at ${p.at.toISOString()} (${p.provenance.source})`));
     * ```
     */
    forSubject(subjectId: string, options?: { purpose?: string }): Promise<Interaction[]>;
    /**
     * Rows physically held per purpose (expired ones the purge job has not
     * removed yet included): for one subject, or for everyone.
     *
     * @example
     * ```ts
     * const everyone = await gate.store.interactions.countByPurpose();
     * const alice = await gate.store.interactions.countByPurpose("alice");
     * console.log(everyone.personalization ?? 0, alice.personalization ?? 0);
     * ```
     */
    countByPurpose(subjectId?: string): Promise<Record<string, number>>;
  };
  /** The subject's consent choices. */
  consents: {
    /**
     * The latest choice per purpose the subject chose for; purposes they
     * never chose for are absent (the region's default or the legal basis
     * decides those: see `req.privacy.decide`).
     *
     * @example
     * ```ts
     * const choices = await gate.store.consents.current("alice");
     * if (choices.personalization?.granted) console.log("granted at", choices.personalization.at);
     * ```
     */
    current(subjectId: string): Promise<Record<string, Choice>>;
    /**
     * Every choice the subject made, oldest first, with the signature of the
     * receipt handed out for it.
     *
     * @example
     * ```ts
     * const history = await gate.store.consents.history("alice");
     * for (const record of history) console.log(record.at, record.purpose, record.granted ? "granted" : "withdrawn");
     * ```
     */
    history(subjectId: string): Promise<ConsentRecord[]>;
  };
  /** The subject's export and erasure requests. */
  requests: {
    /**
     * A subject's export and erasure requests, newest first, with their
     * legal deadlines.
     *
     * @example
     * ```ts
     * const now = new Date();
     * const late = (await gate.store.requests.forSubject("alice")).filter((r) => r.completedAt === null && r.dueAt < now);
     * ```
     */
    forSubject(subjectId: string): Promise<PrivacyRequestView[]>;
  };
  /** The per-region, hash-chained compliance logs (docs/compliance-log.md). */
  complianceLog: {
    /**
     * A region's log entries in chain order (subjects as keyed pseudonyms),
     * read page by page.
     *
     * @example
     * ```ts
     * for await (const entry of gate.store.complianceLog.entries("EU")) {
     *   if (entry.event === "consent.changed") console.log(entry.at, entry.subject, entry.details);
     * }
     * ```
     */
    entries(region: string): AsyncIterable<AuditEntry>;
    /**
     * Recomputes the region's hash chain from its first kept entry to its
     * head: `{ ok: true, entries }`, or where and why it is broken.
     *
     * @example
     * ```ts
     * const result = await gate.store.complianceLog.verify("EU");
     * if (!result.ok) console.error(`EU log broken at entry ${result.brokenAt}: ${result.reason}`);
     * ```
     */
    verify(region: string): Promise<VerifyResult>;
  };
}

export interface StoreParts {
  consentStore: Pick<ConsentStore, "choices" | "history">;
  interactions: Pick<InteractionStore, "forSubject" | "countByPurpose">;
  requests: Pick<Requests, "forSubject">;
  audit: Pick<ComplianceLog, "entries" | "verify">;
  now: () => Date;
}

export function createStoreAccess({ consentStore, interactions, requests, audit, now }: StoreParts): StoreAccess {
  return {
    interactions: {
      forSubject: (subjectId, options = {}) => interactions.forSubject(subjectId, { now: now(), ...options }),
      countByPurpose: (subjectId) => interactions.countByPurpose(subjectId === undefined ? {} : { subjectId }),
    },
    consents: {
      current: async (subjectId) => Object.fromEntries(await consentStore.choices(subjectId)),
      history: (subjectId) => consentStore.history(subjectId),
    },
    requests: { forSubject: (subjectId) => requests.forSubject(subjectId) },
    complianceLog: { entries: (region) => audit.entries(region), verify: (region) => audit.verify(region) },
  };
}
