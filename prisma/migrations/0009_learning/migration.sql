-- Federated learning (docs/learning.md): each model's current version and
-- open round, its closed rounds (the privacy ledger: the zCDP rho each one
-- spent), and the devices' pending updates, which are personal data until
-- their round is aggregated. All their SQL is in src/store/learning.ts.

-- CreateTable
CREATE TABLE "learning_models" (
    "name" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "items" JSONB NOT NULL,
    "dimensions" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "factors" BYTEA NOT NULL,
    "round" INTEGER,
    "roundOpenedAt" TIMESTAMPTZ(3),
    "status" TEXT NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "learning_models_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "learning_rounds" (
    "model" TEXT NOT NULL,
    "round" INTEGER NOT NULL,
    "openedAt" TIMESTAMPTZ(3) NOT NULL,
    "closedAt" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL,
    "participants" INTEGER NOT NULL,
    "aggregation" TEXT NOT NULL,
    "clip" DOUBLE PRECISION NOT NULL,
    "noise" DOUBLE PRECISION NOT NULL,
    "rho" DOUBLE PRECISION NOT NULL,
    "version" INTEGER,
    "publishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "learning_rounds_pkey" PRIMARY KEY ("model","round")
);

-- CreateTable
CREATE TABLE "learning_updates" (
    "subjectId" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "round" INTEGER NOT NULL,
    "purpose" TEXT NOT NULL,
    "delta" BYTEA NOT NULL,
    "receivedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "learning_updates_pkey" PRIMARY KEY ("subjectId","model","round")
);

-- CreateIndex
CREATE INDEX "learning_updates_model_round_subjectId_idx" ON "learning_updates"("model", "round", "subjectId");


-- Updates are read in coordinate blocks (substring of delta), so that the
-- aggregation's memory does not grow with clients × model size. EXTERNAL
-- keeps them out of line and uncompressed (float32 noise does not compress),
-- which lets substring fetch only the chunks a block needs.
ALTER TABLE "learning_updates" ALTER COLUMN "delta" SET STORAGE EXTERNAL;
