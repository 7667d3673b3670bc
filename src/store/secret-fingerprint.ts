/**
 * The secret's fingerprint (table secret_fingerprint, one row): recorded at
 * a database's first start, compared at every later one. Pseudonyms in the
 * compliance log, receipt signatures and the log's hash chain are all keyed
 * with the secret; a gate or a CLI command started with another secret would
 * quietly make them under another key, so it is refused instead.
 */
import { ConsentgateError } from "../errors.ts";
import type { Connection } from "./connection.ts";

/** The one row's key (the table's CHECK allows no other). */
const ROW = 1;

/**
 * Records `fingerprint` (Keyring.fingerprint) when the database has none yet
 * (a new database, or one made before fingerprints were kept), and otherwise
 * checks it against the recorded one.
 *
 * @throws ConsentgateError `secret_mismatch` when the database was started with another secret.
 */
export async function checkSecretFingerprint(
  connection: Pick<Connection, "prisma">,
  fingerprint: string,
): Promise<void> {
  const { secretFingerprint } = connection.prisma;
  // Instances starting together on one database: the first insert wins, the others compare with it.
  await secretFingerprint.createMany({ data: [{ id: ROW, fingerprint }], skipDuplicates: true });
  await compareSecretFingerprint(connection, fingerprint);
}

/**
 * Checks `fingerprint` against the recorded one and records nothing, for
 * commands that only read: when no fingerprint is recorded yet, the app's
 * next start records its own.
 *
 * @throws ConsentgateError `secret_mismatch` when the database was started with another secret.
 */
export async function compareSecretFingerprint(
  connection: Pick<Connection, "prisma">,
  fingerprint: string,
): Promise<void> {
  const recorded = await connection.prisma.secretFingerprint.findUnique({ where: { id: ROW } });
  if (recorded === null || recorded.fingerprint === fingerprint) return;
  throw new ConsentgateError(
    "secret_mismatch",
    `the secret is not the one this database was first started with (on ${recorded.recordedAt.toISOString()}); ` +
      "pseudonyms, receipt signatures and the compliance log are keyed with it: check CONSENTGATE_SECRET (the app, every instance and the CLI need the same one)",
    { recordedAt: recorded.recordedAt.toISOString() },
  );
}
