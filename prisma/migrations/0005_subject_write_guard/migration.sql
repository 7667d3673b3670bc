-- Writes racing withdrawals and erasures (PostgreSQL, READ COMMITTED).
--
-- A record() batch re-checks, inside the database, that the consent which let
-- each row in still stands and that no erasure came after its decision. On
-- its own that check reads a snapshot taken when the statement starts: a
-- withdrawal that commits while the batch runs is not seen, and the
-- withdrawal's DELETE cannot see the batch's uncommitted rows either, so rows
-- survived both (and their ring heads could be deleted under them).
--
-- The fix is one lock per subject, taken before anything is read: a batch
-- takes it shared for each subject it writes, a consent change or an erasure
-- takes it exclusive as the first statement of its transaction. Whichever
-- comes second waits for the first to commit and then reads a fresh snapshot:
-- a batch that waited sees the withdrawal and refuses its rows; a withdrawal
-- that waited sees the batch's rows and deletes them. Batches never wait for
-- each other on it (shared), locks are taken in one order (by key), and the
-- lock is an advisory transaction lock, so it needs no row to exist: rows let
-- in by a region default or a legal basis have no consent row to lock.
--
-- The batch runs inside a VOLATILE PL/pgSQL function because such a function
-- takes a new snapshot for each statement it runs: the batch statement's
-- snapshot is taken after the lock is held, still in one round trip.
-- (A separate lock statement in a client-side transaction costs three more.)
-- The two-key advisory lock space does not overlap the one-key space that
-- the migration runner uses; 1129270347 is "CGLK" and names this lock.

CREATE FUNCTION consentgate_lock_subjects(subjects text[], exclusive boolean) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  -- In one order (by key) for every locker; one statement, not one per subject.
  IF exclusive THEN
    PERFORM pg_advisory_xact_lock(1129270347, k) FROM (SELECT DISTINCT hashtext(s) AS k FROM unnest(subjects) AS s ORDER BY 1) keys;
  ELSE
    PERFORM pg_advisory_xact_lock_shared(1129270347, k) FROM (SELECT DISTINCT hashtext(s) AS k FROM unnest(subjects) AS s ORDER BY 1) keys;
  END IF;
END $$;

-- One record() batch: a JSON array of rows and the distinct subjects they
-- belong to (see src/store/interactions.ts). Answers only with what it did
-- not write: the rows refused, else the rings waiting to be reshaped.
CREATE FUNCTION consentgate_record_batch(batch json, subjects text[]) RETURNS TABLE (ord int, "subjectId" text, purpose text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  PERFORM consentgate_lock_subjects(subjects, false);
  RETURN QUERY
  WITH input AS (
    -- k and n: the row's place in its ring's rows in this batch (1..n), numbered
    -- by the caller, so that no wide row needs a sort here.
    SELECT subject, purpose, win, kind, data, to_timestamp(created / 1000) AS created, to_timestamp(expires / 1000) AS expires,
           receipt, source, basis, version, to_timestamp(decided / 1000) AS decided, ord, region, k, n
    FROM json_to_recordset(batch)
      AS t(subject text, purpose text, win int, kind text, data jsonb, created float8, expires float8,
           receipt uuid, source text, basis text, version text, decided float8, ord int, region text, k int, n int)
  ),
  refused AS (
    -- No longer allowed: the consent that let the row in was withdrawn or
    -- replaced; or the row came in with no receipt (a legal basis or the
    -- region's default) and the subject has made an explicit choice since,
    -- even a withdrawal followed by a new grant; or an erasure came after its
    -- decision. The lookups are subqueries that OFFSET 0 keeps per row, so a
    -- generic plan cannot turn them into scans of whole tables.
    SELECT ord FROM input i
    WHERE NOT coalesce((SELECT i.receipt IS NOT NULL AND c.granted AND c."receiptId" = i.receipt
                        FROM consent_state c WHERE c."subjectId" = i.subject AND c.purpose = i.purpose OFFSET 0),
                       i.receipt IS NULL)
       OR EXISTS (SELECT 1 FROM privacy_requests r
                  WHERE r."subjectId" = i.subject AND r.type = 'erasure' AND r."receivedAt" >= i.decided OFFSET 0)
  ),
  heads AS (
    -- A batch with a refused row writes nothing (the caller sends the rest
    -- again), so every ring's rows are numbered 1..n. A head moves only if its
    -- ring has this window; a ring shaped by another window (the policy changed
    -- it) is left alone, and its rows wait until reshape.ts has reshaped it.
    INSERT INTO interaction_windows ("subjectId", purpose, "nextSeq", "window")
    SELECT subject, purpose, max(n), max(win) FROM input
    WHERE NOT EXISTS (SELECT 1 FROM refused)
    GROUP BY subject, purpose ORDER BY subject, purpose
    ON CONFLICT ("subjectId", purpose) DO UPDATE SET "nextSeq" = interaction_windows."nextSeq" + excluded."nextSeq"
      WHERE interaction_windows."window" = excluded."window"
    RETURNING "subjectId" AS subject, purpose, "nextSeq", "window"
  ),
  written AS (
    -- Each ring's rows take the sequence numbers just below its head's new nextSeq.
    INSERT INTO interactions ("subjectId", purpose, slot, seq, kind, data, "createdAt", "expiresAt", "receiptId", source, "legalBasis", "policyVersion", region)
    SELECT i.subject, i.purpose, ((h."nextSeq" - i.n + i.k - 1) % h."window")::int, h."nextSeq" - i.n + i.k - 1,
           kind, data, created, expires, receipt, source, basis, version, region
    FROM input i JOIN heads h ON h.subject = i.subject AND h.purpose = i.purpose
    ON CONFLICT ("subjectId", purpose, slot) DO UPDATE SET
      seq = excluded.seq, kind = excluded.kind, data = excluded.data, "createdAt" = excluded."createdAt",
      "expiresAt" = excluded."expiresAt", "receiptId" = excluded."receiptId", source = excluded.source,
      "legalBasis" = excluded."legalBasis", "policyVersion" = excluded."policyVersion", region = excluded.region
  )
  -- Usually nothing: the rows refused, else the rings waiting to be reshaped.
  SELECT ord, NULL::text AS "subjectId", NULL::text AS purpose FROM refused
  UNION ALL
  (SELECT NULL::int, subject, purpose FROM input WHERE NOT EXISTS (SELECT 1 FROM refused)
   EXCEPT
   SELECT NULL::int, subject, purpose FROM heads);
END $$;
