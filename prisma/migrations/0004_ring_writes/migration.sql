-- Overwriting a ring slot changes "expiresAt"; while "expiresAt" is indexed,
-- every overwrite is a non-HOT update that adds two index entries and leaves
-- dead ones behind. The purge job only needs to find rows by the hour they
-- expire in, which an overwrite of a slot written within the same hour keeps:
-- index that hour instead, and leave each page room for the new row version,
-- so the overwrites of busy rings stay on their page (HOT updates).
-- (date_trunc on a UTC timestamp: the cheapest immutable form; extract(epoch)
-- computes in numeric and cost 5 % of a batch write.)
ALTER TABLE "interactions" ADD COLUMN "expiresHour" TIMESTAMP(3) NOT NULL
  GENERATED ALWAYS AS (date_trunc('hour', "expiresAt" AT TIME ZONE 'UTC')) STORED;
DROP INDEX "interactions_expiresAt_idx";
CREATE INDEX "interactions_expiresHour_idx" ON "interactions"("expiresHour");
ALTER TABLE "interactions" SET (fillfactor = 50);

-- The window each ring is shaped for (slots seq % window). A write whose
-- window differs (the policy changed it) has the ring reshaped first; rings
-- written before this column existed are reshaped on their next write.
ALTER TABLE "interaction_windows" ADD COLUMN "window" INTEGER;
