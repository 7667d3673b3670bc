/**
 * Whether a write to a host's own table, decided a moment ago, still stands
 * once it has committed: the subject's current choices, and whether an
 * erasure was received since the decision. The host's rows live in the
 * host's database, where Consentgate's write lock cannot reach, so instead
 * of locking, a gated write reads this after its commit. A withdrawal or
 * erasure commits first and then deletes the host's rows; a write that
 * commits before that read started is seen by that delete, and a write
 * that commits after it sees the change here and undoes itself. Either way
 * no row outlives the change. Reads are batched like the consent cache's.
 */
import type { Choice } from "../decision/decide.ts";
import type { Connection } from "./connection.ts";
import { createGroupCommit } from "./group-commit.ts";

export interface Standing {
  /** The subject's latest choice per purpose, read after the write committed. */
  readonly choices: ReadonlyMap<string, Choice>;
  /** An erasure of the subject was received at or after the decision. */
  readonly erased: boolean;
}

export interface StandingCheck {
  of(subjectId: string, decidedAt: Date): Promise<Standing>;
}

// One row per (asked subject, purpose) and one for a subject with no choices, each with its erasure flag.
const STANDING_SQL = `SELECT s.i::int AS i, c.purpose, c.granted, c."overrideGpc", c."receiptId", c."updatedAt",
       EXISTS (SELECT 1 FROM privacy_requests r
               WHERE r."subjectId" = s.subject AND r.type = 'erasure' AND r."receivedAt" >= s.since) AS erased
FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS s(subject, since, i)
LEFT JOIN consent_state c ON c."subjectId" = s.subject`;

interface StandingRow {
  i: number;
  purpose: string | null;
  granted: boolean;
  overrideGpc: boolean;
  receiptId: string;
  updatedAt: Date;
  erased: boolean;
}

export function createStandingCheck(connection: Pick<Connection, "query">): StandingCheck {
  const reads = createGroupCommit<{ subjectId: string; decidedAt: Date }, Standing>({
    async flush(items) {
      const rows = await connection.query<StandingRow>(
        STANDING_SQL,
        [items.map((item) => item.subjectId), items.map((item) => item.decidedAt)],
        "consentgate_standing",
      );
      const answers = items.map(() => ({ choices: new Map<string, Choice>(), erased: false }));
      for (const row of rows) {
        const answer = answers[row.i - 1]!;
        answer.erased = row.erased;
        if (row.purpose !== null)
          answer.choices.set(row.purpose, {
            granted: row.granted,
            overrideGpc: row.overrideGpc,
            receiptId: row.receiptId,
            at: row.updatedAt,
          });
      }
      return answers;
    },
    maxBatch: 512,
    concurrency: 2,
  });
  return { of: (subjectId, decidedAt) => reads.add({ subjectId, decidedAt }) };
}
