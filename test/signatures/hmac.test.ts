/**
 * Signatures verify only in the exact form they were issued in: the 64
 * lower-case hex digits `sign` gives. Node's hex decoder would accept other
 * texts for the same bytes (upper case, a trailing odd digit, anything after
 * the first non-hex character), so comparing decoded bytes accepted them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { verifyReceipt, type Receipt } from "../../src/rights/receipts.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { TEST_SECRET, testApp, testSigner } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { eu, grant } from "../support/subjects.ts";

const keyring = createKeyring(TEST_SECRET);

/** Texts that decode to the signature's bytes (or a prefix of them) but are not the signature. */
const variants = (signature: string): [string, string][] => [
  ["with a hex digit appended", `${signature}0`],
  ["with a non-hex character appended", `${signature}z`],
  ["upper-cased", signature.toUpperCase()],
  ["truncated by one digit", signature.slice(0, -1)],
  ["truncated to its first half", signature.slice(0, 32)],
  ["with a trailing newline", `${signature}\n`],
  ["empty", ""],
];

describe("keyring.verify", () => {
  const record = { purpose: "personalization", granted: true };
  const signature = keyring.sign(record);

  test("accepts the signature exactly as sign made it", () => {
    assert.match(signature, /^[0-9a-f]{64}$/);
    assert.equal(keyring.verify(record, signature), true);
  });

  for (const [name, text] of variants(signature)) {
    test(`refuses the signature ${name}`, () => {
      assert.equal(keyring.verify(record, text), false);
    });
  }

  test("refuses what is not a string", () => {
    for (const value of [undefined, null, 42, Buffer.from(signature, "hex"), [signature]]) {
      assert.equal(keyring.verify(record, value as unknown as string), false, String(value));
    }
  });
});

describe(`receipts from PUT /consents/:purpose, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("a receipt verifies as issued, and no other spelling of its signature does", async (ctx) => {
    const t = await testApp(ctx);
    const receipt: Receipt = (await grant(t.app, eu("sig-1"), "personalization").expect(200)).body;
    assert.equal(verifyReceipt(testSigner(), receipt), true);
    for (const [name, text] of variants(receipt.signature)) {
      assert.equal(verifyReceipt(testSigner(), { ...receipt, signature: text }), false, name);
    }
  });
});
