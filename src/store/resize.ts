/**
 * Windows made smaller by a new policy.
 *
 * A ring keeps its rows in slots seq % window. After a purpose's window
 * shrinks, a ring written under the old window holds rows in slots the new
 * one never overwrites. Resizing keeps what the window means, the ring's
 * newest `window` positions, drops the older rows, and moves the survivors to
 * the slots the new window gives them, so the ring goes on as if it had always
 * had this window. (Dropping the slots past the new window instead would keep
 * arbitrary, often the oldest, rows.)
 *
 * Runs in the caller's transaction. It first locks the rings' heads, which
 * every write updates before touching a ring, so no write moves a ring while
 * it is being resized. Moving takes two steps through negative slots because
 * the primary key is checked row by row: survivors cannot swap places in one
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
  AND x.seq < h."nextSeq" - r.win
RETURNING x.region, x.purpose`;

const PARK_SQL = `
UPDATE interactions x SET slot = -1 - (x.seq % nullif(r.win, 0))::int
FROM ${RINGS}
WHERE x."subjectId" = r.subject AND x.purpose = r.purpose AND x.slot <> (x.seq % nullif(r.win, 0))::int`;

const PLACE_SQL = `
UPDATE interactions x SET slot = -1 - x.slot
FROM ${RINGS}
WHERE x."subjectId" = r.subject AND x.purpose = r.purpose AND x.slot < 0`;

/** Resizes each ring to its window; returns the rows it deleted. */
export async function resizeRings(tx: Pick<SqlSession, "query">, rings: Ring[]): Promise<{ region: string | null; purpose: string }[]> {
  const params = [rings.map((r) => r.subjectId), rings.map((r) => r.purpose), rings.map((r) => r.window)];
  await tx.query(LOCK_SQL, params);
  const dropped = await tx.query<{ region: string | null; purpose: string }>(DROP_OLDER_SQL, params);
  await tx.query(PARK_SQL, params);
  await tx.query(PLACE_SQL, params);
  return dropped;
}
