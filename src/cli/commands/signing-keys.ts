/**
 * The app's signing keys, for the commands that sign (erase) or check
 * (verify-receipt) as the app does: a JSON file holding the list the
 * `signingKeys` option takes (PEM texts, private JWKs, "secret"), named by
 * --signing-keys or CONSENTGATE_SIGNING_KEYS. Without it the CLI has only the
 * key derived from the secret, which an app with configured keys neither signs
 * with nor, unless it lists "secret", publishes.
 */
import { readFile } from "node:fs/promises";
import { isConsentgateError } from "../../errors.ts";
import { type ConsentgateOptions, configuredSigningKeys } from "../../options.ts";
import type { SigningKey } from "../../signatures/ed25519.ts";
import { UsageError } from "../command.ts";

export const SIGNING_KEYS_OPTIONS = { "signing-keys": { type: "string" } } as const;

export const SIGNING_KEYS_USAGE = "[--signing-keys keys.json]";

export interface SigningKeysFile {
  /** The entries as the file lists them: what createConsentgate takes as `signingKeys`. */
  sources: NonNullable<ConsentgateOptions["signingKeys"]>;
  /** The same, parsed: the first signs. */
  keys: SigningKey[];
}

/**
 * The keys in --signing-keys, else in CONSENTGATE_SIGNING_KEYS; undefined
 * when neither names a file. A file that cannot be read or holds a bad entry
 * is a UsageError (exit 2), raised before the command does anything.
 */
export async function signingKeysFile(
  flag: string | undefined,
  secret: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SigningKeysFile | undefined> {
  const fromEnv = env.CONSENTGATE_SIGNING_KEYS || undefined;
  const file = flag ?? fromEnv;
  if (file === undefined) return undefined;
  const where = flag === undefined ? `CONSENTGATE_SIGNING_KEYS (${file})` : `--signing-keys ${file}`;
  let sources: unknown;
  try {
    sources = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new UsageError(
      `${where}: cannot read it as JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (!Array.isArray(sources))
    throw new UsageError(
      `${where}: not a list; write the signingKeys option's list (PEM texts, private JWKs, "secret")`,
    );
  try {
    const keys = configuredSigningKeys(sources, secret);
    return { sources: sources as SigningKeysFile["sources"], keys };
  } catch (error) {
    if (!isConsentgateError(error, "invalid_option")) throw error;
    throw new UsageError(`${where}: ${(error.details.problems ?? [error.message]).join("; ")}`);
  }
}
