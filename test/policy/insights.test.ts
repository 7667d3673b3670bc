/**
 * The policy's `insights:` blocks (per purpose) and its `telemetry:` block
 * (docs/policy-reference.md): what a valid one compiles to, and every rule a policy can
 * break, with the file and line each problem points at.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { telemetryParamsProblems } from "../../src/client/params.ts";
import { loadPolicy } from "../../src/policy/load.ts";
import { MAX_SKETCH_CELLS } from "../../src/policy/types.ts";
import { MAX_CELLS } from "../../src/telemetry/sketch.ts";
import { assertProblems, problemsOf, testPolicy } from "../support/policy.ts";

const fixture = (name: string) =>
  path.relative(process.cwd(), fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)));

/** The documented example release, as an object policy writes it. */
const popular = () => ({
  key: "itemId",
  epsilon: 1,
  delta: 1e-9,
  maxKeys: 10,
  every: "1d",
  budget: { epsilon: 8, per: "30d" },
});

/** The documented example metric, on the test policy's analytics purpose. */
const genreSkips = () => ({
  purpose: "analytics",
  epsilon: 4,
  sketch: { hashes: 1024, width: 32768 },
  limit: { reports: 1, per: "1d" },
});

/** The test policy with `releases` on personalization and `metrics` as its telemetry block. */
const withBlocks = (releases: Record<string, unknown>, metrics: Record<string, unknown> = {}) =>
  testPolicy({ purposes: { personalization: { insights: releases } }, telemetry: metrics });

describe("insights and telemetry: valid blocks", () => {
  test("the documented example compiles to the documented values, from two files", async () => {
    const folder = fixture("insights");
    const policy = await loadPolicy(folder);
    const personalization = policy.purposes["personalization"];
    assert.ok(personalization);
    assert.deepEqual(Object.keys(personalization.insights), ["popular", "popular-artists"]);
    assert.deepEqual(personalization.insights["popular"], {
      name: "popular",
      purpose: "personalization",
      key: "itemId",
      epsilon: 1,
      delta: 1e-9,
      maxKeys: 10,
      every: { amount: 1, unit: "d", text: "1d" },
      budget: { epsilon: 8, per: { amount: 30, unit: "d", text: "30d" } },
    });
    // A hashed key, delta at its largest, a budget exactly one release, calendar durations.
    assert.deepEqual(personalization.insights["popular-artists"], {
      name: "popular-artists",
      purpose: "personalization",
      key: "artist",
      epsilon: 0.5,
      delta: 0.001,
      maxKeys: 1,
      every: { amount: 1, unit: "mo", text: "1mo" },
      budget: { epsilon: 0.5, per: { amount: 1, unit: "y", text: "1y" } },
    });
    assert.deepEqual({ ...policy.purposes["diagnostics"]?.insights }, {});

    // The lookup by name alone holds the same releases.
    assert.deepEqual(Object.keys(policy.insights), ["popular", "popular-artists"]);
    assert.equal(policy.insights["popular"], personalization.insights["popular"]);
    assert.equal(policy.insights["popular-artists"]?.purpose, "personalization");

    assert.deepEqual(Object.keys(policy.telemetry), ["genre-skips", "crashes"]);
    assert.deepEqual(policy.telemetry["genre-skips"], {
      name: "genre-skips",
      purpose: "diagnostics",
      epsilon: 4,
      sketch: { hashes: 1024, width: 32768 },
      limit: { reports: 1, per: { amount: 1, unit: "d", text: "1d" } },
    });
    // The largest epsilon, the most hashes, and a sketch of exactly 2^28 cells.
    assert.deepEqual(policy.telemetry["crashes"], {
      name: "crashes",
      purpose: "diagnostics",
      epsilon: 10,
      sketch: { hashes: 65536, width: 4096 },
      limit: { reports: 3, per: { amount: 1, unit: "mo", text: "1mo" } },
    });
    assert.deepEqual(policy.sources, [`${folder}/purposes.yaml`, `${folder}/telemetry.yaml`]);
  });

  test("the new parts are frozen and have no prototype to look names up in", async () => {
    const policy = await loadPolicy(fixture("insights"));
    assert.ok(Object.isFrozen(policy.insights));
    assert.ok(Object.isFrozen(policy.insights["popular"]?.budget.per));
    assert.ok(Object.isFrozen(policy.purposes["personalization"]?.insights));
    assert.ok(Object.isFrozen(policy.telemetry));
    assert.ok(Object.isFrozen(policy.telemetry["genre-skips"]?.sketch));
    assert.ok(Object.isFrozen(policy.telemetry["genre-skips"]?.limit.per));
    assert.equal(policy.insights["constructor"], undefined);
    assert.equal(policy.telemetry["toString"], undefined);
    assert.equal(policy.purposes["personalization"]?.insights["__proto__"], undefined);
  });

  test("without the blocks: no releases and no metrics", async () => {
    const policy = await loadPolicy(testPolicy());
    assert.deepEqual({ ...policy.insights }, {});
    assert.deepEqual({ ...policy.telemetry }, {});
    for (const purpose of Object.values(policy.purposes)) assert.deepEqual({ ...purpose.insights }, {});
  });

  test("a dotted key the purpose keeps, and the smallest values allowed", async () => {
    const policy = await loadPolicy(
      withBlocks(
        { os: { ...popular(), key: "device.os", epsilon: 1e-6, delta: 1e-300, maxKeys: 10_000 } },
        { tiny: { ...genreSkips(), epsilon: 1e-6, sketch: { hashes: 1, width: 2 }, limit: { reports: 1, per: "1y" } } },
      ),
    );
    assert.equal(policy.insights["os"]?.key, "device.os");
    assert.equal(policy.insights["os"]?.maxKeys, 10_000);
    assert.equal(policy.insights["os"]?.delta, 1e-300);
    assert.deepEqual(policy.telemetry["tiny"]?.sketch, { hashes: 1, width: 2 });
  });

  test("every metric the policy accepts is one the device's telemetryReport accepts", async () => {
    const policy = await loadPolicy(fixture("insights"));
    for (const metric of Object.values(policy.telemetry))
      assert.deepEqual(telemetryParamsProblems({ epsilon: metric.epsilon, ...metric.sketch }), []);
    // The limit the policy checks is the one the server's sketch enforces (src/telemetry may not be imported here).
    assert.equal(MAX_SKETCH_CELLS, MAX_CELLS);
  });
});

