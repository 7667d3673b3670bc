/**
 * Rings whose window the policy changed.
 *
 * A ring keeps its rows in slots seq % window, and its head records that
 * window. When a purpose's window changes, a ring shaped by the old one holds
 * its rows in the wrong slots: after a shrink, in slots the new window never
 * overwrites; after a growth, in slots the next writes would overwrite before
 * the oldest rows. Reshaping keeps what the window means, the ring's newest
 * `window` positions, drops older rows, moves the survivors to the slots the
 * new window gives them, and records the new window on the head, so the ring
 * goes on as if it had always had this window. (Dropping the slots past a
 * shrunk window instead would keep arbitrary, often the oldest, rows.)
 *
 * Runs in the caller's transaction. It first locks the rings' heads, which
 * every write updates before touching a ring, so no write moves a ring while
 * it is reshaped. Moving takes two steps through negative slots because the
 * primary key is checked row by row: survivors cannot swap places in one
 * statement.
 */
import type { SqlSession } from "./connection.ts";

export interface Ring {
  subjectId: string;
  purpose: string;
  window: number;
}

const RINGS = `unnest($1::text[], $2::text[], $3::int[]) AS r(subject, purpose, win)`;

const LOCK_SQL = `
SELECT 1 FROM interaction_windows h JOIN ${RINGS} ON h."subjectId" = r.subject AND h.purpose = r.purpose
ORDER BY h."subjectId", h.purpose
FOR UPDATE OF h`;

const DROP_OLDER_SQL = `
DELETE FROM interactions x USING interaction_windows h, ${RINGS}
WHERE h."subjectId" = r.subject AND h.purpose = r.purpose
  AND x."subjectId" = r.subject AND x.purpose = r.purpose
  AND x.seq < h."nextSeq" - r.win`;

const PARK_SQL = `
UPDATE interactions x SET slot = -1 - (x.seq % nullif(r.win, 0))::int
FROM ${RINGS}
WHERE x."subjectId" = r.subject AND x.purpose = r.purpose AND x.slot <> (x.seq % nullif(r.win, 0))::int`;

const PLACE_SQL = `
UPDATE interactions x SET slot = -1 - x.slot
FROM ${RINGS}
WHERE x."subjectId" = r.subject AND x.purpose = r.purpose AND x.slot < 0`;

const RECORD_SQL = `
UPDATE interaction_windows h SET "window" = r.win
FROM ${RINGS}
WHERE h."subjectId" = r.subject AND h.purpose = r.purpose`;

/** Reshapes each ring for its window. */
export async function reshapeRings(tx: Pick<SqlSession, "query">, rings: Ring[]): Promise<void> {
  const params = [rings.map((r) => r.subjectId), rings.map((r) => r.purpose), rings.map((r) => r.window)];
  await tx.query(LOCK_SQL, params);
  await tx.query(DROP_OLDER_SQL, params);
  await tx.query(PARK_SQL, params);
  await tx.query(PLACE_SQL, params);
  await tx.query(RECORD_SQL, params);
}
