import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadPolicy } from "../../src/policy/load.ts";
import { assertProblems, problemsOf } from "../support/policy.ts";

/** Fixture folders as a user would name them: relative to the current directory. */
const fixture = (name: string) =>
  path.relative(process.cwd(), fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)));

describe("loadPolicy: folders that cannot be read", () => {
  test("an empty folder", async () => {
    const folder = fixture("empty");
    assert.deepEqual(await problemsOf(folder), [
      `no policy files in ${folder} (expected files ending in .yaml or .yml)`,
    ]);
  });
  test("a missing folder", async () => {
    const problems = await problemsOf("test/policy/fixtures/no-such-folder");
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? "",
      /^policy folder test\/policy\/fixtures\/no-such-folder not found \(looked in \/.*no-such-folder\)$/,
    );
  });
  test("a file instead of a folder", async () => {
    const file = `${fixture("with-other-files")}/policy.yaml`;
    assert.deepEqual(await problemsOf(file), [`${file} is a file; policies are read from a folder of YAML files`]);
  });
});

describe("loadPolicy: files", () => {
  test("files that are not YAML, and dot files, are ignored", async () => {
    const policy = await loadPolicy(fixture("with-other-files"));
    assert.deepEqual(policy.sources, [`${fixture("with-other-files")}/policy.yaml`]);
    assert.deepEqual(Object.keys(policy.purposes), ["service"]);
  });

  test("a .yaml file that is not a mapping is an error; so is an empty one", async () => {
    const folder = fixture("not-a-mapping");
    const missing = (key: string) => [folder, key, "is missing"] as const;
    assertProblems(await problemsOf(folder), folder, [
      ["empty.yaml:1:1", "", 'is empty; a policy file must be a set of "key: value" entries'],
      ["list.yaml:1:1", "", "is a list; a policy file must be"],
      ["scalar.yaml:1:1", "", "is a single value; a policy file must be"],
      // Nothing was read, so everything required is missing; these point at the folder.
      missing("version"),
      missing("defaults"),
      missing("purposes"),
      missing("regions"),
    ]);
  });

  test("YAML syntax errors of every file are reported with their position, with the other files' problems", async () => {
    const folder = fixture("syntax-error");
    assertProblems(await problemsOf(folder), folder, [
      ["defaults.yaml:3:11", "", "YAML syntax error: Nested mappings are not allowed in compact mappings"],
      [
        "regions.yaml:3:3",
        "",
        "YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }",
      ],
      ["purposes.yaml:5:25", "purposes.service.fields.itemId.bucket", "must be a number greater than 0"],
      // Not reported: "regions is missing", since the broken regions.yaml may well define them.
    ]);
  });

  test("a key twice in one file names both lines", async () => {
    const folder = fixture("duplicate-in-file");
    assertProblems(await problemsOf(folder), folder, [
      ["policy.yaml:9:5", "purposes.service.window", "defined twice in this file (first at line 7)"],
      ["policy.yaml:10:3", "purposes.service", "defined twice in this file (first at line 4)"],
    ]);
  });

  test("a key in two files names both files with lines; different keys merge", async () => {
    const folder = fixture("duplicate-across-files");
    assertProblems(await problemsOf(folder), folder, [
      ["b.yaml:2:1", "version", `defined twice: in ${folder}/a.yaml:1:1 and ${folder}/b.yaml:2:1`],
      ["b.yaml:4:3", "defaults.region", `defined twice: in ${folder}/a.yaml:3:3 and ${folder}/b.yaml:4:3`],
      ["b.yaml:9:3", "purposes.service", `defined twice: in ${folder}/a.yaml:5:3 and ${folder}/b.yaml:9:3`],
    ]);
  });

  test("top-level keys and the entries one level down merge across files, in file order", async () => {
    const folder = fixture("merged");
    const policy = await loadPolicy(folder);
    assert.deepEqual(policy.sources, [`${folder}/a.yaml`, `${folder}/b.yaml`, `${folder}/c.yml`]);
    assert.deepEqual(Object.keys(policy.purposes), ["service", "personalization"]);
    assert.deepEqual(Object.keys(policy.regions), ["EU", "OTHER"]);
    assert.deepEqual({ ...policy.defaults }, { region: "EU", unmappedWrites: "allow" });
    assert.deepEqual(
      policy.routes.map((r) => [r.method, r.path, r.purpose]),
      [["POST", "/api/plays", "personalization"]],
    );
  });
});

