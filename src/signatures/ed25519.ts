/**
 * Signatures anyone can check: receipts and erasure certificates are signed
 * with Ed25519 over the RFC 8785 (JCS) canonical JSON of the document without
 * its `signature` member. The document names its key in `kid`, which is
 * signed with the rest, and the public keys are published as a JWKS
 * (`GET /keys`), so a subject, a regulator or a court can verify a receipt
 * with nothing of ours: any JCS and Ed25519 implementation will do.
 *
 * Documents signed before this (HMAC under the secret, hex, no `kid`) keep
 * verifying where the secret is, through the legacy keyring.
 */
import {
  type JsonWebKey,
  type KeyObject,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createHash,
  sign as signBytes,
  verify as verifyBytes,
} from "node:crypto";
import canonicalize from "canonicalize";
import type { Keyring } from "./hmac.ts";

/**
 * One public signing key as `GET /keys` publishes it (RFC 8037): an Ed25519
 * key in JWK form, named by its RFC 7638 thumbprint.
 *
 * @example
 * ```ts
 * import type { PublicSigningKey } from "consentgate";
 *
 * const res = await fetch("https://music.example/privacy/keys");
 * const { keys } = (await res.json()) as { keys: PublicSigningKey[] };
 * const current: PublicSigningKey | undefined = keys[0];
 * ```
 */
export interface PublicSigningKey {
  /** Key type: an octet key pair (RFC 8037). */
  kty: "OKP";
  /** The curve: Ed25519. */
  crv: "Ed25519";
  /** The public key, base64url. */
  x: string;
  /** The RFC 7638 JWK thumbprint (SHA-256, base64url): what a signed document's `kid` names. */
  kid: string;
  /** The algorithm: EdDSA. */
  alg: "EdDSA";
  /** What the key is for: signatures. */
  use: "sig";
}

/**
 * A JSON Web Key Set of Ed25519 public keys, as `GET /keys` serves it.
 *
 * @example
 * ```ts
 * import { type Jwks, verifySignature } from "consentgate";
 *
 * const jwks = (await (await fetch("https://music.example/privacy/keys")).json()) as Jwks;
 * const receipt: object = JSON.parse('{"version":"consentgate-receipt/2"}');
 * const genuine: boolean = verifySignature(receipt, jwks);
 * ```
 */
export interface Jwks {
  /** The keys, the one signing now first. */
  keys: PublicSigningKey[];
}

/** A private key the gate signs with (or, further down its list, still accepts). */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: PublicSigningKey;
}

/** What a host may configure as a signing key: a PKCS#8 PEM text, or a private JWK (with `d`). */
export type SigningKeySource = string | { kty: string; crv: string; x: string; d: string };

/**
 * A signing key from what the host configured. Throws a TypeError naming
 * what is wrong (options.ts turns it into `invalid_option`).
 */
export function signingKeyFrom(source: SigningKeySource): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey =
      typeof source === "string"
        ? createPrivateKey(source)
        : createPrivateKey({ key: source as JsonWebKey, format: "jwk" });
  } catch {
    throw new TypeError(
      typeof source === "string"
        ? "not a PEM private key (expected PKCS#8, -----BEGIN PRIVATE KEY-----)"
        : 'not a private JWK (expected { kty: "OKP", crv: "Ed25519", x, d })',
    );
  }
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new TypeError(`an ${privateKey.asymmetricKeyType ?? "unknown"} key, not Ed25519`);
  const key = fromPrivateKey(privateKey);
  // Node derives the public key from d and ignores x: a JWK whose x is another key's would
  // otherwise be accepted, and the host would publish a key other than the one it believes.
  if (typeof source !== "string" && source.x !== key.publicJwk.x)
    throw new TypeError("x does not match d (the public key is not this private key's)");
  return key;
}

/**
 * The PKCS#8 DER of an Ed25519 private key is this fixed prefix (version 0,
 * algorithm id 1.3.101.112, a 32-byte octet string) followed by the seed.
 */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * The key a gate signs with when none is configured: its seed is the
 * HMAC-SHA256 of its own label under the secret, so the same secret gives the
 * same key on every instance and every start, and the label keeps it apart
 * from every HMAC key the secret gives (src/signatures/hmac.ts).
 */
export function signingKeyFromSecret(secret: string): SigningKey {
  const seed = createHmac("sha256", secret).update("consentgate:ed25519").digest();
  return fromPrivateKey(
    createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" }),
  );
}

function fromPrivateKey(privateKey: KeyObject): SigningKey {
  const { x } = createPublicKey(privateKey).export({ format: "jwk" });
  if (typeof x !== "string") throw new TypeError("the key has no public part");
  const kid = thumbprint(x);
  return { kid, privateKey, publicJwk: { kty: "OKP", crv: "Ed25519", x, kid, alg: "EdDSA", use: "sig" } };
}

/** RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace, base64url. */
export function thumbprint(x: string): string {
  return createHash("sha256").update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest("base64url");
}

/** The text a document's signature is over: its RFC 8785 canonical JSON without `signature`. */
export function signedText(document: object): string {
  const { signature: _signature, ...body } = document as Record<string, unknown>;
  const text = canonicalize(body);
  if (text === undefined) throw new TypeError("the document cannot be written as JSON");
  return text;
}

