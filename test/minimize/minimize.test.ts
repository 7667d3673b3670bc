import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, test } from "node:test";
import ngeohash from "ngeohash";
import { isConsentgateError } from "../../src/errors.ts";
import { compileMinimizer, DEFAULT_BODY_LIMITS, type Minimizer, PSEUDONYM_PREFIX } from "../../src/minimize/index.ts";
import type { FieldRule } from "../../src/policy/types.ts";

const KEY = "k".repeat(32);

const minimizer = (fields: Record<string, FieldRule>, limits?: { maxDepth?: number; maxKeys?: number }): Minimizer =>
  compileMinimizer(fields, { hashKey: KEY, limits });

const one = (rule: FieldRule, value: unknown): unknown => minimizer({ f: rule })({ f: value }).f;

/** Asserts an invalid_body error naming `field` whose message matches `pattern`. */
function throwsInvalid(run: () => unknown, field: string | undefined, pattern: RegExp): void {
  assert.throws(run, (e) => {
    assert.ok(isConsentgateError(e, "invalid_body"), String(e));
    assert.equal(e.details.field, field);
    assert.match(e.message, pattern);
    return true;
  });
}

const throwsPolicy = (run: () => unknown, pattern: RegExp) =>
  assert.throws(run, (e) => isConsentgateError(e, "policy_invalid") && pattern.test(e.message));

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

function objectsIn(value: unknown, found = new Set<object>()): Set<object> {
  if (typeof value === "object" && value !== null) {
    found.add(value);
    for (const item of Object.values(value)) objectsIn(item, found);
  }
  return found;
}

const nested = (levels: number): Record<string, unknown> => {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < levels; i++) value = { child: value };
  return value;
};

const personalization: Record<string, FieldRule> = {
  itemId: { kind: "keep" },
  action: { kind: "keep" },
  durationMs: { kind: "bucket", size: 1000 },
  location: { kind: "geohash", precision: 5 },
  userAgent: { kind: "drop" },
};

describe("compileMinimizer: selection", () => {
  test("the shipped personalization purpose keeps, buckets and coarsens, and drops the rest", () => {
    const body = {
      itemId: "trk_1",
      action: "play",
      durationMs: 183_456,
      location: { lat: 52.52, lon: 13.405 },
      userAgent: "Firefox",
      email: "a@b.c",
    };
    assert.deepEqual(minimizer(personalization)(body), {
      itemId: "trk_1",
      action: "play",
      durationMs: 183_000,
      location: "u33dc",
    });
  });

  test("nested paths rebuild objects with only the listed descendants", () => {
    const minimize = minimizer({
      "device.os": { kind: "keep" },
      "context.geo.country": { kind: "keep" },
      "context.page": { kind: "maxLength", length: 3 },
    });
    const body = {
      device: { os: "ios", model: "x", serial: "123" },
      context: { geo: { country: "DE", city: "Berlin" }, page: "/home", ref: "q" },
      other: 1,
    };
    assert.deepEqual(minimize(body), { device: { os: "ios" }, context: { geo: { country: "DE" }, page: "/ho" } });
  });

  test("an object with none of its listed fields present is left out rather than stored empty", () => {
    const minimize = minimizer({ "device.os": { kind: "keep" }, itemId: { kind: "keep" } });
    assert.deepEqual(minimize({ device: { model: "x" }, itemId: "a" }), { itemId: "a" });
    assert.deepEqual(minimize({}), {});
  });

  test("null and undefined fields are omitted for every rule, including nested parents", () => {
    const rules: FieldRule[] = [
      { kind: "keep" },
      { kind: "hash" },
      { kind: "bucket", size: 10 },
      { kind: "geohash", precision: 5 },
      { kind: "truncate", unit: "day" },
      { kind: "ip", bits: 24 },
      { kind: "maxLength", length: 3 },
    ];
    for (const rule of rules) {
      assert.deepEqual(minimizer({ f: rule })({ f: null }), {}, rule.kind);
      assert.deepEqual(minimizer({ f: rule })({ f: undefined }), {}, rule.kind);
    }
    assert.deepEqual(minimizer({ "device.os": { kind: "keep" } })({ device: null }), {});
  });

  test("drop and unlisted fields are never read, not even for their type", () => {
    const minimize = minimizer({ "device.fingerprint": { kind: "drop" }, userAgent: { kind: "drop" } });
    assert.deepEqual(minimize({ device: "not an object", userAgent: { any: "thing" } }), {});
  });

  test("inherited properties are not fields", () => {
    const keep: FieldRule = { kind: "keep" };
    assert.deepEqual(minimizer({ toString: keep, hasOwnProperty: keep })({}), {});
  });

  test("a listed parent holding something other than an object is invalid", () => {
    throwsInvalid(
      () => minimizer({ "device.os": { kind: "keep" } })({ device: "iphone" }),
      "device",
      /^device: expected an object/,
    );
    throwsInvalid(
      () => minimizer({ "device.os": { kind: "keep" } })({ device: [{ os: "ios" }] }),
      "device",
      /expected an object/,
    );
  });

  test("a body with a null prototype is accepted", () => {
    const body = Object.assign(Object.create(null) as Record<string, unknown>, { itemId: "a" });
    assert.deepEqual(minimizer(personalization)(body), { itemId: "a" });
  });

  test("the body must be a JSON object", () => {
    const minimize = minimizer(personalization);
    for (const body of [null, undefined, [], [{ itemId: "a" }], "itemId", 42, true, new Date(), new Map()]) {
      throwsInvalid(() => minimize(body), undefined, /^body must be a JSON object$/);
    }
  });
});

