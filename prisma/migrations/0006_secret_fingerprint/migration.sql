-- The fingerprint of the secret a database was first started with, so that a
-- start with another secret is refused (see src/store/secret-fingerprint.ts).
-- Databases made before this migration get theirs at their next start.

-- CreateTable
CREATE TABLE "secret_fingerprint" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "fingerprint" TEXT NOT NULL,
    "recordedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "secret_fingerprint_pkey" PRIMARY KEY ("id")
);

-- Added by hand (the schema cannot say it): one database, one secret, one row.
ALTER TABLE "secret_fingerprint" ADD CONSTRAINT "secret_fingerprint_one_row" CHECK ("id" = 1);