describe("loadPolicy: every rule", () => {
  test("a policy using every field rule and setting compiles to the documented shape", async () => {
    const folder = fixture("all-rules");
    const policy = await loadPolicy(folder);
    assert.equal(policy.version, "v7");
    assert.deepEqual({ ...policy.defaults }, { region: "EU", unmappedWrites: "allow" });
    assert.equal(policy.regionHeader, "cf-ipcountry");
    assert.deepEqual({ ...policy.jobs }, { purge: "*/5 * * * *", "log-retention": "0 0 4 * * *" });
    assert.deepEqual(policy.sources, [`${folder}/policy.yml`]);

    const telemetry = policy.purposes["telemetry"];
    assert.ok(telemetry);
    assert.deepEqual(
      { ...telemetry.fields },
      {
        action: { kind: "keep" },
        debug: { kind: "drop" },
        email: { kind: "hash" },
        durationMs: { kind: "bucket", size: 250 },
        location: { kind: "geohash", precision: 7 },
        at: { kind: "truncate", unit: "hour" },
        day: { kind: "truncate", unit: "day" },
        ip: { kind: "ip", bits: 24 },
        query: { kind: "maxLength", length: 80 },
        "device.os": { kind: "keep" },
      },
    );
    assert.equal(telemetry.name, "telemetry");
    assert.equal(telemetry.legalBasis, "legitimate-interest");
    assert.equal(telemetry.window, 10000);
    assert.deepEqual(telemetry.retention, { amount: 1, unit: "y", text: "1y" });
    assert.equal(telemetry.onWithdrawal, "keep");
    assert.equal(telemetry.saleOrShare, false);
    assert.equal(telemetry.sensitive, false);

    const health = policy.purposes["health"];
    assert.equal(health?.sensitive, true);
    assert.equal(health?.onWithdrawal, "purge");
    assert.deepEqual(health?.retention, { amount: 1, unit: "mo", text: "1mo" });

    const ads = policy.purposes["ads"];
    assert.equal(ads?.saleOrShare, true);
    assert.equal(ads?.window, undefined);
    assert.equal(ads?.retention, undefined);
    assert.deepEqual({ ...ads?.fields }, {});
  });

  test("regions: countries upper-cased, defaults filled in, country map built", async () => {
    const policy = await loadPolicy(fixture("all-rules"));
    assert.deepEqual(policy.regions["EU"], {
      name: "EU",
      countries: ["DE", "FR", "ES-CT"],
      model: "opt-in",
      frameworks: ["GDPR"],
      gpc: undefined,
      requestDeadline: { amount: 1, unit: "mo", text: "1mo" },
      logRetention: { amount: 3, unit: "y", text: "3y" },
    });
    assert.equal(policy.regions["US-CA"]?.gpc, "opt-out-of-sale-or-share");
    assert.deepEqual(policy.regions["US"]?.frameworks, []);
    assert.deepEqual(Object.fromEntries(policy.countryRegions), {
      DE: "EU",
      FR: "EU",
      "ES-CT": "EU",
      "US-CA": "US-CA",
      US: "US",
    });
  });

  test("routes match like Express 5 does", async () => {
    const policy = await loadPolicy(fixture("all-rules"));
    const [plays, heart, files] = policy.routes;
    assert.deepEqual([plays?.method, plays?.path, plays?.purpose], ["POST", "/api/plays/:id", "telemetry"]);
    assert.equal(plays?.matches("/api/plays/42"), true);
    assert.equal(plays?.matches("/api/plays/42/"), true);
    assert.equal(plays?.matches("/API/Plays/42"), true);
    assert.equal(plays?.matches("/api/plays"), false);
    assert.equal(plays?.matches("/api/plays/42/extra"), false);
    assert.equal(plays?.matches("/api/plays/%2F"), true);
    assert.equal(heart?.method, "PUT");
    assert.equal(heart?.matches("/api/heart"), true);
    assert.equal(heart?.matches("/api/heart/2026-01-01"), true);
    assert.equal(files?.method, "DELETE");
    assert.equal(files?.matches("/api/files/a/b/c.txt"), true);
    assert.equal(files?.matches("/api/files"), false);
  });

  test("the compiled policy is deeply frozen", async () => {
    const policy = await loadPolicy(fixture("all-rules"));
    assert.ok(Object.isFrozen(policy));
    assert.ok(Object.isFrozen(policy.defaults));
    assert.ok(Object.isFrozen(policy.purposes));
    assert.ok(Object.isFrozen(policy.purposes["telemetry"]?.fields["durationMs"]));
    assert.ok(Object.isFrozen(policy.purposes["telemetry"]?.retention));
    assert.ok(Object.isFrozen(policy.routes));
    assert.ok(Object.isFrozen(policy.routes[0]));
    assert.ok(Object.isFrozen(policy.regions["EU"]?.countries));
    assert.ok(Object.isFrozen(policy.jobs));
    assert.ok(Object.isFrozen(policy.sources));
    assert.throws(() => (policy.countryRegions as Map<string, string>).set("JP", "EU"), TypeError);
    assert.throws(() => (policy.countryRegions as Map<string, string>).delete("DE"), TypeError);
    assert.throws(() => (policy.countryRegions as Map<string, string>).clear(), TypeError);
    assert.equal(policy.countryRegions.get("DE"), "EU");
  });

  test("names of Object.prototype are not purposes, regions or field rules", async () => {
    const policy = await loadPolicy(fixture("all-rules"));
    assert.equal(policy.purposes["constructor"], undefined);
    assert.equal(policy.regions["toString"], undefined);
    assert.equal(policy.purposes["telemetry"]?.fields["__proto__"], undefined);
    assert.equal(policy.jobs["constructor" as "purge"], undefined);
  });

  test("purposes: legal basis, description, flags, window and retention", async () => {
    const folder = fixture("purposes");
    const window = "must be a whole number from 1 to 10000";
    assertProblems(await problemsOf(folder), folder, [
      [
        "policy.yaml:6:5",
        "purposes.typo.legalBasis",
        '"consnet" is not a valid choice (did you mean "consent"?); choose one of: consent, contract, legitimate-interest, legal-obligation',
      ],
      ["policy.yaml:7:3", "purposes.undescribed.description", "is missing; describe the purpose"],
      ["policy.yaml:12:5", "purposes.flags.saleOrShare", 'must be true or false, not "yes"'],
      ["policy.yaml:13:5", "purposes.flags.onWithdrawal", '"delete" is not a valid choice; choose one of: purge, keep'],
      [
        "policy.yaml:17:5",
        "purposes.zero.window",
        `${window} (the most recent interactions kept per user; leave window out to store none), not 0`,
      ],
      ["policy.yaml:22:5", "purposes.huge.window", `${window}`],
      ["policy.yaml:27:5", "purposes.fraction.window", `${window}`],
      [
        "policy.yaml:29:3",
        "purposes.forever.retention",
        "is missing; a purpose with a window must say how long interactions are kept",
      ],
      ["policy.yaml:36:5", "purposes.pointless.retention", "has no effect without window"],
      ["policy.yaml:37:3", 'purposes."ads/partners"', 'purpose names may use only letters, digits, "-" and "_"'],
    ]);
  });

  test("field rules: unknown rules, out-of-range numbers, malformed rules and paths", async () => {
    const folder = fixture("field-rules");
    const fields = "purposes.rules.fields";
    assertProblems(await problemsOf(folder), folder, [
      ["policy.yaml:8:7", `${fields}.blurred`, 'unknown field rule "blur"; use keep, drop, hash, { bucket: n }'],
      [
        "policy.yaml:9:19",
        `${fields}.negative.bucket`,
        "must be a number greater than 0 (numbers are rounded down to a multiple of it), not -5",
      ],
      ["policy.yaml:10:15", `${fields}.zero.bucket`, "must be a number greater than 0"],
      ["policy.yaml:11:15", `${fields}.typo.buckt`, 'unknown field rule "buckt" (did you mean "bucket"?)'],
      ["policy.yaml:12:21", `${fields}.tooPrecise.geohash`, "must be a whole number from 1 to 12"],
      ["policy.yaml:13:17", `${fields}.weekly.truncate`, 'must be day or hour, not "week"'],
      ["policy.yaml:14:17", `${fields}.wideIp.ip`, "must be a whole number from 1 to 32"],
      ["policy.yaml:15:15", `${fields}.noIp.ip`, "must be a whole number from 1 to 32"],
      ["policy.yaml:16:16", `${fields}.empty.maxLength`, "must be a whole number of at least 1"],
      ["policy.yaml:17:7", `${fields}.both`, "has 2 rules (bucket, maxLength); give each field exactly one"],
      ["policy.yaml:18:7", `${fields}.nothing`, "has no rule; use keep, drop, hash"],
      ["policy.yaml:19:7", `${fields}.none`, "is an empty rule"],
      ["policy.yaml:20:7", `${fields}.list`, "a list is not a field rule"],
      ["policy.yaml:21:7", `${fields}."a..b"`, "field paths are names joined by dots"],
      ["policy.yaml:23:9", `${fields}.block.geohash`, "must be a whole number from 1 to 12"],
    ]);
  });

  test("routes: unknown purpose, read methods, malformed keys and patterns", async () => {
    const folder = fixture("routes");
    assertProblems(await problemsOf(folder), folder, [
      [
        "policy.yaml:7:3",
        'routes."POST /api/plays/:id"',
        'no purpose named "personalisation" (did you mean "personalization"?); purposes are: service, personalization',
      ],
      [
        "policy.yaml:8:3",
        'routes."GET /api/plays"',
        '"GET" is not a write method: GET, HEAD and OPTIONS requests are reads and always pass',
      ],
      ["policy.yaml:9:3", 'routes."post /api/likes"', 'write the method in capitals: "POST /api/likes"'],
      ["policy.yaml:10:3", 'routes."POST api/likes"', 'the path must start with "/"'],
      [
        "policy.yaml:11:3",
        'routes."POST /api/*"',
        "the path pattern is not valid: Missing parameter name at index 6: /api/*",
      ],
      [
        "policy.yaml:12:3",
        'routes."POST/api/skips"',
        'write routes as "METHOD /path" with METHOD one of POST, PUT, PATCH, DELETE',
      ],
    ]);
  });

  test("regions: default region, country codes, models, GPC, durations", async () => {
    const folder = fixture("regions");
    const duration = "is not a duration: write a whole number followed by d (days), mo (calendar months) or y (years)";
    assertProblems(await problemsOf(folder), folder, [
      ["policy.yaml:2:13", "defaults.region", 'no region named "Europe"; regions are: EU, US-CA, eu'],
      [
        "policy.yaml:7:21",
        "regions.EU.countries[1]",
        '"Germany" is not a country code: use ISO 3166-1 (DE) or, for a state or province, ISO 3166-2 (US-CA)',
      ],
      ["policy.yaml:7:30", "regions.EU.countries[2]", '"D" is not a country code'],
      ["policy.yaml:7:44", "regions.EU.countries[5]", '"DE" is listed twice in this region'],
      [
        "policy.yaml:8:5",
        "regions.EU.model",
        '"optin" is not a valid choice (did you mean "opt-in"?); choose one of: opt-in, opt-out',
      ],
      ["policy.yaml:9:5", "regions.EU.gpc", '"opt-out" is not a valid choice; choose opt-out-of-sale-or-share'],
      ["policy.yaml:10:5", "regions.EU.requestDeadline", `"30 days" ${duration}`],
      ["policy.yaml:11:5", "regions.EU.logRetention", `"0d" ${duration}`],
      ["policy.yaml:12:3", "regions.US-CA.logRetention", "is missing; write a whole number followed by d (days)"],
      [
        "policy.yaml:13:17",
        "regions.US-CA.countries[0]",
        '"US-CA" is also in region EU; a country belongs to one region',
      ],
      ["policy.yaml:15:5", "regions.US-CA.requestDeadline", `"1w" ${duration}`],
      ["policy.yaml:16:3", "regions.eu", 'differs from region "EU" only in capitals'],
    ]);
  });

  test("unknown keys suggest the key that was meant", async () => {
    const folder = fixture("unknown-keys");
    assertProblems(await problemsOf(folder), folder, [
      [
        "policy.yaml:4:3",
        "defaults.unmapedWrites",
        'unknown key (did you mean "unmappedWrites"?); allowed here: region, unmappedWrites',
      ],
      ["policy.yaml:6:3", "purposes.service.retention", "is missing; a purpose with a window must say how long"],
      [
        "policy.yaml:10:5",
        "purposes.service.retension",
        'unknown key (did you mean "retention"?); allowed here: description, legalBasis',
      ],
      ["policy.yaml:11:1", "purpose", 'unknown key (did you mean "purposes"?)'],
      ["policy.yaml:14:9", "regions.EU.modle", 'unknown key (did you mean "model"?)'],
      [
        "policy.yaml:16:3",
        "jobs.purg",
        'unknown key (did you mean "purge"?); allowed here: purge, deadlines, compliance-report, log-retention, erasure-retry',
      ],
    ]);
  });

  test("top level: version missing, region header, job schedules", async () => {
    const folder = fixture("top-level");
    assertProblems(await problemsOf(folder), folder, [
      [folder, "version", 'is missing; give the policy a version such as "2026-11-01"'],
      ["policy.yaml:2:1", "regionHeader", '"x region" is not an HTTP header name'],
      ["policy.yaml:4:3", "jobs.purge", '"*/15 * * *" is not a cron expression: give 5 fields'],
      ["policy.yaml:5:3", "jobs.deadlines", '"every hour" is not a cron expression'],
    ]);
  });
});

