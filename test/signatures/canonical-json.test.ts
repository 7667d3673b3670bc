/**
 * Canonical JSON, the text every signature and log hash is computed over:
 * one record, one text, whatever order its keys were built in.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { canonicalJson } from "../../src/signatures/canonical-json.ts";

describe("canonicalJson", () => {
  test("scalars are written as JSON writes them", () => {
    assert.equal(canonicalJson(null), "null");
    assert.equal(canonicalJson(true), "true");
    assert.equal(canonicalJson(false), "false");
    assert.equal(canonicalJson(0), "0");
    assert.equal(canonicalJson(-1.5), "-1.5");
    assert.equal(canonicalJson('a"b\n'), '"a\\"b\\n"');
    assert.equal(canonicalJson(""), '""');
  });

  test("undefined alone is null; big integers are their digits", () => {
    assert.equal(canonicalJson(undefined), "null");
    assert.equal(canonicalJson(12345678901234567890n), "12345678901234567890");
  });

  test("non-finite numbers are refused rather than written as null", () => {
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      assert.throws(
        () => canonicalJson(n),
        (e) => e instanceof TypeError && /non-finite/.test(e.message),
      );
      assert.throws(() => canonicalJson({ a: [n] }), TypeError);
    }
  });

  test("object keys are sorted at every level, with no whitespace", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 4, e: 5 }] } }),
      '{"a":{"c":[3,{"e":5,"f":4}],"d":2},"b":1}',
    );
    assert.equal(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
    assert.equal(canonicalJson({}), "{}");
    assert.equal(canonicalJson([]), "[]");
  });

  test("keys are sorted by code unit and written as JSON strings", () => {
    assert.equal(canonicalJson({ B: 1, a: 2, "": 3, 'q"': 4 }), '{"":3,"B":1,"a":2,"q\\"":4}');
  });

  test("undefined members are left out of objects and are null in arrays", () => {
    assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
    assert.equal(canonicalJson({ a: undefined }), "{}");
    assert.equal(canonicalJson([undefined, 1]), "[null,1]");
    assert.equal(canonicalJson({ a: null }), '{"a":null}');
  });

  test("dates are their ISO text, at any depth", () => {
    const at = new Date("2026-05-01T12:34:56.789Z");
    assert.equal(canonicalJson(at), '"2026-05-01T12:34:56.789Z"');
    assert.equal(
      canonicalJson({ at, list: [at] }),
      '{"at":"2026-05-01T12:34:56.789Z","list":["2026-05-01T12:34:56.789Z"]}',
    );
  });
});