/** How a document's signature was checked, and why it failed when it did. */
export interface SignatureCheck {
  valid: boolean;
  /** EdDSA: an Ed25519 signature naming its key in `kid`; HMAC: an older document without `kid`. */
  algorithm: "EdDSA" | "HMAC";
  kid?: string;
  /** Why it is not valid. */
  reason?: string;
}

/**
 * Checks a signed document against public keys, and, for a document signed
 * before Ed25519 (no `kid`), against the legacy HMAC keyring when there is one.
 */
export function checkSignature(
  document: unknown,
  keys: readonly PublicSigningKey[],
  legacy?: Pick<Keyring, "verify">,
): SignatureCheck {
  if (typeof document !== "object" || document === null || Array.isArray(document))
    return { valid: false, algorithm: "EdDSA", reason: "not a JSON object" };
  const { signature, kid, ...rest } = document as Record<string, unknown>;
  if (typeof signature !== "string") return { valid: false, algorithm: "EdDSA", reason: "it has no signature" };
  if (kid === undefined) {
    if (!legacy)
      return { valid: false, algorithm: "HMAC", reason: "it has no kid: an HMAC signature only the server can check" };
    return legacy.verify(rest, signature)
      ? { valid: true, algorithm: "HMAC" }
      : { valid: false, algorithm: "HMAC", reason: "the HMAC signature does not match" };
  }
  if (typeof kid !== "string") return { valid: false, algorithm: "EdDSA", reason: "kid is not a string" };
  const key = keys.find((k) => k.kid === kid);
  if (!key) return { valid: false, algorithm: "EdDSA", kid, reason: `no key ${kid} among the published keys` };
  let valid = false;
  try {
    const publicKey = createPublicKey({ key: { kty: key.kty, crv: key.crv, x: key.x }, format: "jwk" });
    // base64url only: Buffer.from would silently skip other characters, so a mangled text could pass.
    // And canonical only: the last of 86 characters carries 4 unused bits, so 16 texts decode to one
    // signature; accepting them all would let anyone alter a signed document's text undetected.
    valid =
      /^[A-Za-z0-9_-]{86}$/.test(signature) &&
      Buffer.from(signature, "base64url").toString("base64url") === signature &&
      verifyBytes(null, Buffer.from(signedText(document)), publicKey, Buffer.from(signature, "base64url"));
  } catch {
    valid = false;
  }
  return valid
    ? { valid, algorithm: "EdDSA", kid }
    : { valid, algorithm: "EdDSA", kid, reason: "the signature does not match" };
}

/**
 * Whether a receipt or erasure certificate is genuine: its Ed25519
 * `signature` verifies, over the RFC 8785 canonical JSON of every other
 * member, under the key of the JWKS its `kid` names. Needs no secret and no
 * database: the JWKS is what `GET /keys` on the gate's router serves.
 * Documents signed before Ed25519 (no `kid`) are false here; the gate that
 * issued them still verifies them (`consentgate verify-receipt` without `--keys`).
 *
 * @param document - The receipt or certificate, as parsed from its JSON.
 * @param jwks - The gate's public keys.
 * @returns true when the signature is genuine and nothing in the document changed.
 *
 * @example
 * ```ts
 * import { type Jwks, type Receipt, verifySignature } from "consentgate";
 *
 * const jwks = (await (await fetch("https://music.example/privacy/keys")).json()) as Jwks;
 * const res = await fetch("https://music.example/privacy/consents/personalization", {
 *   method: "PUT",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ granted: true }),
 * });
 * const receipt = (await res.json()) as Receipt;
 * if (!verifySignature(receipt, jwks)) throw new Error("not a genuine receipt");
 * ```
 */
export function verifySignature(document: object, jwks: Jwks): boolean {
  return checkSignature(document, Array.isArray(jwks?.keys) ? jwks.keys : []).valid;
}

/** Signs documents with the first key and verifies with every one (and the legacy HMAC keyring). */
export interface DocumentSigner {
  /** The body with `kid` and `signature` added: the signature covers the body and the kid. */
  sign<T extends object>(body: T): T & { kid: string; signature: string };
  /** Checks a signed document: Ed25519 with any key of the list, or HMAC when it has no `kid`. */
  check(document: unknown): SignatureCheck;
  /** Every public key: the signing one first. */
  readonly jwks: Jwks;
}

/**
 * `keys[0]` signs; all of them verify and are published, so a key rotated
 * out of first place keeps its documents verifying for as long as it stays
 * in the list.
 */
export function createDocumentSigner(keys: readonly SigningKey[], legacy: Pick<Keyring, "verify">): DocumentSigner {
  const [current] = keys;
  if (!current) throw new TypeError("createDocumentSigner: no signing key");
  const publicKeys = unique(keys).map((k) => k.publicJwk);
  return {
    sign(body) {
      const signed = { ...body, kid: current.kid };
      const signature = signBytes(null, Buffer.from(signedText(signed)), current.privateKey).toString("base64url");
      return { ...signed, signature };
    },
    check: (document) => checkSignature(document, publicKeys, legacy),
    jwks: { keys: publicKeys },
  };
}

/** One entry per key: the same key configured twice (say, as a PEM and as "secret") is published once. */
function unique(keys: readonly SigningKey[]): SigningKey[] {
  const byKid = new Map<string, SigningKey>();
  for (const key of keys) if (!byKid.has(key.kid)) byKid.set(key.kid, key);
  return [...byKid.values()];
}