describe("loadPolicy: an object instead of a folder", () => {
  const valid = () => ({
    version: "1",
    defaults: { region: "EU" },
    purposes: {
      service: {
        description: "Play music",
        legalBasis: "contract",
        fields: { itemId: "keep" },
        window: 5,
        retention: "7d",
      },
    },
    regions: {
      EU: { countries: ["de"], model: "opt-in", frameworks: ["GDPR"], requestDeadline: "1mo", logRetention: "3y" },
    },
  });

  test("is validated and compiled the same way, with no sources", async () => {
    const policy = await loadPolicy(valid());
    assert.deepEqual(policy.sources, []);
    assert.deepEqual(policy.routes, []);
    assert.deepEqual({ ...policy.jobs }, {});
    assert.equal(policy.regionHeader, undefined);
    assert.deepEqual(policy.regions["EU"]?.countries, ["DE"]);
    assert.deepEqual(policy.purposes["service"]?.fields["itemId"], { kind: "keep" });
  });

  test("problems name paths only", async () => {
    const broken = { ...valid(), version: 3, routes: { "POST /x": "nope" }, extra: true };
    assert.deepEqual(await problemsOf(broken), [
      'version: must be text: write it in quotes, e.g. "2026-11-01"',
      "extra: unknown key; allowed here: version, defaults, purposes, routes, regions, regionHeader, gpcLastUpdate, jobs, telemetry",
      'routes."POST /x": no purpose named "nope"; purposes are: service',
    ]);
  });

  test("empty text is refused", async () => {
    const base = valid();
    const broken = {
      ...base,
      version: "",
      purposes: { service: { ...base.purposes.service, description: "" } },
      regions: { EU: { ...base.regions.EU, frameworks: [""] } },
    };
    assert.deepEqual(await problemsOf(broken), [
      "version: must not be empty",
      "purposes.service.description: must not be empty",
      "regions.EU.frameworks[0]: must not be empty",
    ]);
  });

  test("the object is not changed or frozen", async () => {
    const input = valid();
    await loadPolicy(input);
    assert.ok(!Object.isFrozen(input.regions.EU));
    assert.ok(!Object.isFrozen(input.regions.EU.frameworks));
    assert.ok(!Object.isFrozen(input.purposes.service.fields));
    assert.deepEqual(input.regions.EU.countries, ["de"]);
  });
});
