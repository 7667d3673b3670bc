-- Differentially private insights (docs/insights.md): the releases served to
-- hosts, and the privacy budget's ledger that every release spends from
-- under a lock (src/store/insights.ts). Neither table holds anything about a
-- person: releases hold noisy counts per key, the ledger epsilons.

-- CreateTable
CREATE TABLE "insight_releases" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "releasedAt" TIMESTAMPTZ(3) NOT NULL,
    "epsilon" DOUBLE PRECISION NOT NULL,
    "delta" DOUBLE PRECISION NOT NULL,
    "threshold" DOUBLE PRECISION NOT NULL,
    "keys" JSONB NOT NULL,

    CONSTRAINT "insight_releases_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "privacy_budget_spends" (
    "seq" BIGSERIAL NOT NULL,
    "ledger" TEXT NOT NULL,
    "spentAt" TIMESTAMPTZ(3) NOT NULL,
    "epsilon" DOUBLE PRECISION NOT NULL,
    "delta" DOUBLE PRECISION NOT NULL,
    "releaseId" UUID NOT NULL,

    CONSTRAINT "privacy_budget_spends_pkey" PRIMARY KEY ("seq")
);

-- CreateIndex
CREATE INDEX "insight_releases_name_releasedAt_idx" ON "insight_releases"("name", "releasedAt" DESC);

-- CreateIndex
CREATE INDEX "privacy_budget_spends_ledger_spentAt_idx" ON "privacy_budget_spends"("ledger", "spentAt");

