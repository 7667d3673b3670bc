/**
 * gate.store: typed, read-mostly access for the host app. Writes go through
 * the gate (record, consents, erasure) so that every rule applies; the host
 * reads what is held, for its own screens and checks.
 */
import type { Connection } from "./connection.ts";
import { consentHistory, loadChoices, type Choice } from "./consents.ts";
import { type Interaction, toInteraction } from "./interactions.ts";


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
}

export function createStoreAccess(connection: Connection, now: () => Date): StoreAccess {
  const { prisma } = connection;
  return {
    interactions: {
      async forSubject(subjectId, options = {}) {
        const rows = await prisma.interaction.findMany({
          where: { subjectId, expiresAt: { gt: now() }, ...(options.purpose === undefined ? {} : { purpose: options.purpose }) },
          orderBy: [{ purpose: "asc" }, { seq: "desc" }],
        });
        return rows.map(toInteraction);
      },
      async countByPurpose(subjectId) {
        const groups = await prisma.interaction.groupBy({ by: ["purpose"], _count: { _all: true }, ...(subjectId === undefined ? {} : { where: { subjectId } }) });
        return Object.fromEntries(groups.map((g) => [g.purpose, g._count._all]));
      },
    },
    consents: {
      current: async (subjectId) => Object.fromEntries(await loadChoices(connection, subjectId)),
      history: (subjectId) => consentHistory(connection, subjectId),
    },
  };
}