describe("insights and telemetry: every rule, with file and line", () => {
  test("each broken rule is one problem at its line; duplicates across purposes and files", async () => {
    const folder = fixture("insights-invalid");
    const release = (name: string) => `purposes.personalization.insights.${name}`;
    const releaseEpsilon = "must be a number greater than 0 (the privacy loss one release may cause";
    const delta = "must be a number greater than 0 and at most 0.001 (the small chance that a key only a few";
    const maxKeys = "must be a whole number from 1 to 10000 (the most distinct keys one person adds to a release)";
    const kept = "fields this purpose keeps or hashes: itemId, artist";
    const duration = "is not a duration: write a whole number followed by d (days), mo (calendar months) or y";
    const twice = (purpose: string, name: string) =>
      `is also a release of purpose ${purpose}; releases are addressed by name alone (GET /insights/${name}), so each name may be used once in the policy`;
    assertProblems(await problemsOf(folder), folder, [
      [
        "a.yaml:12:9",
        `${release("popular")}.key`,
        `"itemID" is not a field of this purpose (did you mean "itemId"?); ${kept}`,
      ],
      [
        "a.yaml:13:9",
        `${release("popular")}.epsilon`,
        `${releaseEpsilon}: smaller is more private and noisier), not 0`,
      ],
      [
        "a.yaml:14:9",
        `${release("popular")}.delta`,
        `${delta} people hold is released anyway; 1e-9 is usual), not 0.01`,
      ],
      ["a.yaml:15:9", `${release("popular")}.maxKeys`, `${maxKeys}, not 2.5`],
      ["a.yaml:16:9", `${release("popular")}.every`, `"1 day" ${duration}`],
      [
        "a.yaml:19:9",
        `${release("by-duration")}.key`,
        `field "durationMs" is stored coarsened ({ bucket: … }); a release key must be kept (keep) or pseudonymized (hash), so that equal values are counted together; ${kept}`,
      ],
      ["a.yaml:20:9", `${release("by-duration")}.epsilon`, `${releaseEpsilon}`],
      ["a.yaml:21:9", `${release("by-duration")}.delta`, `${delta}`],
      ["a.yaml:22:9", `${release("by-duration")}.maxKeys`, `${maxKeys}, not 0`],
      // Not also "less than one release's epsilon": -1 and .inf are refused on their own lines already.
      ["a.yaml:24:19", `${release("by-duration")}.budget.epsilon`, "must be a number greater than 0 (the most epsilon"],
      [
        "a.yaml:26:9",
        `${release("by-agent")}.key`,
        `field "userAgent" is dropped by this purpose, so no window holds it; ${kept}`,
      ],
      ["a.yaml:29:9", `${release("by-agent")}.maxKeys`, `${maxKeys}, not 10001`],
      [
        "a.yaml:31:19",
        `${release("by-agent")}.budget.epsilon`,
        "1 is less than one release's epsilon (2), so every release would be refused; raise budget.epsilon to at least 2 or lower epsilon",
      ],
      ["a.yaml:31:31", `${release("by-agent")}.budget.per`, `"month" ${duration}`],
      [
        "a.yaml:32:7",
        `${release('"top/items"')}`,
        'release names may use only letters, digits, "-" and "_" (they appear in URLs such as GET /insights/<release>)',
      ],
      ["a.yaml:39:7", `${release("sparse")}.delta`, "is missing; give the chance that a key only a few people hold"],
      ["a.yaml:39:7", `${release("sparse")}.budget`, "is missing; give the most epsilon this release may spend"],
      [
        "a.yaml:41:9",
        `${release("sparse")}.epsilon`,
        `${releaseEpsilon}: smaller is more private and noisier), not "1"`,
      ],
      [
        "a.yaml:44:9",
        `${release("sparse")}.bugdet`,
        'unknown key (did you mean "budget"?); allowed here: key, epsilon',
      ],
      [
        "a.yaml:49:5",
        "purposes.nothing-kept.insights",
        "has no effect without window: this purpose stores no interactions, so every release would be empty",
      ],
      ["a.yaml:50:7", "purposes.nothing-kept.insights.popular", twice("personalization", "popular")],
      ["b.yaml:9:7", "purposes.advertising.insights.by-duration", twice("personalization", "by-duration")],
      [
        "b.yaml:18:5",
        "telemetry.genre-skips.purpose",
        'no purpose named "diagnostic"; purposes are: personalization, nothing-kept, advertising',
      ],
      [
        "b.yaml:19:5",
        "telemetry.genre-skips.epsilon",
        "must be a number greater than 0 and at most 10 (the privacy loss of one report; above 10 a report is almost never randomized",
      ],
      [
        "b.yaml:20:15",
        "telemetry.genre-skips.sketch.hashes",
        "must be a whole number from 1 to 65536 (k, the sketch's number of hash functions), not 0",
      ],
      [
        "b.yaml:20:26",
        "telemetry.genre-skips.sketch.width",
        "must be a power of two from 2 to 2147483648 (m, the width of each row of the sketch, e.g. 32768), not 1000",
      ],
      [
        "b.yaml:21:14",
        "telemetry.genre-skips.limit.reports",
        "must be a whole number of at least 1 (the reports one person may send per period; more are refused with 429 report_limit), not 0",
      ],
      [
        "b.yaml:25:5",
        "telemetry.too-big.sketch",
        "has 65536 × 8192 = 536870912 cells; the server holds a sketch in memory, 4 bytes a cell, and allows at most 2^28 = 268435456 (1 GiB): lower hashes or width",
      ],
      ["b.yaml:26:5", "telemetry.too-big.limit.per", "is missing; write a whole number followed by d (days)"],
      [
        "b.yaml:27:3",
        'telemetry."skips!"',
        'metric names may use only letters, digits, "-" and "_" (they appear in URLs such as POST /telemetry/<metric>)',
      ],
    ]);
  });

  test("required keys of a metric, and unknown keys in its parts", async () => {
    const problems = await problemsOf(
      withBlocks(
        {},
        {
          bare: {},
          typos: {
            ...genreSkips(),
            sketch: { hashes: 8, width: 8, depth: 2 },
            limit: { reports: 1, per: "1d", burst: 3 },
          },
        },
      ),
    );
    assert.deepEqual(problems, [
      "telemetry.bare.purpose: is missing; name the purpose reports are collected for: they are gated like writes for it",
      "telemetry.bare.epsilon: is missing; give the privacy loss of one report, e.g. epsilon: 4",
      "telemetry.bare.sketch: is missing; give the sketch's size, e.g. sketch: { hashes: 1024, width: 32768 }",
      "telemetry.bare.limit: is missing; say how many reports one person may send, e.g. limit: { reports: 1, per: 1d }",
      "telemetry.typos.sketch.depth: unknown key; allowed here: hashes, width",
      "telemetry.typos.limit.burst: unknown key; allowed here: reports, per",
    ]);
  });

  test("required keys of a release, and values of the wrong kind", async () => {
    const problems = await problemsOf(
      withBlocks({ bare: {}, wrong: { ...popular(), key: 7, every: 1, budget: { epsilon: "8", per: "30d" } } }),
    );
    assert.deepEqual(problems, [
      "purposes.personalization.insights.bare.key: is missing; name the field whose values are counted: a field this purpose keeps (keep or hash)",
      "purposes.personalization.insights.bare.epsilon: is missing; give the privacy loss one release may cause, e.g. epsilon: 1",
      "purposes.personalization.insights.bare.delta: is missing; give the chance that a key only a few people hold is released anyway, e.g. delta: 1e-9",
      "purposes.personalization.insights.bare.maxKeys: is missing; give the most distinct keys one person adds to a release, e.g. maxKeys: 10",
      "purposes.personalization.insights.bare.every: is missing; write a whole number followed by d (days), mo (calendar months) or y (years), e.g. 45d, 1mo, 3y",
      "purposes.personalization.insights.bare.budget: is missing; give the most epsilon this release may spend in any rolling period, e.g. budget: { epsilon: 8, per: 30d }",
      "purposes.personalization.insights.wrong.key: must be text, not 7",
      "purposes.personalization.insights.wrong.every: must be a duration: write a whole number followed by d (days), mo (calendar months) or y (years), e.g. 45d, 1mo, 3y",
      'purposes.personalization.insights.wrong.budget.epsilon: must be a number greater than 0 (the most epsilon this release may spend in any period of budget.per), not "8"',
    ]);
  });

  test("a key whose own rule is broken is reported once, as the rule", async () => {
    const policy = testPolicy({
      purposes: {
        personalization: { fields: { itemId: "kepp" }, insights: { popular: popular() } },
      },
    });
    assert.deepEqual(await problemsOf(policy), [
      'purposes.personalization.fields.itemId: unknown field rule "kepp" (did you mean "keep"?); use keep, drop, hash, { bucket: n }, { geohash: 1-12 }, { truncate: day | hour }, { ip: 1-32 } or { maxLength: n }',
    ]);
  });

  test("a release name used by two purposes of one file, and a metric's purpose that does not exist", async () => {
    const policy = testPolicy({
      purposes: {
        advertising: { insights: { popular: popular() } },
        analytics: { insights: { popular: popular(), also: popular() } },
      },
      telemetry: { skips: { ...genreSkips(), purpose: "analytic" } },
    });
    assert.deepEqual(await problemsOf(policy), [
      "purposes.analytics.insights.popular: is also a release of purpose advertising; releases are addressed by name alone (GET /insights/popular), so each name may be used once in the policy",
      'telemetry.skips.purpose: no purpose named "analytic" (did you mean "analytics"?); purposes are: service, personalization, advertising, analytics',
    ]);
  });

  test("a sketch of 2^28 + one row of cells is refused; only values that pass their own rule are multiplied", async () => {
    const problems = await problemsOf(
      withBlocks(
        {},
        {
          over: { ...genreSkips(), sketch: { hashes: 8193, width: 32768 } },
          // 70000 is refused as hashes; its product with the width is not reported again.
          refused: { ...genreSkips(), sketch: { hashes: 70_000, width: 2 ** 31 } },
        },
      ),
    );
    assert.deepEqual(problems, [
      // Without files, problems come in the order they are found: the schema's, then the relations'.
      "telemetry.refused.sketch.hashes: must be a whole number from 1 to 65536 (k, the sketch's number of hash functions), not 70000",
      "telemetry.over.sketch: has 8193 × 32768 = 268468224 cells; the server holds a sketch in memory, 4 bytes a cell, and allows at most 2^28 = 268435456 (1 GiB): lower hashes or width",
    ]);
  });

  test("parameters each allowed whose threshold is too large to compute are refused together", async () => {
    const problems = await problemsOf(
      withBlocks({
        tiny: { ...popular(), epsilon: 5e-324 },
        rare: { ...popular(), epsilon: 1e-6, delta: 5e-324, maxKeys: 10_000 },
        // Huge, but a number: allowed (nothing will reach it, which check shows).
        huge: { ...popular(), epsilon: 1e-6, delta: 1e-300, maxKeys: 10_000 },
      }),
    );
    assert.deepEqual(problems, [
      "purposes.personalization.insights.tiny: with epsilon 5e-324, delta 1e-9 and maxKeys 10, the threshold a key must reach to be released is too large to compute, so nothing could ever be released; raise epsilon or delta",
      "purposes.personalization.insights.rare: with epsilon 0.000001, delta 5e-324 and maxKeys 10000, the threshold a key must reach to be released is too large to compute, so nothing could ever be released; raise epsilon or delta",
    ]);
  });

  test("limits at their edges: delta just over 0.001, telemetry epsilon just over 10, a width of 2^32", async () => {
    const problems = await problemsOf(
      withBlocks(
        { popular: { ...popular(), delta: 0.0010000001 } },
        { skips: { ...genreSkips(), epsilon: 10.000001, sketch: { hashes: 1, width: 2 ** 32 } } },
      ),
    );
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(problems[0] ?? "", /^purposes\.personalization\.insights\.popular\.delta: .*, not 0\.0010000001$/);
    assert.match(problems[1] ?? "", /^telemetry\.skips\.epsilon: .*, not 10\.000001$/);
    assert.match(problems[2] ?? "", /^telemetry\.skips\.sketch\.width: .*, not 4294967296$/);
  });
});
