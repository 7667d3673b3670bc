/**
 * fast-check generators for the property tests: hostile JSON bodies, header
 * values, policy YAML and command lines. Shared so that every property draws
 * from the same catalogue of weird input, and a new oddity added here is
 * tried everywhere.
 */
import fc from "fast-check";
import { HTTP_STATUS } from "../../src/errors.ts";

/** Cases per property: PROPERTY_RUNS, default 10 000 (what CI runs). */
export const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000);

/** fast-check parameters every property uses: the run count, and a seed from PROPERTY_SEED to replay a failure. */
export function propertyParameters(): fc.Parameters<unknown> {
  const seed = process.env.PROPERTY_SEED;
  return { numRuns: RUNS, ...(seed === undefined ? {} : { seed: Number(seed) }), includeErrorInReport: true };
}

/** A 4xx answer is a coded one: the JSON error body with a code errors.ts lists, sent with that code's status. */
export function assertCoded4xx(status: number, body: unknown, context: string): void {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code : undefined;
  const expected =
    code !== undefined && Object.hasOwn(HTTP_STATUS, code) ? (HTTP_STATUS as Record<string, number>)[code] : undefined;
  if (expected !== status || typeof error?.message !== "string") {
    throw new Error(`${context}: ${status} without a stable error code: ${JSON.stringify(body)?.slice(0, 300)}`);
  }
}

/** Strings a parser, a minimizer or a database may choke on. */
const nastyStrings = fc.constantFrom(
  "",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "x\ud83dy",
  "\ud83d\ude00",
  "\uffff",
  "\u202e",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "NaN",
  "-0",
  "1e308",
  "Infinity",
  "null",
  "2026-11-28T21:34:56.789Z",
  "not-a-date",
  "203.0.113.77",
  "2002:cb00:7101::1",
  "::ffff:203.0.113.77",
  "u09tu",
  "%00",
  "'; DROP TABLE interactions; --",
);

export const weirdString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string(), weight: 3 },
  { arbitrary: fc.string({ unit: "binary" }), weight: 2 },
  // Code units at random: lone surrogates and NUL included.
  { arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)) }), weight: 2 },
  { arbitrary: nastyStrings, weight: 3 },
);

/** Around the body limit (8 kB in the test app): some pass, some are too large. */
export const hugeString: fc.Arbitrary<string> = fc.string({
  minLength: 2000,
  maxLength: 12_000,
  unit: "grapheme-ascii",
});

/** A number written into JSON text exactly as given, so that -0, 1e309 or 0.1e-400 reach the parser unchanged. */
export class RawNumber {
  constructor(readonly text: string) {}
}

const number: fc.Arbitrary<number | RawNumber> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, 183_456, 48.8584),
  fc
    .constantFrom("-0", "1e309", "-1e309", "1E400", "0.1e-400", "123456789012345678901234567890", "-0.0", "1e-7")
    .map((t) => new RawNumber(t)),
);

const key: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 12 }), weight: 2 },
  { arbitrary: weirdString, weight: 1 },
  // The fields the test policy lists, so that transforms meet odd values, and prototype keys.
  {
    arbitrary: fc.constantFrom(
      "itemId",
      "action",
      "durationMs",
      "location",
      "userAgent",
      "device",
      "os",
      "model",
      "context",
      "at",
      "ip",
      "lat",
      "lon",
      "__proto__",
      "constructor",
      "prototype",
      "hasOwnProperty",
      "device.os",
    ),
    weight: 4,
  },
);

const scalar: fc.Arbitrary<unknown> = fc.oneof(fc.constant(null), fc.boolean(), number, weirdString);

/** A JSON tree: deep, wide, every type, with the keys and values above; a few kB of text at most, mostly. */
export const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 6, depthSize: "small", withCrossShrink: true },
    { arbitrary: scalar, weight: 8 },
    { arbitrary: hugeString, weight: 1 },
    { arbitrary: fc.array(tie("value"), { maxLength: 5 }), weight: 2 },
    { arbitrary: fc.array(fc.tuple(key, tie("value")), { maxLength: 6 }).map(entries), weight: 4 },
    // Wide: many members of one level.
    { arbitrary: fc.array(scalar, { minLength: 50, maxLength: 300 }), weight: 1 },
    { arbitrary: fc.array(fc.tuple(key, scalar), { minLength: 30, maxLength: 150 }).map(entries), weight: 1 },
  ),
})).value;

/** An object as JSON.parse would build it: own keys, `__proto__` included, no prototype tricks. */
function entries(pairs: [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of pairs)
    Object.defineProperty(out, k, { value: v, enumerable: true, configurable: true, writable: true });
  return out;
}

/** JSON text for a tree, keeping raw numbers raw and escaping lone surrogates (as JSON.stringify does). */
export function toJsonText(value: unknown): string {
  if (value instanceof RawNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .map((k) => `${JSON.stringify(k)}:${toJsonText((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A play-like object with some listed fields given odd values, the rest random. */
const playLike: fc.Arbitrary<unknown> = fc
  .record(
    {
      itemId: jsonValue,
      action: jsonValue,
      durationMs: jsonValue,
      location: fc.oneof(jsonValue, fc.record({ lat: jsonValue, lon: jsonValue })),
      device: fc.oneof(jsonValue, fc.record({ os: jsonValue, model: jsonValue })),
      context: fc.oneof(jsonValue, fc.record({ at: jsonValue, ip: jsonValue })),
      extra: jsonValue,
    },
    { requiredKeys: [] },
  )
  .map((v) => v as unknown);

/** An array nested `depth` times, or an object nested as deep: walks that recurse meet their limit. */
const deepNest = fc
  .tuple(fc.integer({ min: 10, max: 3000 }), fc.boolean(), fc.constantFrom("itemId", "device", "context", "x"))
  .map(([depth, asArray, k]) => {
    const open = asArray ? "[".repeat(depth) : `{${JSON.stringify(k)}:`.repeat(depth);
    const close = asArray ? "]".repeat(depth) : "}".repeat(depth);
    return `{"itemId":${open}1${close}}`;
  });

/** What a client may send as a body: JSON text of any tree, deep nests, and some text that is not JSON at all. */
export const bodyText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: playLike.map(toJsonText), weight: 5 },
  { arbitrary: jsonValue.map(toJsonText), weight: 3 },
  { arbitrary: deepNest, weight: 1 },
  // Broken JSON: truncated, or a string that is not JSON.
  {
    arbitrary: fc
      .tuple(playLike.map(toJsonText), fc.nat())
      .map(([text, cut]) => text.slice(0, cut % Math.max(1, text.length))),
    weight: 1,
  },
  { arbitrary: weirdString, weight: 1 },
  { arbitrary: hugeString, weight: 1 },
);

/** Content types a client may claim for that body. */
export const contentType = fc.constantFrom(
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=latin1",
  "application/merge-patch+json",
  "text/plain",
  "application/x-www-form-urlencoded",
);

/**
 * A header value Node's HTTP client will send (tab, printable ASCII and
 * Latin-1; it refuses other control characters itself, and so does the
 * server's parser, before any app code runs).
 */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({
    unit: fc
      .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(0x09), fc.integer({ min: 0x80, max: 0xff }))
      .map((n) => String.fromCharCode(n)),
    maxLength: 40,
  }),
  fc.string({ unit: "grapheme-ascii", minLength: 500, maxLength: 4000 }),
);
