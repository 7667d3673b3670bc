import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { unstorableJson, unstorableText } from "../../src/store/storable.ts";

describe("text PostgreSQL cannot store", () => {
  const json = (value: unknown) => unstorableJson(JSON.stringify(value));

  test("NUL and lone surrogates anywhere in a JSON value are caught", () => {
    for (const bad of ["\u0000", "a\u0000", "\ud800", "x\udbffy", "\udc00", "\udfff!", "\udc00\ud800"]) {
      assert.equal(json({ a: bad }), true, JSON.stringify(bad));
      assert.equal(json([1, { deep: [bad] }]), true, JSON.stringify(bad));
      assert.equal(json({ [bad]: 1 }), true, `key ${JSON.stringify(bad)}`);
      assert.equal(unstorableText(bad), true, JSON.stringify(bad));
    }
  });

  test("pairs, other controls and escaped backslashes before look-alike text are fine", () => {
    for (const good of [
      "",
      "plain",
      "\ud83c\udfb5",
      "\u0001\u001f",
      "\\u0000",
      "\\\\u0000",
      "\\ud800",
      "a\\\\\\ud83d\\ude00",
      "é中",
    ]) {
      assert.equal(json({ a: good }), false, JSON.stringify(good));
      assert.equal(unstorableText(good), false, JSON.stringify(good));
    }
  });

  test("a real escape after an escaped backslash is still caught", () => {
    assert.equal(json({ a: "\\\u0000" }), true);
    assert.equal(json({ a: "\\\\\ud800" }), true);
  });
});
