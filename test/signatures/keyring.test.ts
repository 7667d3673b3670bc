/**
 * The keyring: signatures on receipts and certificates, pseudonyms, and the
 * keys derived from the secret for each use. Receipts and pseudonyms are
 * stored, so the derivation is pinned here: changing it would orphan them.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, test } from "node:test";
import { canonicalJson } from "../../src/signatures/canonical-json.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";

const SECRET = "keyring-test-secret-keyring-test-secret";
const derived = (use: string) => createHmac("sha256", SECRET).update(`consentgate:${use}`).digest();
const receipt = {
  id: "r-1",
  subjectId: "alice",
  purpose: "personalization",
  granted: true,
  at: new Date("2026-05-01T00:00:00.000Z"),
};

describe("createKeyring", () => {
  const keyring = createKeyring(SECRET);

  test("each use has its own key, derived from the secret", () => {
    for (const use of ["signature", "pseudonym", "field-hash", "log-chain"] as const)
      assert.deepEqual(keyring.key(use), derived(use), use);
    assert.notDeepEqual(keyring.key("signature"), keyring.key("pseudonym"));
    assert.notDeepEqual(createKeyring(`${SECRET}!`).key("signature"), keyring.key("signature"));
  });

  test("a signature is the HMAC of the record's canonical JSON under the signature key, in lower-case hex", () => {
    const signature = keyring.sign(receipt);
    assert.equal(signature, createHmac("sha256", derived("signature")).update(canonicalJson(receipt)).digest("hex"));
    assert.match(signature, /^[0-9a-f]{64}$/);
    const reordered = { at: receipt.at, granted: true, purpose: "personalization", subjectId: "alice", id: "r-1" };
    assert.equal(keyring.sign(reordered), signature, "key order does not matter");
  });

  test("verify accepts the record's own signature and nothing else", () => {
    const signature = keyring.sign(receipt);
    assert.equal(keyring.verify(receipt, signature), true);
    assert.equal(keyring.verify({ ...receipt, granted: false }, signature), false, "a changed field");
    assert.equal(keyring.verify({ ...receipt, extra: 1 }, signature), false, "an added field");
    assert.equal(
      keyring.verify(receipt, createKeyring(`${SECRET}!`).sign(receipt)),
      false,
      "another secret's signature",
    );
    assert.equal(keyring.verify(receipt, signature.slice(0, 62)), false, "a shortened signature");
    assert.equal(keyring.verify(receipt, signature.slice(0, 32)), false, "half a signature");
    assert.equal(keyring.verify(receipt, ""), false, "no signature");
    const flipped = signature.slice(0, -1) + (signature.endsWith("0") ? "1" : "0");
    assert.equal(keyring.verify(receipt, flipped), false, "one digit changed");
  });

  test("a pseudonym is stable, 32 hex digits of the HMAC under the pseudonym key, and differs per subject and secret", () => {
    const alice = keyring.pseudonym("alice");
    assert.equal(alice, createHmac("sha256", derived("pseudonym")).update("alice").digest("hex").slice(0, 32));
    assert.match(alice, /^[0-9a-f]{32}$/);
    assert.equal(keyring.pseudonym("alice"), alice);
    assert.notEqual(keyring.pseudonym("bob"), alice);
    assert.notEqual(createKeyring(`${SECRET}!`).pseudonym("alice"), alice);
    assert.notEqual(alice, keyring.sign({ subjectId: "alice" }).slice(0, 32), "a pseudonym is not a signature");
  });

  test("the fingerprint databases record is the HMAC of its own label under the secret, and none of the keys", () => {
    assert.equal(keyring.fingerprint, derived("secret-fingerprint").toString("hex"));
    assert.notEqual(createKeyring(`${SECRET}!`).fingerprint, keyring.fingerprint);
    for (const use of ["signature", "pseudonym", "field-hash", "log-chain"] as const)
      assert.notEqual(keyring.fingerprint, keyring.key(use).toString("hex"), use);
  });
});
