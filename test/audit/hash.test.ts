/** The two HMAC pads the append statement hashes with give exactly HMAC-SHA256 (RFC 2104), whatever the key's length. */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { test } from "node:test";
import { hmacPads } from "../../src/audit/hash.ts";

const sha256 = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();

test("sha256(outer || sha256(inner || m)) is HMAC-SHA256(key, m), for keys shorter and longer than a block", () => {
  const message = Buffer.from("0".repeat(64) + '{"at":"2026-01-01T00:00:00.000Z","seq":1}', "utf8");
  for (const length of [1, 32, 64, 65, 100]) {
    const key = Buffer.alloc(length, 7 + length);
    const { inner, outer } = hmacPads(key);
    assert.equal(inner.length, 128, "one 64-byte block, hex");
    const viaPads = sha256(Buffer.from(outer, "hex"), sha256(Buffer.from(inner, "hex"), message)).toString("hex");
    assert.equal(viaPads, createHmac("sha256", key).update(message).digest("hex"), `a ${length}-byte key`);
  }
});
