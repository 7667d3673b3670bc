/**
 * gate.store: typed, read-mostly access for the host app. Writes go through
 * the gate (record, consents, erasure) so that every rule applies; the host
 * reads what is held, for its own screens and checks. Part of the composition
 * root: it puts the store's tables and the compliance log (a layer above the
 * store) behind one object.
 */
import type { AuditEntry, ComplianceLog, VerifyResult } from "./audit/events.ts";
import type { Choice } from "./decision/decide.ts";
import type { Connection } from "./store/connection.ts";
import { consentHistory, loadChoices } from "./store/consents.ts";
import type { Interaction, InteractionStore } from "./store/interactions.ts";
import type { PrivacyRequestView, Requests } from "./store/requests.ts";

export interface StoreAccess {
  interactions: {
    /** A subject's interactions, newest first per purpose, never past expiresAt. */
    forSubject(subjectId: string, options?: { purpose?: string }): Promise<Interaction[]>;
    /**
     * Rows physically held per purpose (expired ones the purge job has not
     * removed yet included): for one subject, or for everyone.
     */
    countByPurpose(subjectId?: string): Promise<Record<string, number>>;
  };
  consents: {
    /** The latest choice per purpose. */
    current(subjectId: string): Promise<Record<string, Choice>>;
    /** Every choice the subject made, oldest first. */
    history(subjectId: string): ReturnType<typeof consentHistory>;
  };
  requests: {
    /** A subject's export and erasure requests, newest first. */
    forSubject(subjectId: string): Promise<PrivacyRequestView[]>;
  };
  complianceLog: {
    /** A region's log entries in chain order (subjects as pseudonyms), read page by page. */
    entries(region: string): AsyncIterable<AuditEntry>;
    /** Recomputes the region's hash chain. */
    verify(region: string): Promise<VerifyResult>;
  };
}

export interface StoreParts {
  connection: Connection;
  interactions: Pick<InteractionStore, "forSubject" | "countByPurpose">;
  requests: Pick<Requests, "forSubject">;
  audit: Pick<ComplianceLog, "entries" | "verify">;
  now: () => Date;
}

export function createStoreAccess({ connection, interactions, requests, audit, now }: StoreParts): StoreAccess {
  return {
    interactions: {
      forSubject: (subjectId, options = {}) => interactions.forSubject(subjectId, { now: now(), ...options }),
      countByPurpose: (subjectId) => interactions.countByPurpose(subjectId),
    },
    consents: {
      current: async (subjectId) => Object.fromEntries(await loadChoices(connection, subjectId)),
      history: (subjectId) => consentHistory(connection, subjectId),
    },
    requests: { forSubject: (subjectId) => requests.forSubject(subjectId) },
    complianceLog: { entries: (region) => audit.entries(region), verify: (region) => audit.verify(region) },
  };
}
