/**
 * Receipts and erasure certificates are verifiable by anyone: the verifier
 * below uses nothing of Consentgate's, only node:crypto and an RFC 8785
 * canonicalizer, and the public keys `GET /keys` serves. HMAC receipts issued
 * before keep verifying on the server, and a rotated-out key keeps its
 * receipts verifying while it stays in the list.
 */
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { describe, test } from "node:test";
import canonicalize from "canonicalize";
import request from "supertest";
import { verifyReceipt } from "../../src/rights/receipts.ts";
import { createConsentStore } from "../../src/store/consents.ts";
import { hmacReceipt, testApp, testSigner } from "../support/app.ts";
import { onPostgres, persistentDatabase, testStore } from "../support/database.ts";
import { eu, grant } from "../support/subjects.ts";

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
}

/** What anyone holding the JWKS does: find the key by kid, check Ed25519 over the canonical JSON without `signature`. */
function verifiedByAnyone(document: Record<string, unknown>, jwks: { keys: Jwk[] }): boolean {
  const { signature, ...body } = document;
  const jwk = jwks.keys.find((k) => k.kid === body.kid);
  if (!jwk || typeof signature !== "string") return false;
  const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
  return verify(null, Buffer.from(canonicalize(body)!), key, Buffer.from(signature, "base64url"));
}

/**
 * The README's verifier with nothing but Node's standard library: for JSON
 * values, RFC 8785 is ECMAScript's JSON.stringify with every object's keys
 * sorted by UTF-16 code units (RFC 8785 §3.2.3), which is what
 * Array.prototype.sort does by default.
 */
const jcs = (value: unknown): string =>
  Array.isArray(value)
    ? `[${value.map(jcs).join(",")}]`
    : typeof value === "object" && value !== null
      ? `{${Object.keys(value)
          .sort()
          .map((key) => `${JSON.stringify(key)}:${jcs((value as Record<string, unknown>)[key])}`)
          .join(",")}}`
      : JSON.stringify(value);

function verifiedWithStandardLibrary(document: Record<string, unknown>, jwks: { keys: Jwk[] }): boolean {
  const { signature, ...body } = document;
  const jwk = jwks.keys.find((k) => k.kid === body.kid);
  if (!jwk || typeof signature !== "string") return false;
  const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
  return verify(null, Buffer.from(jcs(body)), key, Buffer.from(signature, "base64url"));
}

/** Every way to change one leaf of the document (the signature aside): each must break it. */
function tampered(document: Record<string, unknown>): [string, Record<string, unknown>][] {
  const changes: [string, Record<string, unknown>][] = [];
  const walk = (value: unknown, path: string[]) => {
    if (path[0] === "signature") return;
    if (typeof value === "object" && value !== null) {
      for (const [key, inner] of Object.entries(value)) walk(inner, [...path, key]);
      return;
    }
    const copy = structuredClone(document);
    let parent = copy as Record<string, unknown>;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
    const last = path.at(-1)!;
    const old = parent[last];
    parent[last] =
      typeof old === "boolean" ? !old : typeof old === "number" ? old + 1 : old === null ? "x" : `${String(old)}x`;
    changes.push([path.join("."), copy]);
  };
  walk(document, []);
  return changes;
}

const pem = () => generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();

