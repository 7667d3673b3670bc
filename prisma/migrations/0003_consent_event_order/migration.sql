-- AlterTable
ALTER TABLE "consent_events" ADD COLUMN     "seq" BIGSERIAL NOT NULL;

