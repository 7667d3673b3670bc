/**
 * Ed25519 signatures on receipts and certificates: the key derived from the
 * secret (pinned: receipts are stored and must keep verifying), keys a host
 * configures, what a signature covers, rotation, and the HMAC documents
 * issued before.
 */
import assert from "node:assert/strict";
import { createHash, createHmac, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { describe, test } from "node:test";
import canonicalize from "canonicalize";
import { isConsentgateError } from "../../src/errors.ts";
import { resolveConfiguration } from "../../src/options.ts";
import {
  checkSignature,
  createDocumentSigner,
  signingKeyFrom,
  signingKeyFromSecret,
  thumbprint,
  verifySignature,
} from "../../src/signatures/ed25519.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";

const SECRET = "ed25519-test-secret-ed25519-test-secret";
const keyring = createKeyring(SECRET);
const document = {
  version: "consentgate-receipt/2",
  id: "r-1",
  subject: "alice",
  granted: true,
  nested: { b: 1, a: 2 },
};

const newPem = () => generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();

describe("the key derived from the secret", () => {
  test("its seed is the HMAC-SHA256 of its own label under the secret, so every instance derives the same key", () => {
    const key = signingKeyFromSecret(SECRET);
    const seed = createHmac("sha256", SECRET).update("consentgate:ed25519").digest();
    assert.equal(key.privateKey.export({ format: "jwk" }).d, seed.toString("base64url"));
    assert.equal(signingKeyFromSecret(SECRET).kid, key.kid);
    assert.notEqual(signingKeyFromSecret(`${SECRET}!`).kid, key.kid, "another secret, another key");
    for (const use of ["signature", "pseudonym", "field-hash", "log-chain"] as const)
      assert.notDeepEqual(keyring.key(use), seed, `apart from the ${use} key`);
  });

  test("its public JWK is Ed25519 for signatures, named by its RFC 7638 thumbprint", () => {
    const { publicJwk, kid } = signingKeyFromSecret(SECRET);
    const required = JSON.stringify({ crv: "Ed25519", kty: "OKP", x: publicJwk.x });
    assert.equal(kid, createHash("sha256").update(required).digest("base64url"));
    assert.deepEqual(publicJwk, { kty: "OKP", crv: "Ed25519", x: publicJwk.x, kid, alg: "EdDSA", use: "sig" });
  });

  test("the thumbprint is RFC 8037's own example (appendix A.3)", () => {
    assert.equal(
      thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
      "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
    );
  });
});

describe("configured keys", () => {
  test("a PKCS#8 PEM and a private JWK of the same key are the same signing key", () => {
    const pem = newPem();
    const fromPem = signingKeyFrom(pem);
    const jwk = fromPem.privateKey.export({ format: "jwk" }) as { kty: string; crv: string; x: string; d: string };
    assert.equal(signingKeyFrom(jwk).kid, fromPem.kid);
  });

  test("the RFC 8037 example key (appendix A.1) has the RFC's thumbprint", () => {
    const key = signingKeyFrom({
      kty: "OKP",
      crv: "Ed25519",
      d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
      x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    });
    assert.equal(key.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  });

  test("a private JWK whose x is not its d's public key is refused, not silently re-derived", () => {
    const jwk = signingKeyFrom(newPem()).privateKey.export({ format: "jwk" }) as {
      kty: string;
      crv: string;
      x: string;
      d: string;
    };
    const otherX = signingKeyFrom(newPem()).publicJwk.x;
    assert.throws(() => signingKeyFrom({ ...jwk, x: otherX }), {
      name: "TypeError",
      message: /x does not match d/,
    });
    assert.throws(
      () => resolveConfiguration({ database: "memory", signingKeys: [{ ...jwk, x: otherX }] }),
      (error) =>
        isConsentgateError(error, "invalid_option") && /signingKeys\.0: x does not match d/.test(error.message),
    );
  });

  test('the signingKeys option: exactly the configured keys; the secret\'s key only where "secret" is listed', () => {
    const pem = newPem();
    const secretKid = signingKeyFromSecret(SECRET).kid;
    const kids = (signingKeys: unknown[]) =>
      resolveConfiguration({ database: "memory", secret: SECRET, signingKeys }).signingKeys.map((k) => k.kid);
    assert.deepEqual(kids([pem]), [signingKeyFrom(pem).kid], "the secret cannot sign or verify once keys are given");
    assert.deepEqual(kids([pem, "secret"]), [signingKeyFrom(pem).kid, secretKid]);
    assert.deepEqual(kids(["secret", pem]), [secretKid, signingKeyFrom(pem).kid]);
    assert.throws(
      () => kids(["secret", pem, "secret"]),
      (error) =>
        isConsentgateError(error, "invalid_option") &&
        error.details.problems?.includes('signingKeys: "secret" is listed more than once') === true,
    );
    assert.deepEqual(
      resolveConfiguration({ database: "memory", secret: SECRET }).signingKeys.map((k) => k.kid),
      [signingKeyFromSecret(SECRET).kid],
    );
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" });
    const { publicJwk } = signingKeyFrom(pem);
    assert.throws(
      () =>
        resolveConfiguration({
          database: "memory",
          secret: SECRET,
          signingKeys: [pem, "not a key", rsa.toString(), { kty: "OKP", crv: "Ed25519", x: publicJwk.x }],
        }),
      (error) => {
        assert.ok(isConsentgateError(error, "invalid_option"));
        assert.deepEqual(error.details.problems, [
          "signingKeys.1: not a PEM private key (expected PKCS#8, -----BEGIN PRIVATE KEY-----)",
          "signingKeys.2: an rsa key, not Ed25519",
          "signingKeys.3: a public JWK: the private key (d) is needed to sign",
        ]);
        return true;
      },
    );
    for (const signingKeys of [[], "a pem", [42]]) {
      assert.throws(
        () => resolveConfiguration({ database: "memory", signingKeys }),
        (error) => isConsentgateError(error, "invalid_option") && /signingKeys/.test(error.message),
        JSON.stringify(signingKeys),
      );
    }
  });
});

describe("signing and checking documents", () => {
  const signer = createDocumentSigner([signingKeyFromSecret(SECRET)], keyring);

  test("a signature is Ed25519 over the RFC 8785 text of the document with its kid, without the signature", () => {
    const signed = signer.sign(document);
    assert.equal(signed.kid, signingKeyFromSecret(SECRET).kid);
    assert.match(signed.signature, /^[A-Za-z0-9_-]{86}$/);
    const { signature: _s, ...body } = signed;
    const [key] = signer.jwks.keys;
    assert.ok(key);
    assert.ok(verifySignature(signed, signer.jwks), "verifies with nothing but the JWKS");
    // The same check done by hand, as any RFC 8785 + Ed25519 implementation would.
    assert.ok(
      verify(
        null,
        Buffer.from(canonicalize(body)!),
        createPublicKey({ key: { kty: key.kty, crv: key.crv, x: key.x }, format: "jwk" }),
        Buffer.from(signed.signature, "base64url"),
      ),
    );
    assert.deepEqual(signer.check(signed), { valid: true, algorithm: "EdDSA", kid: signed.kid });
  });

  test("any change fails: a field, a nested field, an added field, the kid, the signature", () => {
    const signed = signer.sign(document);
    const changed: [string, object][] = [
      ["granted", { ...signed, granted: false }],
      ["a nested field", { ...signed, nested: { a: 2, b: 2 } }],
      ["an added field", { ...signed, extra: null }],
      ["a field left out", (({ subject: _, ...rest }) => rest)(signed)],
      ["the kid", { ...signed, kid: signingKeyFromSecret(`${SECRET}!`).kid }],
      ["the signature's last character", { ...signed, signature: `${signed.signature.slice(0, -1)}A` }],
      ["the signature padded", { ...signed, signature: `${signed.signature}==` }],
      ["the unused bits of its last character set", { ...signed, signature: withPaddingBits(signed.signature) }],
      ["no signature", (({ signature: _, ...rest }) => rest)(signed)],
    ];
    for (const [what, document] of changed) {
      assert.equal(verifySignature(document, signer.jwks), false, what);
      assert.equal(signer.check(document).valid, false, what);
    }
    assert.equal(signer.check({ ...signed, kid: "unknown" }).reason, "no key unknown among the published keys");
  });

  test("a document without kid is an HMAC one: it verifies with the secret's keyring only", () => {
    const { version: _v, ...fields } = document;
    const old = { version: "consentgate-receipt/1", ...fields };
    const hmac = { ...old, signature: keyring.sign(old) };
    assert.deepEqual(signer.check(hmac), { valid: true, algorithm: "HMAC" });
    assert.equal(signer.check({ ...hmac, granted: false }).valid, false);
    assert.equal(verifySignature(hmac, signer.jwks), false, "no one without the secret can check it");
    assert.equal(checkSignature(hmac, signer.jwks.keys).valid, false);
    assert.equal(
      createDocumentSigner([signingKeyFromSecret(SECRET)], createKeyring(`${SECRET}!`)).check(hmac).valid,
      false,
      "nor with another secret",
    );
  });

  test("rotation: the first key signs, every key is published and verifies; a key left out no longer does", () => {
    const older = signingKeyFrom(newPem());
    const newer = signingKeyFrom(newPem());
    const before = createDocumentSigner([older], keyring).sign(document);
    const rotated = createDocumentSigner([newer, older], keyring);
    assert.deepEqual(
      rotated.jwks.keys.map((k) => k.kid),
      [newer.kid, older.kid],
    );
    assert.equal(rotated.sign(document).kid, newer.kid);
    assert.equal(rotated.check(before).valid, true);
    assert.equal(verifySignature(before, rotated.jwks), true);
    assert.equal(verifySignature(before, createDocumentSigner([newer], keyring).jwks), false);
    assert.deepEqual(
      createDocumentSigner([newer, older, newer], keyring).jwks.keys.map((k) => k.kid),
      [newer.kid, older.kid],
      "a key listed twice is published once",
    );
  });

  test("verifySignature refuses what is not a signed document, and a JWKS that is not one", () => {
    const signed = signer.sign(document);
    for (const value of [null, [], "text", 42])
      assert.equal(verifySignature(value as unknown as object, signer.jwks), false, String(value));
    assert.equal(verifySignature(signed, {} as never), false);
    assert.equal(verifySignature(signed, { keys: [] }), false);
  });
});

/**
 * The same 64 bytes written another way: the last of 86 base64url characters
 * carries 2 bits of the signature and 4 unused ones, which a decoder drops.
 */
function withPaddingBits(signature: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = alphabet.indexOf(signature.at(-1)!);
  const variant = `${signature.slice(0, -1)}${alphabet[last ^ 0b0001]}`;
  assert.deepEqual(Buffer.from(variant, "base64url"), Buffer.from(signature, "base64url"), "decodes to the same bytes");
  return variant;
}
