-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "consent_events" (
    "id" UUID NOT NULL,
    "subjectId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "granted" BOOLEAN NOT NULL,
    "overrideGpc" BOOLEAN NOT NULL DEFAULT false,
    "gpc" BOOLEAN NOT NULL DEFAULT false,
    "region" TEXT NOT NULL,
    "policyVersion" TEXT NOT NULL,
    "actorId" TEXT,
    "signature" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "consent_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "consent_state" (
    "subjectId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "granted" BOOLEAN NOT NULL,
    "overrideGpc" BOOLEAN NOT NULL DEFAULT false,
    "receiptId" UUID NOT NULL,
    "policyVersion" TEXT NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "consent_state_pkey" PRIMARY KEY ("subjectId","purpose")
);

-- CreateTable
CREATE TABLE "interactions" (
    "subjectId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "slot" INTEGER NOT NULL,
    "seq" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "receiptId" UUID,
    "source" TEXT NOT NULL,
    "legalBasis" TEXT NOT NULL,
    "policyVersion" TEXT NOT NULL,

    CONSTRAINT "interactions_pkey" PRIMARY KEY ("subjectId","purpose","slot")
);

-- CreateTable
CREATE TABLE "interaction_windows" (
    "subjectId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "nextSeq" BIGINT NOT NULL,

    CONSTRAINT "interaction_windows_pkey" PRIMARY KEY ("subjectId","purpose")
);

-- CreateTable
CREATE TABLE "privacy_requests" (
    "id" UUID NOT NULL,
    "subjectId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "region" TEXT NOT NULL,
    "actorId" TEXT,
    "receivedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "dueAt" TIMESTAMPTZ(3) NOT NULL,
    "completedAt" TIMESTAMPTZ(3),
    "details" JSONB,

    CONSTRAINT "privacy_requests_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "compliance_log" (
    "region" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "event" TEXT NOT NULL,
    "subject" TEXT,
    "details" JSONB NOT NULL,
    "prevHash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,

    CONSTRAINT "compliance_log_pkey" PRIMARY KEY ("region","seq")
);

-- CreateTable
CREATE TABLE "job_leases" (
    "job" TEXT NOT NULL,
    "fireAt" TIMESTAMPTZ(3) NOT NULL,
    "holder" TEXT NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "job_leases_pkey" PRIMARY KEY ("job","fireAt")
);

-- CreateIndex
CREATE INDEX "consent_events_subjectId_purpose_at_idx" ON "consent_events"("subjectId", "purpose", "at");

-- CreateIndex
CREATE INDEX "interactions_expiresAt_idx" ON "interactions"("expiresAt");

-- CreateIndex
CREATE INDEX "privacy_requests_subjectId_receivedAt_idx" ON "privacy_requests"("subjectId", "receivedAt");

-- CreateIndex
CREATE INDEX "privacy_requests_status_dueAt_idx" ON "privacy_requests"("status", "dueAt");

