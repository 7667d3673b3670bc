-- Ed25519 receipts (src/signatures/ed25519.ts) name their signing key; the
-- receipt is rebuilt with it for exports. Receipts stored before have no kid:
-- they were signed with the secret's HMAC and are rebuilt as version 1.

-- AlterTable
ALTER TABLE "consent_events" ADD COLUMN     "kid" TEXT;

