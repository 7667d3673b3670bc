/**
 * `consentgate verify-receipt <file> [--keys jwks.json | --signing-keys keys.json] [--json]`:
 * checks the signature of a receipt or an erasure certificate saved as JSON.
 * With --keys, against that JWKS (what `GET /keys` serves), as anyone can;
 * else against the app's own keys: those of --signing-keys or
 * CONSENTGATE_SIGNING_KEYS when set, else the key derived from
 * CONSENTGATE_SECRET; the secret also checks the HMAC receipts issued before
 * Ed25519. Exit 0 valid, 1 not valid (or unreadable), 2 wrong usage.
 * Reads no database.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { CERTIFICATE_VERSION, HMAC_CERTIFICATE_VERSION } from "../../rights/erasure.ts";
import { HMAC_RECEIPT_VERSION, RECEIPT_VERSION } from "../../rights/receipts.ts";
import {
  type PublicSigningKey,
  type SignatureCheck,
  checkSignature,
  createDocumentSigner,
  signingKeyFromSecret,
} from "../../signatures/ed25519.ts";
import { createKeyring } from "../../signatures/hmac.ts";
import { type Command, type Io, UsageError, answer } from "../command.ts";
import { SIGNING_KEYS_OPTIONS, signingKeysFile } from "./signing-keys.ts";

type Kind = "receipt" | "erasure-certificate";

const KINDS: Readonly<Record<string, Kind>> = {
  [RECEIPT_VERSION]: "receipt",
  [HMAC_RECEIPT_VERSION]: "receipt",
  [CERTIFICATE_VERSION]: "erasure-certificate",
  [HMAC_CERTIFICATE_VERSION]: "erasure-certificate",
};

/** What --json prints. */
interface Verdict {
  valid: boolean;
  kind: Kind | null;
  /** The receipt's id or the certificate's requestId. */
  id: string | null;
  kid: string | null;
  algorithm: SignatureCheck["algorithm"] | null;
  /** Why it is not valid. */
  reason?: string;
}

export const verifyReceipt: Command = {
  usage: "<file> [--keys jwks.json | --signing-keys keys.json]",
  summary:
    "check the signature of a receipt or erasure certificate; exit 1 when it is not genuine (--keys: the JWKS of GET /keys, else the app's signing keys (--signing-keys or CONSENTGATE_SIGNING_KEYS) or CONSENTGATE_SECRET's)",
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { keys: { type: "string" }, ...SIGNING_KEYS_OPTIONS },
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError("name one file: a receipt or an erasure certificate (JSON)");
    const file = positionals[0]!;
    if (values.keys !== undefined && values["signing-keys"] !== undefined)
      throw new UsageError("pass --keys (the public JWKS) or --signing-keys (the app's keys), not both");
    const check = await keysToCheckWith(values.keys, values["signing-keys"]);
    let verdict: Verdict;
    try {
      verdict = judge(JSON.parse(await readFile(file, "utf8")), check);
    } catch (error) {
      verdict = {
        valid: false,
        kind: null,
        id: null,
        kid: null,
        algorithm: null,
        reason: `cannot read it as JSON (${error instanceof Error ? error.message : String(error)})`,
      };
    }
    report(io, file, verdict);
    return verdict.valid ? 0 : 1;
  },
};

/**
 * --keys: the JWKS in that file, as anyone holds it; else the app's own keys
 * (its signing keys file, else its secret's key), with the secret's HMAC for
 * older receipts when the secret is set.
 */
async function keysToCheckWith(
  keysFile: string | undefined,
  signingKeysFlag: string | undefined,
): Promise<(document: unknown) => SignatureCheck> {
  if (keysFile !== undefined) {
    let keys: PublicSigningKey[];
    try {
      const jwks = JSON.parse(await readFile(keysFile, "utf8")) as { keys?: unknown };
      if (!Array.isArray(jwks?.keys)) throw new Error('no "keys" list');
      keys = jwks.keys as PublicSigningKey[];
    } catch (error) {
      throw new UsageError(
        `--keys ${keysFile}: not a JWKS (${error instanceof Error ? error.message : String(error)}); save what GET /keys answers`,
      );
    }
    return (document) => checkSignature(document, keys);
  }
  const secret = process.env.CONSENTGATE_SECRET || undefined;
  const signing = await signingKeysFile(signingKeysFlag, secret);
  if (signing !== undefined) {
    const keys = signing.keys.map((key) => key.publicJwk);
    const legacy = secret === undefined ? undefined : createKeyring(secret);
    return (document) => checkSignature(document, keys, legacy);
  }
  if (secret === undefined)
    throw new UsageError(
      "pass --keys with the JWKS that GET /keys serves, or name the app's keys with --signing-keys (or CONSENTGATE_SIGNING_KEYS), or set CONSENTGATE_SECRET to the app's secret",
    );
  const signer = createDocumentSigner([signingKeyFromSecret(secret)], createKeyring(secret));
  return (document) => signer.check(document);
}

function judge(document: unknown, check: (document: unknown) => SignatureCheck): Verdict {
  const fields = (typeof document === "object" && document !== null ? document : {}) as Record<string, unknown>;
  const version = typeof fields.version === "string" ? fields.version : undefined;
  const kind = version !== undefined && Object.hasOwn(KINDS, version) ? KINDS[version]! : null;
  const id = kind === "receipt" ? fields.id : fields.requestId;
  const base = {
    kind,
    id: typeof id === "string" ? id : null,
    kid: typeof fields.kid === "string" ? fields.kid : null,
  };
  if (kind === null)
    return {
      ...base,
      valid: false,
      algorithm: null,
      reason: `not a Consentgate receipt or erasure certificate (version ${JSON.stringify(fields.version ?? null)})`,
    };
  const result = check(document);
  return {
    ...base,
    valid: result.valid,
    algorithm: result.algorithm,
    ...(result.reason === undefined ? {} : { reason: result.reason }),
  };
}

function report(io: Io, file: string, verdict: Verdict): void {
  answer(io, verdict, () => {
    const what = verdict.kind === "erasure-certificate" ? "erasure certificate" : "receipt";
    if (verdict.valid) {
      const how = verdict.algorithm === "EdDSA" ? `Ed25519, key ${verdict.kid}` : "HMAC of the app's secret";
      io.out(`${file}: the ${what} ${verdict.id ?? ""} is genuine (${how}).`);
    } else {
      io.out(`${file}: NOT valid: ${verdict.reason}.`);
    }
  });
}
