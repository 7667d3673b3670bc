-- Local-DP telemetry (docs/telemetry.md): each metric's count-mean sketch as
-- sums per cell, with the number of reports each cell received (n is their
-- sum, so no row is touched by every report), and the per-subject record the
-- rate limit needs (when a subject reported to which metric, never what).
-- All their SQL is in src/store/telemetry.ts.

-- CreateTable
CREATE TABLE "telemetry_cells" (
    "sketch" TEXT NOT NULL,
    "hash" INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    "sum" INTEGER NOT NULL,
    "reports" INTEGER NOT NULL,

    CONSTRAINT "telemetry_cells_pkey" PRIMARY KEY ("sketch","hash","index")
);

-- CreateTable
CREATE TABLE "telemetry_reports" (
    "seq" BIGSERIAL NOT NULL,
    "subjectId" TEXT NOT NULL,
    "metric" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "telemetry_reports_pkey" PRIMARY KEY ("seq")
);

-- CreateIndex
CREATE INDEX "telemetry_reports_subjectId_metric_at_idx" ON "telemetry_reports"("subjectId", "metric", "at");

-- CreateIndex
CREATE INDEX "telemetry_reports_metric_at_idx" ON "telemetry_reports"("metric", "at");


-- One report, in one round trip (src/store/telemetry.ts): the subject's write
-- lock shared (an erasure, which takes it exclusive, then either deletes this
-- report's record or comes after it), the subject's telemetry lock exclusive
-- (1129270349, "CGTL": two reports of one subject queue, on any instance),
-- then the count of the subject's records in the period, read after the
-- locks are held (a VOLATILE function takes a new snapshot per statement, so
-- it sees the record of the report that held the lock before). Over the
-- limit: nothing is written, and the answer is the oldest counted record's
-- time (when the limit frees up). Else the record and the cell's bit are
-- added, up to 100 expired records of the metric are swept, and the answer
-- is NULL.
CREATE FUNCTION consentgate_telemetry_report(
  subject text, metric_name text, sketch_id text, cell_hash int, cell_index int, report_bit int,
  report_at timestamptz, since timestamptz, report_limit int
) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  counted int;
  oldest timestamptz;
BEGIN
  PERFORM consentgate_lock_subjects(ARRAY[subject], false);
  PERFORM pg_advisory_xact_lock(1129270349, hashtext(subject));
  SELECT count(*), min(r.at) INTO counted, oldest
    FROM telemetry_reports r WHERE r."subjectId" = subject AND r.metric = metric_name AND r.at > since;
  IF counted >= report_limit THEN
    RETURN oldest;
  END IF;
  INSERT INTO telemetry_reports ("subjectId", metric, at) VALUES (subject, metric_name, report_at);
  INSERT INTO telemetry_cells AS c (sketch, hash, "index", sum, reports)
    VALUES (sketch_id, cell_hash, cell_index, report_bit, 1)
    ON CONFLICT (sketch, hash, "index") DO UPDATE SET sum = c.sum + excluded.sum, reports = c.reports + 1;
  -- Expired records count for no limit; removing them does not change what the count above saw.
  DELETE FROM telemetry_reports WHERE seq IN (
    SELECT r.seq FROM telemetry_reports r WHERE r.metric = metric_name AND r.at <= since ORDER BY r.at LIMIT 100);
  RETURN NULL;
END $$;