describe("compileMinimizer: purity and safety", () => {
  const fields: Record<string, FieldRule> = {
    ...personalization,
    meta: { kind: "keep" },
    tags: { kind: "keep" },
    "device.os": { kind: "keep" },
    account: { kind: "hash" },
  };
  const body = () => ({
    itemId: "trk_1",
    durationMs: 1500,
    location: { lat: 1, lon: 2 },
    meta: { a: { b: [1, { c: 2 }] }, n: null },
    tags: ["x", { y: 1 }],
    device: { os: "ios", model: "x" },
    account: { id: 7 },
  });

  test("the input is not mutated", () => {
    const input = deepFreeze(body());
    const output = minimizer(fields)(input);
    assert.deepEqual(input, body());
    assert.deepEqual(output.meta, { a: { b: [1, { c: 2 }] }, n: null });
  });

  test("the output shares no object or array with the input", () => {
    const input = body();
    const output = minimizer(fields)(input);
    const inputObjects = objectsIn(input);
    for (const object of objectsIn(output)) assert.ok(!inputObjects.has(object));
    (output.meta as { a: { b: unknown[] } }).a.b.push("changed");
    assert.deepEqual(input.meta.a.b, [1, { c: 2 }]);
  });

  test("the output is made of ordinary objects that survive JSON", () => {
    const output = minimizer(fields)(body());
    for (const object of objectsIn(output)) {
      assert.ok([Object.prototype, Array.prototype].includes(Object.getPrototypeOf(object)));
    }
    assert.deepEqual(JSON.parse(JSON.stringify(output)), output);
  });

  test("__proto__, constructor and prototype keys neither pollute nor appear, at any depth", () => {
    const input: unknown = JSON.parse(
      '{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}, "itemId": "a",' +
        ' "meta": {"__proto__": {"polluted": 3}, "constructor": {"prototype": {"polluted": 4}}, "prototype": 1, "ok": {"__proto__": {"polluted": 5}, "x": 1}},' +
        ' "account": {"__proto__": {"polluted": 6}, "id": 7}}',
    );
    const output = minimizer(fields)(input);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(output), Object.prototype);
    assert.deepEqual(output, {
      itemId: "a",
      meta: { ok: { x: 1 } },
      account: minimizer({ account: { kind: "hash" } })({ account: { id: 7 } }).account,
    });
    assert.ok(!JSON.stringify(output).includes("polluted"));
    for (const object of objectsIn(output)) {
      for (const key of ["__proto__", "constructor", "prototype"]) assert.ok(!Object.hasOwn(object, key), key);
    }
  });

  test("kept values must be JSON data", () => {
    throwsInvalid(
      () => minimizer({ meta: { kind: "keep" } })({ meta: { at: new Date() } }),
      "meta",
      /expected JSON data, got an object/,
    );
    throwsInvalid(
      () => minimizer({ meta: { kind: "keep" } })({ meta: [() => 1] }),
      "meta",
      /expected JSON data, got function/,
    );
    throwsInvalid(() => minimizer({ meta: { kind: "hash" } })({ meta: [undefined] }), "meta", /expected JSON data/);
  });

  test("error messages name the field and never echo the value", () => {
    throwsInvalid(
      () => one({ kind: "ip", bits: 24 }, "secret-value"),
      "f",
      /^f: expected an IPv4 or IPv6 address, got a string$/,
    );
    throwsInvalid(
      () => minimizer({ "a.b": { kind: "bucket", size: 10 } })({ a: { b: "secret-value" } }),
      "a.b",
      /^a\.b: expected a finite number, got a string$/,
    );
  });
});

