/**
 * Edges of the minimizer that a mutation run found untested: each test here
 * fails when one comparison, bound or branch of src/minimize/ is changed.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, test } from "node:test";
import ngeohash from "ngeohash";
import { isConsentgateError } from "../../src/errors.ts";
import { compileMinimizer, type Minimizer, PSEUDONYM_PREFIX } from "../../src/minimize/index.ts";
import { invalidBody } from "../../src/minimize/invalid.ts";
import type { FieldRule } from "../../src/policy/types.ts";

const KEY = "mutants-key-mutants-key-mutants-key";

const minimizer = (fields: Record<string, FieldRule>, limits?: { maxDepth?: number; maxKeys?: number }): Minimizer =>
  compileMinimizer(fields, { hashKey: KEY, limits });

const one = (rule: FieldRule, value: unknown): unknown => minimizer({ f: rule })({ f: value }).f;

const refused = (run: () => unknown, pattern: RegExp) =>
  assert.throws(run, (e) => isConsentgateError(e, "invalid_body") && pattern.test(e.message));

describe("maxLength at surrogate boundaries", () => {
  const cut = (value: string, length: number) => one({ kind: "maxLength", length }, value);

  test("a pair is kept whole from its first (0xd800) to its last (0xdbff 0xdfff) code units", () => {
    assert.equal(cut("\ud800\udc00x", 1), "\ud800\udc00");
    assert.equal(cut("\udbff\udfffx", 1), "\udbff\udfff");
  });

  test("a low surrogate after anything but a high one is a code point of its own", () => {
    assert.equal(cut("a\udc00b", 1), "a");
    assert.equal(cut("\ue000\udc00b", 1), "\ue000");
    assert.equal(cut("\udc00\udc00b", 1), "\udc00");
  });

  test("a high surrogate before anything but a low one is a code point of its own", () => {
    assert.equal(cut("\ud800\ue000b", 1), "\ud800");
    assert.equal(cut("\ud800\udbffb", 1), "\ud800");
  });
});

describe("geohash ranges and shapes", () => {
  const hash = (value: unknown) => one({ kind: "geohash", precision: 5 }, value);

  test("the poles and the antimeridian are in range; one step beyond is not", () => {
    assert.equal(hash({ lat: -90, lon: 0 }), ngeohash.encode(-90, 0, 5));
    assert.equal(hash({ lat: 90, lon: 0 }), ngeohash.encode(90, 0, 5));
    assert.equal(hash({ lat: 0, lon: 180 }), ngeohash.encode(0, 180, 5));
    assert.equal(hash({ lat: 0, lon: -180 }), ngeohash.encode(0, -180, 5));
    for (const value of [
      { lat: -90.5, lon: 0 },
      { lat: 90.5, lon: 0 },
      { lat: 0, lon: -180.5 },
      { lat: 0, lon: 180.5 },
    ]) {
      refused(() => hash(value), /expected a \{lat, lon\}/);
    }
  });

  test("lat and lon must both be numbers: numeric strings are not coordinates", () => {
    for (const value of [
      { lat: "48.8", lon: "2.2" },
      { lat: 48.8, lon: "2.2" },
      { lat: "48.8", lon: 2.2 },
      { lat: 48.8 },
    ]) {
      refused(() => hash(value), /expected a \{lat, lon\}/);
    }
  });

  test("only plain objects are coordinates (record() may be handed class instances or arrays)", () => {
    class Point {
      lat = 48.8;
      lon = 2.2;
    }
    refused(() => hash(new Point()), /got an object/);
    refused(() => hash(Object.assign([], { lat: 48.8, lon: 2.2 })), /got an array/);
  });
});

describe("truncate: what counts as a timestamp", () => {
  const hour = (value: unknown) => one({ kind: "truncate", unit: "hour" }, value);

  test("months of 30 days end on the 30th", () => {
    for (const month of ["04", "06", "09", "11"]) {
      assert.equal(hour(`2026-${month}-30T10:15:00Z`), `2026-${month}-30T10:00:00.000Z`);
      refused(() => hour(`2026-${month}-31T10:15:00Z`), /expected an ISO-8601 date/);
    }
    assert.equal(hour("2026-12-31T10:15:00Z"), "2026-12-31T10:00:00.000Z");
  });

  test("the largest offsets are +23:59 and -23:59", () => {
    assert.equal(hour("2026-05-02T23:30:00+23:00"), "2026-05-02T00:00:00.000Z");
    assert.equal(hour("2026-05-02T00:30:00+00:59"), "2026-05-01T23:00:00.000Z");
    assert.equal(hour("2026-05-01T00:00:00-23:59"), "2026-05-01T23:00:00.000Z");
    refused(() => hour("2026-05-02T00:30:00+24:00"), /expected an ISO-8601 date/);
    refused(() => hour("2026-05-02T00:30:00+00:60"), /expected an ISO-8601 date/);
  });

  test("the whole string must be the timestamp", () => {
    for (const value of ["x2026-05-01T10:00:00Z", " 2026-05-01", "2026-05-01T10:00:00Zx", "on 2026-05-01"]) {
      refused(() => hour(value), /expected an ISO-8601 date/);
    }
  });

  test("only strings and numbers are read: an array holding a timestamp is not one", () => {
    refused(() => hour(["2026-05-01T10:00:00Z"]), /got an array/);
    refused(() => hour(true), /got a boolean/);
  });
});

describe("ip: the IPv4-compatible form", () => {
  const ip = (value: unknown) => one({ kind: "ip", bits: 24 }, value);

  test("::a.b.c.d is the IPv4 address, masked by the IPv4 rule", () => {
    // Written in hex: ipaddr.js reads the dotted form "::203.0.113.77" as IPv4-mapped.
    assert.equal(ip("::cb00:714d"), "203.0.113.0");
    assert.equal(ip("::102:304"), "1.2.3.0");
    // The unspecified and loopback addresses are not IPv4 ones.
    assert.equal(ip("::"), "::");
    assert.equal(ip("::1"), "::");
  });

  test("only strings are addresses", () => {
    refused(() => ip(["203.0.113.77"]), /expected an IPv4 or IPv6 address, got an array/);
  });
});

describe("keep and hash", () => {
  test("keep copies objects with their keys in the order the client sent", () => {
    const kept = one({ kind: "keep" }, { b: 1, a: { d: 2, c: 3 } });
    assert.equal(JSON.stringify(kept), '{"b":1,"a":{"d":2,"c":3}}');
  });

  test("keep counts the depth of nested arrays", () => {
    const keep = minimizer({ f: { kind: "keep" } }, { maxDepth: 4 });
    assert.deepEqual(keep({ f: [[[1]]] }), { f: [[[1]]] });
    refused(() => keep({ f: [[[[1]]]] }), /nests deeper than 4 levels/);
  });

  test("hash: strings as they are, numbers and booleans as String() writes them (non-finite ones too)", () => {
    const pseudonym = (text: string) =>
      PSEUDONYM_PREFIX + createHmac("sha256", Buffer.from(KEY, "utf8")).update(text, "utf8").digest("hex");
    const hash = (value: unknown) => one({ kind: "hash" }, value);
    assert.equal(hash("alice@example.com"), pseudonym("alice@example.com"));
    assert.equal(hash(42), pseudonym("42"));
    assert.equal(hash(true), pseudonym("true"));
    assert.equal(hash(Number.POSITIVE_INFINITY), pseudonym("Infinity"));
    assert.equal(hash(Number.NaN), pseudonym("NaN"));
    assert.equal(hash({ b: 1, a: [true] }), pseudonym('{"a":[true],"b":1}'));
  });

  test("a string key and the same bytes as a Buffer make the same pseudonyms", () => {
    const fromBuffer = compileMinimizer({ f: { kind: "hash" } }, { hashKey: Buffer.from(KEY, "utf8") });
    assert.deepEqual(fromBuffer({ f: "x" }), minimizer({ f: { kind: "hash" } })({ f: "x" }));
  });

  test("an empty key is refused", () => {
    for (const hashKey of ["", Buffer.alloc(0)]) {
      assert.throws(
        () => compileMinimizer({ f: { kind: "hash" } }, { hashKey }),
        (e) => isConsentgateError(e, "invalid_option") && e.message === "hashKey must not be empty",
      );
    }
  });
});

describe("limits and rule problems", () => {
  test("a limit of 1 is the smallest allowed", () => {
    const tiny = minimizer({ f: { kind: "keep" } }, { maxDepth: 1, maxKeys: 1 });
    assert.deepEqual(tiny({ f: 1 }), { f: 1 });
    for (const limits of [{ maxDepth: 0 }, { maxKeys: 0 }, { maxDepth: 1.5 }]) {
      const name = Object.keys(limits)[0];
      assert.throws(
        () => minimizer({ f: { kind: "keep" } }, limits),
        (e) => isConsentgateError(e, "invalid_option") && e.message === `limits.${name} must be a positive integer`,
      );
    }
  });

  test("every problem of the field rules is listed, separated by semicolons", () => {
    assert.throws(
      () => minimizer({ a: { kind: "bucket", size: 0 }, b: { kind: "geohash", precision: 13 } }),
      (e) =>
        isConsentgateError(e, "policy_invalid") &&
        e.message ===
          'field rules: field "a": bucket must be a positive number; field "b": geohash precision must be an integer from 1 to 12' &&
        (e.details.problems as string[]).length === 2,
    );
  });
});

describe("invalidBody", () => {
  test("names the field and the kind of value, never the value", () => {
    const message = (value: unknown) => invalidBody("f", "a string", value).message;
    assert.equal(message(null), "f: expected a string, got null");
    assert.equal(message([1]), "f: expected a string, got an array");
    assert.equal(message({ secret: 1 }), "f: expected a string, got an object");
    assert.equal(message("secret"), "f: expected a string, got a string");
    assert.equal(message(7), "f: expected a string, got a number");
    assert.equal(message(Number.NaN), "f: expected a string, got NaN");
    assert.equal(message(Number.NEGATIVE_INFINITY), "f: expected a string, got -Infinity");
    assert.equal(message(false), "f: expected a string, got a boolean");
    assert.equal(message(undefined), "f: expected a string, got undefined");
    assert.equal(message(1n), "f: expected a string, got bigint");
    const error = invalidBody("device.os", "a string", 1);
    assert.ok(isConsentgateError(error, "invalid_body"));
    assert.deepEqual(error.details, { field: "device.os" });
  });
});