describe(`receipts and certificates anyone can verify, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("GET /keys serves the JWKS; a receipt, its export and an erasure certificate verify with it alone, and any changed field fails", async (ctx) => {
    const t = await testApp(ctx);
    const keys = await request(t.app).get("/privacy/keys").expect(200);
    assert.match(keys.get("cache-control") ?? "", /^public, max-age=\d+$/);
    const jwks = keys.body as { keys: Jwk[] };
    assert.equal(jwks.keys.length, 1);
    assert.deepEqual(Object.keys(jwks.keys[0]!).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
    assert.deepEqual(
      { ...jwks.keys[0], x: undefined, kid: undefined },
      { kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", x: undefined, kid: undefined },
    );

    const receipt = (await grant(t.app, eu("anyone-1"), "personalization").expect(200)).body;
    assert.equal(receipt.version, "consentgate-receipt/2");
    assert.equal(receipt.kid, jwks.keys[0]!.kid);
    assert.equal(verifiedByAnyone(receipt, jwks), true);
    assert.equal(verifiedWithStandardLibrary(receipt, jwks), true, "and with the standard library alone");
    const receiptChanges = tampered(receipt);
    assert.ok(receiptChanges.length >= 10);
    for (const [field, changed] of receiptChanges) assert.equal(verifiedByAnyone(changed, jwks), false, field);

    const exported = (await request(t.app).get("/privacy/export").set(eu("anyone-1")).expect(200)).body;
    assert.deepEqual(exported.consents.history, [receipt], "the export rebuilds the receipt as issued");

    const certificate = (await request(t.app).delete("/privacy/data").set(eu("anyone-1")).expect(200)).body;
    assert.equal(certificate.version, "consentgate-erasure/2");
    assert.equal(certificate.kid, jwks.keys[0]!.kid);
    assert.equal(verifiedByAnyone(certificate, jwks), true);
    assert.equal(verifiedWithStandardLibrary(certificate, jwks), true, "and with the standard library alone");
    for (const [field, changed] of tampered(certificate))
      assert.equal(verifiedWithStandardLibrary(changed, jwks), false, field);
    const certificateChanges = tampered(certificate);
    assert.ok(certificateChanges.some(([field]) => field === "erased.tables.consentEvents"));
    for (const [field, changed] of certificateChanges) assert.equal(verifiedByAnyone(changed, jwks), false, field);
  });

  test("a receipt signed with the secret's HMAC before Ed25519 is exported as issued and still verifies on the server", async (ctx) => {
    const db = await persistentDatabase(ctx);
    const at = new Date("2026-01-05T10:00:00.000Z");
    const issued = hmacReceipt("old-1", at);
    // Stored as the gate stored receipts then: no kid.
    const store = await testStore(ctx, db);
    await createConsentStore(store.connection).save(
      {
        id: issued.id,
        subjectId: "old-1",
        purpose: "personalization",
        granted: true,
        overrideGpc: false,
        gpc: false,
        region: "EU",
        policyVersion: "test-1",
        actorId: "old-1",
        signature: issued.signature,
        at,
      },
      { purgeInteractions: false },
    );
    await store.close();

    const t = await testApp(ctx, { database: db.option });
    const exported = (await request(t.app).get("/privacy/export").set(eu("old-1")).expect(200)).body;
    assert.deepEqual(exported.consents.history, [issued]);
    assert.equal(verifyReceipt(testSigner(), exported.consents.history[0]), true, "the server verifies it");
    assert.equal(verifyReceipt(testSigner(), { ...issued, granted: false }), false);
    const jwks = (await request(t.app).get("/privacy/keys").expect(200)).body;
    assert.equal(verifiedByAnyone(issued as never, jwks), false, "it names no key: only the secret checks it");
  });

  test("rotation: a receipt signed with a key that is no longer first still verifies, and exports rebuild it", async (ctx) => {
    const db = await persistentDatabase(ctx);
    const older = pem();
    const newer = pem();
    const first = await testApp(ctx, { database: db.option, signingKeys: [older] });
    const before = (await grant(first.app, eu("rotate-1"), "personalization").expect(200)).body;
    const olderJwks = (await request(first.app).get("/privacy/keys").expect(200)).body as { keys: Jwk[] };
    assert.equal(before.kid, olderJwks.keys[0]!.kid);
    await first.gate.close();

    const rotated = await testApp(ctx, { database: db.option, signingKeys: [newer, older] });
    const jwks = (await request(rotated.app).get("/privacy/keys").expect(200)).body as { keys: Jwk[] };
    assert.equal(jwks.keys.length, 2, "the new key and the old one, not the secret's own");
    assert.equal(jwks.keys[1]!.kid, before.kid);
    const after = (await grant(rotated.app, eu("rotate-1"), "advertising").expect(200)).body;
    assert.equal(after.kid, jwks.keys[0]!.kid, "the first key signs");
    assert.notEqual(after.kid, before.kid);
    for (const receipt of [before, after]) assert.equal(verifiedByAnyone(receipt, jwks), true, receipt.purpose);
    const exported = (await request(rotated.app).get("/privacy/export").set(eu("rotate-1")).expect(200)).body;
    assert.deepEqual(exported.consents.history, [before, after]);
    await rotated.gate.close();

    const dropped = await testApp(ctx, { database: db.option, signingKeys: [newer] });
    const without = (await request(dropped.app).get("/privacy/keys").expect(200)).body as { keys: Jwk[] };
    assert.equal(verifiedByAnyone(before, without), false, "a key taken out of the list no longer verifies");
    assert.equal(verifiedByAnyone(after, without), true);
  });
});