describe("compileMinimizer: rules", () => {
  test("keep copies primitives, arrays and objects", () => {
    assert.equal(one({ kind: "keep" }, "x"), "x");
    assert.equal(one({ kind: "keep" }, 0), 0);
    assert.equal(one({ kind: "keep" }, false), false);
    assert.deepEqual(one({ kind: "keep" }, [1, null, "a", [2]]), [1, null, "a", [2]]);
    assert.deepEqual(one({ kind: "keep" }, { a: { b: null, c: undefined } }), { a: { b: null } });
  });

  describe("hash", () => {
    const hmac = (text: string, key = KEY) => PSEUDONYM_PREFIX + createHmac("sha256", key).update(text).digest("hex");

    test("is a prefixed hex HMAC-SHA256 of the value's canonical text", () => {
      const hashed = one({ kind: "hash" }, "user-42");
      assert.match(String(hashed), /^hmac-sha256:[0-9a-f]{64}$/);
      assert.equal(hashed, hmac("user-42"));
      assert.equal(one({ kind: "hash" }, 42), hmac("42"));
      assert.equal(one({ kind: "hash" }, true), hmac("true"));
      assert.equal(one({ kind: "hash" }, { b: [1, { d: 1, c: 2 }], a: "x" }), hmac('{"a":"x","b":[1,{"c":2,"d":1}]}'));
    });

    test("is deterministic, whatever the key order of an object", () => {
      const a = minimizer({ f: { kind: "hash" } });
      const b = minimizer({ f: { kind: "hash" } });
      assert.equal(a({ f: "x" }).f, b({ f: "x" }).f);
      assert.equal(a({ f: { x: 1, y: 2 } }).f, a({ f: { y: 2, x: 1 } }).f);
    });

    test("depends on the key; a Buffer key with the same bytes is the same key", () => {
      const other = compileMinimizer({ f: { kind: "hash" } }, { hashKey: "o".repeat(32) })({ f: "x" }).f;
      assert.notEqual(one({ kind: "hash" }, "x"), other);
      assert.equal(
        compileMinimizer({ f: { kind: "hash" } }, { hashKey: Buffer.from(KEY) })({ f: "x" }).f,
        one({ kind: "hash" }, "x"),
      );
    });

    test("an empty key is refused", () => {
      assert.throws(
        () => compileMinimizer({}, { hashKey: "" }),
        (e) => isConsentgateError(e, "invalid_option"),
      );
      assert.throws(
        () => compileMinimizer({}, { hashKey: Buffer.alloc(0) }),
        (e) => isConsentgateError(e, "invalid_option"),
      );
    });
  });

  test("bucket rounds finite numbers down to a multiple of its size", () => {
    const bucket = (value: unknown, size = 1000) => one({ kind: "bucket", size }, value);
    assert.equal(bucket(183_456), 183_000);
    assert.equal(bucket(999), 0);
    assert.equal(bucket(1000), 1000);
    assert.equal(bucket(-1), -1000);
    assert.ok(Object.is(bucket(-0), 0));
    assert.equal(bucket(7.9, 0.5), 7.5);
    for (const value of ["1000", Number.NaN, Number.POSITIVE_INFINITY, true, [1000], { v: 1 }]) {
      throwsInvalid(() => bucket(value), "f", /expected a finite number/);
    }
  });

  describe("geohash", () => {
    const geohash = (value: unknown, precision = 5) => one({ kind: "geohash", precision }, value);

    test("encodes a {lat, lon} at the precision", () => {
      assert.equal(geohash({ lat: 52.52, lon: 13.405 }), ngeohash.encode(52.52, 13.405, 5));
      assert.equal(geohash({ lat: -33.8688, lon: 151.2093, accuracy: 3 }, 3), ngeohash.encode(-33.8688, 151.2093, 3));
      assert.equal(geohash({ lat: 90, lon: -180 }, 1), ngeohash.encode(90, -180, 1));
    });

    test("cuts a longer geohash string, keeps a shorter one, and lowers its case", () => {
      assert.equal(geohash("u33dc0cppjs7"), "u33dc");
      assert.equal(geohash("u33"), "u33");
      assert.equal(geohash("U33DC0"), "u33dc");
    });

    test("refuses anything else", () => {
      for (const value of [
        { lat: 91, lon: 0 },
        { lat: 0, lon: 180.5 },
        { lat: "52", lon: "13" },
        { lat: Number.NaN, lon: 0 },
        { lon: 1 },
        "",
        "abc",
        "u33 dc",
        52.5,
        [52.5, 13.4],
      ]) {
        throwsInvalid(() => geohash(value), "f", /expected a \{lat, lon\} in range or a geohash string/);
      }
    });
  });

  describe("truncate", () => {
    const day = (value: unknown) => one({ kind: "truncate", unit: "day" }, value);
    const hour = (value: unknown) => one({ kind: "truncate", unit: "hour" }, value);

    test("truncates ISO-8601 strings in UTC", () => {
      assert.equal(day("2026-03-07T18:42:17.123Z"), "2026-03-07T00:00:00.000Z");
      assert.equal(hour("2026-03-07T18:42:17.123Z"), "2026-03-07T18:00:00.000Z");
      assert.equal(hour("2026-03-07T23:30:00-05:00"), "2026-03-08T04:00:00.000Z");
      assert.equal(day("2026-03-07T23:30:00-05:00"), "2026-03-08T00:00:00.000Z");
      assert.equal(hour("2026-03-07T18:42+05:30"), "2026-03-07T13:00:00.000Z");
      assert.equal(day("2026-03-07"), "2026-03-07T00:00:00.000Z");
      assert.equal(day("2024-02-29t10:00:00z"), "2024-02-29T00:00:00.000Z");
    });

    test("truncates epoch milliseconds, before 1970 too", () => {
      assert.equal(hour(Date.UTC(2026, 2, 7, 18, 42, 17)), "2026-03-07T18:00:00.000Z");
      assert.equal(day(-1), "1969-12-31T00:00:00.000Z");
      assert.equal(hour(Date.parse("9999-12-31T23:59:59.999Z")), "9999-12-31T23:00:00.000Z");
      assert.equal(day(Date.parse("0000-01-01T00:00:00Z")), "0000-01-01T00:00:00.000Z");
    });

    test("knows leap years", () => {
      assert.equal(day("2000-02-29"), "2000-02-29T00:00:00.000Z");
      assert.equal(day("2024-02-29T23:59:59+00:00"), "2024-02-29T00:00:00.000Z");
      assert.equal(day("2024-02-29T23:59:59-00:01"), "2024-03-01T00:00:00.000Z");
      for (const value of ["1900-02-29", "2100-02-29", "2026-02-29"]) throwsInvalid(() => day(value), "f", /ISO-8601/);
    });

    test("agrees with Date on every year from 0000 to 9999", () => {
      let seed = 42;
      const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
      const min = Date.parse("0000-01-01T00:00:00Z");
      const max = Date.parse("9999-12-31T23:59:59.999Z");
      for (let i = 0; i < 20_000; i++) {
        const ms = Math.floor(min + random() * (max - min));
        const offset = `${random() < 0.5 ? "+" : "-"}${String(Math.floor(random() * 14)).padStart(2, "0")}:${random() < 0.5 ? "30" : "00"}`;
        const local = new Date(ms).toISOString().slice(0, 19);
        const text = `${local}${offset}`;
        const parsed = Date.parse(text);
        if (parsed < min || parsed > max) continue;
        assert.equal(hour(ms), new Date(Math.floor(ms / 3_600_000) * 3_600_000).toISOString(), String(ms));
        assert.equal(day(ms), new Date(Math.floor(ms / 86_400_000) * 86_400_000).toISOString(), String(ms));
        assert.equal(hour(text), new Date(Math.floor(parsed / 3_600_000) * 3_600_000).toISOString(), text);
      }
    });

    test("refuses what is not a timestamp, and date-times without a time zone", () => {
      const outside = [
        "0000-01-01T00:30+01:00",
        Date.parse("0000-01-01T00:00:00Z") - 1,
        Date.parse("+010000-01-01T00:00:00Z"),
        8.64e15,
      ];
      const malformed = [
        "yesterday",
        "2026-03-07T18:42:17",
        "2026-02-30",
        "2026-04-31",
        "2026-13-01",
        "2026-00-10",
        "2026-03-00",
        "07/03/2026",
        "",
      ];
      const impossible = [
        "2026-03-07T24:00Z",
        "2026-03-07T18:60Z",
        "2026-03-07T18:42:60Z",
        "2026-03-07T18:42+24:00",
        "2026-03-07T18:42+05:60",
      ];
      for (const value of [
        ...outside,
        ...malformed,
        ...impossible,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        true,
        { at: 1 },
      ]) {
        throwsInvalid(
          () => day(value),
          "f",
          /expected an ISO-8601 date, or date-time with a time zone, or epoch milliseconds/,
        );
      }
    });
  });

  describe("ip", () => {
    const ip = (value: unknown, bits = 24) => one({ kind: "ip", bits }, value);

    test("keeps the first bits of an IPv4 address", () => {
      assert.equal(ip("203.0.113.77"), "203.0.113.0");
      assert.equal(ip("203.0.113.77", 16), "203.0.0.0");
      assert.equal(ip("203.0.113.77", 20), "203.0.112.0");
      assert.equal(ip("203.0.113.77", 32), "203.0.113.77");
    });

    test("keeps twice the bits of an IPv6 address", () => {
      assert.equal(ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), "2001:db8:85a3::");
      assert.equal(ip("2001:DB8:85A3:08D3::1", 16), "2001:db8::");
      assert.equal(ip("2001:DB8:85A3:08D3::1", 20), "2001:db8:8500::");
      assert.equal(ip("2001:db8:85a3:8d3:1319:8a2e:370:7348", 30), "2001:db8:85a3:8d0::");
      assert.equal(ip("fe80::1:2:3:4%eth0", 32), "fe80::");
    });

    test("treats an IPv4-mapped IPv6 address as IPv4", () => {
      assert.equal(ip("::ffff:203.0.113.77"), "203.0.113.0");
      assert.equal(ip("::ffff:cb00:714d"), "203.0.113.0");
    });

    describe("an IPv6 address that carries a client's IPv4 address is stored as that IPv4 address, masked by the IPv4 rule", () => {
      const cases: [string, string][] = [
        ["6to4 2002::/16 (IPv4 in bits 16-47, which a 48-bit IPv6 mask would keep whole)", "2002:cb00:714d:1::5"],
        ["Teredo 2001:0::/32 (client IPv4 inverted in the last 32 bits)", "2001:0:4136:e378:8000:63bf:34ff:8eb2"],
        ["NAT64 64:ff9b::/96", "64:ff9b::203.0.113.77"],
        ["IPv4-translated ::ffff:0:0:0/96", "::ffff:0:203.0.113.77"],
        ["IPv4-compatible ::/96", "::203.0.113.77"],
        ["IPv4-mapped, written in hex", "::ffff:cb00:714d"],
      ];
      for (const [form, address] of cases) {
        test(form, () => {
          assert.equal(ip(address), "203.0.113.0");
          assert.equal(ip(address, 16), "203.0.0.0");
          assert.equal(ip(address, 32), "203.0.113.77", "32 bits keep the IPv4 address, as for a plain IPv4 one");
          assert.equal(ip(address.toUpperCase()), "203.0.113.0");
        });
      }

      test("Teredo's server address and port are not the client: only the inverted last 32 bits count", () => {
        // RFC 4380's example: server 65.54.227.120, client 192.0.2.45 behind port 40000.
        assert.equal(ip("2001:0000:4136:e378:8000:63bf:3fff:fdd2", 32), "192.0.2.45");
        assert.equal(ip("2001:0000:4136:e378:8000:63bf:3fff:fdd2"), "192.0.2.0");
      });

      test("the local-use NAT64 prefix 64:ff9b:1::/48 keeps no more than its 48 bits, wherever the network put the IPv4 address", () => {
        assert.equal(ip("64:ff9b:1:cb00:714d::", 32), "64:ff9b:1::");
        assert.equal(ip("64:ff9b:1:cb00:714d::", 16), "64:ff9b::");
      });

      test("the loopback, the unspecified address and documentation addresses are not IPv4 carriers", () => {
        assert.equal(ip("::1"), "::");
        assert.equal(ip("::"), "::");
        assert.equal(ip("2001:db8:cb00:714d::1"), "2001:db8:cb00::");
        assert.equal(ip("2003:cb00:714d::1"), "2003:cb00:714d::", "only 2002::/16 is 6to4");
      });
    });

    test("refuses what is not an address", () => {
      for (const value of [
        "not-an-ip",
        "203.0.113",
        "203.0.113.256",
        "0x7f.0.0.1",
        "010.0.0.1",
        " 203.0.113.77",
        "203.0.113.77/24",
        "",
        3405803853,
        { ip: "203.0.113.77" },
      ]) {
        throwsInvalid(() => ip(value), "f", /expected an IPv4 or IPv6 address/);
      }
    });
  });

  test("maxLength cuts strings by code point without splitting surrogate pairs", () => {
    const cut = (value: unknown, length: number) => one({ kind: "maxLength", length }, value);
    assert.equal(cut("hello world", 5), "hello");
    assert.equal(cut("hi", 5), "hi");
    assert.equal(cut("a😀b", 2), "a😀");
    assert.equal(cut("😀😀😀", 2), "😀😀");
    assert.equal(cut("😀😀😀", 3), "😀😀😀");
    assert.equal(cut("\ud800ab", 2), "\ud800a");
    for (const value of [12345, ["abc"], { s: "abc" }]) throwsInvalid(() => cut(value, 2), "f", /expected a string/);
  });

  test("a rule that does not take objects refuses an object", () => {
    for (const rule of [
      { kind: "bucket", size: 10 },
      { kind: "truncate", unit: "day" },
      { kind: "ip", bits: 24 },
      { kind: "maxLength", length: 5 },
    ] as const) {
      throwsInvalid(() => one(rule, { value: 1 }), "f", /got an object$/);
    }
  });
});

