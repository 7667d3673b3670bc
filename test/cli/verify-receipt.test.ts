/**
 * `consentgate verify-receipt`: a saved receipt or certificate checked
 * against a JWKS (as anyone can), the app's signing keys file, or the app's
 * secret (which also checks the HMAC receipts issued before Ed25519).
 * Exit 0 genuine, 1 not, 2 wrong usage.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { HMAC_RECEIPT_VERSION } from "../../src/rights/receipts.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { TEST_SECRET, testApp } from "../support/app.ts";
import { cliHere } from "../support/child.ts";
import { scratchFolder } from "../support/database.ts";
import { suiteScope } from "../support/scope.ts";
import { eu, grant } from "../support/subjects.ts";

describe("consentgate verify-receipt", () => {
  const suite = suiteScope();
  const files: Record<string, string> = {};
  let receipt: Record<string, unknown>;
  let kid: string;
  const saved = process.env.CONSENTGATE_SECRET;
  const savedKeys = process.env.CONSENTGATE_SIGNING_KEYS;
  /** A receipt from an app whose signingKeys option lists its own key (then "secret", in the app's keys file). */
  let configuredReceipt: Record<string, unknown>;
  before(async () => {
    const t = await testApp(suite);
    const folder = await scratchFolder(suite);
    const save = async (name: string, value: unknown) => {
      files[name] = path.join(folder, `${name}.json`);
      await writeFile(files[name], JSON.stringify(value, null, 2));
    };
    receipt = (await grant(t.app, eu("cli-receipt"), "personalization").expect(200)).body;
    kid = String(receipt.kid);
    await save("receipt", receipt);
    await save("tampered", { ...receipt, granted: false });
    await save("jwks", (await request(t.app).get("/privacy/keys").expect(200)).body);
    await save("certificate", (await request(t.app).delete("/privacy/data").set(eu("cli-receipt")).expect(200)).body);
    const old = {
      version: HMAC_RECEIPT_VERSION,
      id: "00000000-0000-4000-8000-000000000001",
      subject: "old",
      purpose: "personalization",
      granted: true,
      policyVersion: "test-1",
      region: "EU",
      at: "2026-01-05T10:00:00.000Z",
      gpc: false,
      overrideGpc: false,
    };
    await save("hmac", { ...old, signature: createKeyring(TEST_SECRET).sign(old) });
    await save("other", { format: "consentgate-export/1" });
    const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const configured = await testApp(suite, { signingKeys: [pem] });
    configuredReceipt = (await grant(configured.app, eu("cli-keys"), "personalization").expect(200)).body;
    await save("configured-receipt", configuredReceipt);
    await save("app-keys", [pem, "secret"]);
    await save("app-keys-without-secret", [pem]);
    await save("keys-secret-twice", ["secret", pem, "secret"]);
    await save("keys-not-a-list", { keys: [pem] });
    await save("keys-bad-entry", [pem, "not a key"]);
    files.broken = path.join(folder, "broken.json");
    await writeFile(files.broken, "{ not json");
    delete process.env.CONSENTGATE_SECRET;
    delete process.env.CONSENTGATE_SIGNING_KEYS;
  });
  after(() => {
    if (saved === undefined) delete process.env.CONSENTGATE_SECRET;
    else process.env.CONSENTGATE_SECRET = saved;
    if (savedKeys === undefined) delete process.env.CONSENTGATE_SIGNING_KEYS;
    else process.env.CONSENTGATE_SIGNING_KEYS = savedKeys;
  });

  test("with --keys: a genuine receipt and certificate exit 0, naming the key", async () => {
    const valid = await cliHere("verify-receipt", files.receipt!, "--keys", files.jwks!);
    assert.equal(valid.code, 0, valid.err.join("\n"));
    assert.deepEqual(valid.out, [`${files.receipt}: the receipt ${receipt.id} is genuine (Ed25519, key ${kid}).`]);
    const certificate = await cliHere("verify-receipt", files.certificate!, "--keys", files.jwks!);
    assert.equal(certificate.code, 0);
    assert.match(certificate.out[0] ?? "", /the erasure certificate [0-9a-f-]{36} is genuine \(Ed25519, key /);
  });

  test("with --keys: a changed receipt exits 1 saying the signature does not match", async () => {
    const { code, out } = await cliHere("verify-receipt", files.tampered!, "--keys", files.jwks!);
    assert.equal(code, 1);
    assert.deepEqual(out, [`${files.tampered}: NOT valid: the signature does not match.`]);
  });

  test("--json prints the verdict as one JSON object", async () => {
    const valid = await cliHere("verify-receipt", files.receipt!, "--keys", files.jwks!, "--json");
    assert.equal(valid.code, 0);
    assert.deepEqual(JSON.parse(valid.out.join("\n")), {
      valid: true,
      kind: "receipt",
      id: receipt.id,
      kid,
      algorithm: "EdDSA",
    });
    const invalid = await cliHere("verify-receipt", files.tampered!, "--keys", files.jwks!, "--json");
    assert.equal(invalid.code, 1);
    assert.deepEqual(JSON.parse(invalid.out.join("\n")), {
      valid: false,
      kind: "receipt",
      id: receipt.id,
      kid,
      algorithm: "EdDSA",
      reason: "the signature does not match",
    });
    const certificate = JSON.parse(
      (await cliHere("verify-receipt", files.certificate!, "--keys", files.jwks!, "--json")).out[0]!,
    );
    assert.equal(certificate.kind, "erasure-certificate");
    assert.equal(certificate.valid, true);
  });

  test("an HMAC receipt from before Ed25519: genuine with the app's secret, unverifiable with a JWKS alone", async () => {
    const withJwks = await cliHere("verify-receipt", files.hmac!, "--keys", files.jwks!, "--json");
    assert.equal(withJwks.code, 1);
    assert.equal(JSON.parse(withJwks.out[0]!).reason, "it has no kid: an HMAC signature only the server can check");
    process.env.CONSENTGATE_SECRET = TEST_SECRET;
    try {
      const old = await cliHere("verify-receipt", files.hmac!);
      assert.equal(old.code, 0, old.out.join("\n"));
      assert.match(old.out[0] ?? "", /is genuine \(HMAC of the app's secret\)\.$/);
      assert.equal((await cliHere("verify-receipt", files.receipt!)).code, 0, "and the secret's Ed25519 key");
      assert.equal((await cliHere("verify-receipt", files.tampered!)).code, 1);
      process.env.CONSENTGATE_SECRET = `${TEST_SECRET}-another`;
      assert.equal((await cliHere("verify-receipt", files.hmac!)).code, 1, "another secret");
    } finally {
      delete process.env.CONSENTGATE_SECRET;
    }
  });

  test("the app's signing keys (--signing-keys or CONSENTGATE_SIGNING_KEYS): its receipts are genuine, not only the secret's", async () => {
    process.env.CONSENTGATE_SECRET = TEST_SECRET;
    try {
      const secretOnly = await cliHere("verify-receipt", files["configured-receipt"]!, "--json");
      assert.equal(secretOnly.code, 1, "the secret's key is not the key an app with signingKeys signs with");
      const withKeys = await cliHere(
        "verify-receipt",
        files["configured-receipt"]!,
        "--signing-keys",
        files["app-keys"]!,
      );
      assert.equal(withKeys.code, 0, withKeys.out.join("\n"));
      assert.match(withKeys.out[0] ?? "", new RegExp(`is genuine \\(Ed25519, key ${configuredReceipt.kid}\\)\\.$`));
      for (const file of [files.receipt!, files.hmac!])
        assert.equal((await cliHere("verify-receipt", file, "--signing-keys", files["app-keys"]!)).code, 0, file);
      assert.equal((await cliHere("verify-receipt", files.tampered!, "--signing-keys", files["app-keys"]!)).code, 1);
    } finally {
      delete process.env.CONSENTGATE_SECRET;
    }
    process.env.CONSENTGATE_SIGNING_KEYS = files["app-keys-without-secret"]!;
    try {
      const fromEnv = await cliHere("verify-receipt", files["configured-receipt"]!);
      assert.equal(fromEnv.code, 0, "no secret needed for the listed keys");
      const secretSigned = await cliHere("verify-receipt", files.receipt!, "--json");
      assert.equal(secretSigned.code, 1, "the secret's key is not in the list");
      assert.match(JSON.parse(secretSigned.out[0]!).reason, /^no key .* among the published keys$/);
    } finally {
      delete process.env.CONSENTGATE_SIGNING_KEYS;
    }
  });

  test("a bad signing keys file is wrong usage (exit 2), naming the file and what is wrong", async () => {
    const cases: [string[], RegExp][] = [
      [["--signing-keys", files.broken!], /^--signing-keys .*broken\.json: cannot read it as JSON/],
      [["--signing-keys", files["keys-not-a-list"]!], /: not a list/],
      [["--signing-keys", files["keys-bad-entry"]!], /: signingKeys\.1: not a PEM private key/],
      [["--signing-keys", files["keys-secret-twice"]!], /"secret" is listed more than once/],
      [["--signing-keys", files["app-keys"]!], /signingKeys\.1: "secret" names the secret's key, and no secret is set/],
      [["--signing-keys", files["app-keys"]!, "--keys", files.jwks!], /not both/],
    ];
    for (const [argv, message] of cases) {
      const run = await cliHere("verify-receipt", files.receipt!, ...argv);
      assert.equal(run.code, 2, argv.join(" "));
      assert.match(run.err[0] ?? "", message);
    }
    process.env.CONSENTGATE_SIGNING_KEYS = files["keys-not-a-list"]!;
    try {
      const run = await cliHere("verify-receipt", files.receipt!);
      assert.equal(run.code, 2);
      assert.match(run.err[0] ?? "", /^CONSENTGATE_SIGNING_KEYS \(.*\): not a list/);
    } finally {
      delete process.env.CONSENTGATE_SIGNING_KEYS;
    }
  });

  test("what is not a receipt, or not JSON, exits 1; no file, or no keys and no secret, is wrong usage", async () => {
    const other = await cliHere("verify-receipt", files.other!, "--keys", files.jwks!);
    assert.equal(other.code, 1);
    assert.match(other.out[0] ?? "", /NOT valid: not a Consentgate receipt or erasure certificate \(version null\)\.$/);
    const broken = await cliHere("verify-receipt", files.broken!, "--keys", files.jwks!);
    assert.equal(broken.code, 1);
    assert.match(broken.out[0] ?? "", /NOT valid: cannot read it as JSON/);
    const none = await cliHere("verify-receipt");
    assert.equal(none.code, 2);
    assert.match(none.err.join("\n"), /name one file/);
    const noKeys = await cliHere("verify-receipt", files.receipt!);
    assert.equal(noKeys.code, 2);
    assert.match(noKeys.err.join("\n"), /pass --keys .* or set CONSENTGATE_SECRET/);
    const badKeys = await cliHere("verify-receipt", files.receipt!, "--keys", files.receipt!);
    assert.equal(badKeys.code, 2);
    assert.match(badKeys.err.join("\n"), /not a JWKS/);
  });
});
