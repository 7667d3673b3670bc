-- AlterTable
ALTER TABLE "interactions" ADD COLUMN     "region" TEXT;

-- AlterTable
ALTER TABLE "job_leases" ADD COLUMN     "finishedAt" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "compliance_log_heads" (
    "region" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "hash" TEXT NOT NULL,
    "prevHash" TEXT NOT NULL,

    CONSTRAINT "compliance_log_heads_pkey" PRIMARY KEY ("region")
);

-- CreateIndex
CREATE INDEX "compliance_log_region_event_at_idx" ON "compliance_log"("region", "event", "at");