describe("compileMinimizer: body limits", () => {
  test("defaults are 16 levels and 1000 keys", () => {
    assert.deepEqual(DEFAULT_BODY_LIMITS, { maxDepth: 16, maxKeys: 1000 });
    assert.ok(Object.isFrozen(DEFAULT_BODY_LIMITS));
  });

  test("a kept subtree may nest down to the depth limit, counting the body as level 1", () => {
    const minimize = minimizer({ tree: { kind: "keep" } });
    assert.deepEqual(minimize({ tree: nested(15) }), { tree: nested(15) });
    throwsInvalid(() => minimize({ tree: nested(16) }), "tree", /body nests deeper than 16 levels \(in tree\)/);
    throwsInvalid(() => minimizer({ tree: { kind: "hash" } })({ tree: nested(16) }), "tree", /nests deeper/);
    throwsInvalid(
      () => minimizer({ tree: { kind: "keep" } }, { maxDepth: 3 })({ tree: nested(3) }),
      "tree",
      /deeper than 3 levels/,
    );
  });

  test("listed paths count toward depth", () => {
    throwsInvalid(
      () => minimizer({ "a.b.c": { kind: "keep" } }, { maxDepth: 3 })({ a: { b: { c: {} } } }),
      "a.b.c",
      /deeper than 3/,
    );
    assert.deepEqual(minimizer({ "a.b.c": { kind: "keep" } }, { maxDepth: 3 })({ a: { b: { c: 1 } } }), {
      a: { b: { c: 1 } },
    });
  });

  test("an unlisted subtree is not walked, however deep", () => {
    assert.deepEqual(minimizer(personalization)({ itemId: "a", junk: nested(500) }), { itemId: "a" });
  });

  test("keys of every object read count toward the key limit, listed or not", () => {
    const wide = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
    assert.deepEqual(minimizer(personalization)(wide), {});
    throwsInvalid(() => minimizer(personalization)({ ...wide, extra: 1 }), undefined, /^body has more than 1000 keys$/);
    throwsInvalid(
      () => minimizer({ "a.b": { kind: "keep" } }, { maxKeys: 3 })({ a: { b: 1, c: 2, d: 3 } }),
      "a",
      /more than 3 keys \(in a\)/,
    );
  });

  test("elements of kept arrays count toward the key limit", () => {
    const minimize = minimizer({ list: { kind: "keep" } }, { maxKeys: 10 });
    assert.deepEqual(minimize({ list: [1, 2, 3, 4, 5, 6, 7, 8, 9] }), { list: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
    throwsInvalid(() => minimize({ list: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }), "list", /more than 10 keys/);
  });

  test("a limit left undefined keeps its default", () => {
    throwsInvalid(
      () => minimizer({ tree: { kind: "keep" } }, { maxDepth: undefined, maxKeys: 2 })({ tree: [1, 2] }),
      "tree",
      /more than 2 keys/,
    );
  });

  test("limits must be positive integers", () => {
    for (const limits of [{ maxDepth: 0 }, { maxKeys: -1 }, { maxKeys: 1.5 }, { maxDepth: Number.POSITIVE_INFINITY }]) {
      assert.throws(
        () => compileMinimizer({}, { hashKey: KEY, limits }),
        (e) => isConsentgateError(e, "invalid_option"),
      );
    }
  });
});

describe("compileMinimizer: rules that cannot be applied", () => {
  test("empty and prototype segments are refused", () => {
    for (const path of ["", "a..b", ".a", "a.", "__proto__", "device.constructor", "prototype.x"]) {
      throwsPolicy(() => minimizer({ [path]: { kind: "keep" } }), /segments must be non-empty and not __proto__/);
    }
  });

  test("a rule on an object and on a field inside it is refused", () => {
    throwsPolicy(
      () => minimizer({ device: { kind: "keep" }, "device.os": { kind: "hash" } }),
      /field "device" has a rule and so do fields inside it/,
    );
    throwsPolicy(
      () => minimizer({ "device.os": { kind: "hash" }, device: { kind: "drop" } }),
      /field "device" has a rule/,
    );
  });

  test("parameters out of range are refused, all problems at once", () => {
    assert.throws(
      () =>
        minimizer({
          a: { kind: "bucket", size: 0 },
          b: { kind: "geohash", precision: 13 },
          c: { kind: "ip", bits: 33 },
          d: { kind: "maxLength", length: 0 },
          e: { kind: "truncate", unit: "week" as "day" },
          f: { kind: "blur" } as unknown as FieldRule,
        }),
      (e) =>
        isConsentgateError(e, "policy_invalid") &&
        e.details.problems?.length === 6 &&
        /field "f": unknown rule "blur"/.test(e.message),
    );
  });
});
