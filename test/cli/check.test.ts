import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { discreteLaplaceDeltaForThreshold, laplaceDeltaForThreshold } from "../../src/noise/index.ts";
import { loadPolicy } from "../../src/policy/load.ts";
import { cliHere } from "../support/child.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = (name: string) => path.relative(process.cwd(), path.join(root, "test/policy/fixtures", name));
const shipped = path.relative(process.cwd(), path.join(root, "policies"));

/** The "what a new user gets" table as rows: purpose/region → [by default, with GPC]. */
function decisions(out: readonly string[]): Map<string, [string, string]> {
  const start = out.findIndex((line) => line.startsWith("purpose ") && line.includes("by default"));
  assert.ok(start >= 0, `no decision table in:\n${out.join("\n")}`);
  const rows = new Map<string, [string, string]>();
  let purpose = "";
  for (const line of out.slice(start + 2)) {
    if (line.trim() === "") break;
    const [name = "", region = "", byDefault = "", withGpc = ""] = line.split(/ {2,}/);
    purpose = name || purpose;
    rows.set(`${purpose}/${region}`, [byDefault, withGpc]);
  }
  return rows;
}

/** The table printed under `title`: its header and rows, split into cells (the dashed rule left out). */
function tableAfter(out: readonly string[], title: string): string[][] {
  const start = out.indexOf(title);
  assert.ok(start >= 0, `no "${title}" in:\n${out.join("\n")}`);
  const rows: string[][] = [];
  for (const [index, line] of out.slice(start + 1).entries()) {
    if (index === 1) continue;
    if (line.trim() === "" || !line.includes("  ")) break;
    rows.push(line.split(/ {2,}/));
  }
  return rows;
}

describe("consentgate check", () => {
  test("the shipped policy: a table of purposes × regions, exit 0", async () => {
    const { code, out, err } = await cliHere("check", shipped);
    assert.equal(code, 0);
    assert.deepEqual(err, []);
    assert.match(
      out[0] ?? "",
      /^Policy 2026-11-01 is valid: 5 purposes, 5 regions, 3 routes, 1 release, 1 federated model\.$/,
    );
    const table = decisions(out);
    assert.equal(table.size, 25);
    assert.deepEqual(table.get("service/EU"), ["allowed (contract)", "allowed (contract)"]);
    assert.deepEqual(table.get("personalization/EU"), [
      "denied until consent (opt-in)",
      "denied until consent (opt-in)",
    ]);
    assert.deepEqual(table.get("personalization/US-CA"), ["allowed (opt-out)", "allowed (opt-out)"]);
    assert.deepEqual(table.get("advertising/US-CA"), ["allowed (opt-out)", "denied (GPC)"]);
    assert.deepEqual(table.get("advertising/US-CO"), ["allowed (opt-out)", "denied (GPC)"]);
    assert.deepEqual(table.get("advertising/UK"), ["denied until consent (opt-in)", "denied until consent (opt-in)"]);
    // Playlists are the service the listener asked for: kept with no window, until they object or erase.
    assert.deepEqual(table.get("library/EU"), ["allowed (contract)", "allowed (contract)"]);
    assert.ok(out.some((line) => /^library\s+EU\s+.*\snone\s+-$/.test(line)));
    // On-device recommendations are profiling too: asked for like personalization, and it stores nothing on the server.
    assert.deepEqual(table.get("on-device/EU"), ["denied until consent (opt-in)", "denied until consent (opt-in)"]);
    assert.deepEqual(table.get("on-device/US-CA"), ["allowed (opt-out)", "allowed (opt-out)"]);
    assert.ok(out.some((line) => /^on-device\s+EU\s+.*\snone\s+-$/.test(line)));
    // Window and retention on each purpose's first row; request deadlines in the regions table.
    assert.ok(out.some((line) => /^personalization\s+EU\s+.*\s50\s+90d$/.test(line)));
    assert.ok(
      out.some((line) => /^US-CA\s+opt-out\s+CCPA\s+opt-out-of-sale-or-share\s+45d\s+24mo\s+US-CA$/.test(line)),
    );
    assert.ok(out.some((line) => /^EU\s+opt-in\s+GDPR\s+-\s+1mo\s+3y\s+30 countries$/.test(line)));
    assert.ok(out.some((line) => /^POST \/api\/likes\s+personalization$/.test(line)));
    assert.ok(out.includes("POST /api/playlists  library"));
    // Its one release, with the threshold it implies; it has no telemetry metrics, so that table is not printed.
    assert.ok(
      out.some((line) =>
        /^popular\s+personalization\s+itemId\s+1\s+1e-9\s+10\s+10\s+225\s+224\.33\s+1d\s+epsilon 8 per 30d$/.test(line),
      ),
    );
    assert.ok(!out.some((line) => line.startsWith("Telemetry")));
    // Its federated model, with what its noise implies: noise 2 is rho 1/8 a round, epsilon 2.42 at delta 1e-6 for
    // one round; twelve rounds (rho 1.5, epsilon 9.85) fit a budget of 10 where thirteen (rho 1.625) do not.
    assert.deepEqual(tableAfter(out, "Federated learning: models trained on the devices").slice(1), [
      [
        "recommender",
        "on-device",
        "16",
        "100",
        "1",
        "trimmed-mean (0.1)",
        "2",
        "0.125",
        "epsilon 2.42",
        "12",
        "epsilon 10 at delta 0.000001",
      ],
    ]);
  });

  test("legal bases other than consent, sensitive purposes, and GPC where the region gives it no meaning", async () => {
    const { code, out } = await cliHere("check", fixture("all-rules"));
    assert.equal(code, 0);
    const table = decisions(out);
    assert.deepEqual(table.get("telemetry/EU"), ["allowed (legitimate-interest)", "allowed (legitimate-interest)"]);
    assert.deepEqual(table.get("health/US-CA"), [
      "denied until consent (sensitive)",
      "denied until consent (sensitive)",
    ]);
    assert.deepEqual(table.get("ads/US-CA"), ["allowed (opt-out)", "denied (GPC)"]);
    assert.deepEqual(table.get("ads/US"), ["allowed (opt-out)", "allowed (opt-out)"]);
    assert.ok(out.some((line) => /^ads\s+EU\s+.*\snone\s+-$/.test(line)));
  });

  test("releases and telemetry metrics: one row each, with their parameters", async () => {
    const folder = fixture("insights");
    const { code, out, err } = await cliHere("check", folder);
    assert.equal(code, 0);
    assert.deepEqual(err, []);
    assert.equal(
      out[0],
      "Policy 2026-11-01 is valid: 2 purposes, 1 region, 0 routes, 2 releases, 2 telemetry metrics.",
    );
    const releases = tableAfter(out, "Insights: differentially private releases");
    assert.deepEqual(releases[0], [
      "release",
      "purpose",
      "key",
      "epsilon",
      "delta",
      "maxKeys",
      "noise scale",
      "threshold",
      "Google τ",
      "every",
      "budget",
    ]);
    // Noise scale maxKeys / epsilon: 10 / 1 and 1 / 0.5. The thresholds are checked below against their definition.
    assert.deepEqual(
      releases.slice(1).map((row) => [...row.slice(0, 7), ...row.slice(9)]),
      [
        ["popular", "personalization", "itemId", "1", "1e-9", "10", "10", "1d", "epsilon 8 per 30d"],
        ["popular-artists", "personalization", "artist", "0.5", "0.001", "1", "2", "1mo", "epsilon 0.5 per 1y"],
      ],
    );
    for (const [row, l0, epsilon, delta] of [
      [releases[1], 10, 1, 1e-9],
      [releases[2], 1, 0.5, 1e-3],
    ] as const) {
      const noise = { l0, lInf: 1, epsilon };
      // The threshold is the smallest integer at which one subject's key (true count 1) passes with at most delta.
      const threshold = BigInt(row?.[7] ?? "");
      assert.ok(discreteLaplaceDeltaForThreshold(noise, threshold) <= delta, `threshold ${threshold} too low`);
      assert.ok(discreteLaplaceDeltaForThreshold(noise, threshold - 1n) > delta, `threshold ${threshold} too high`);
      // Google's, printed to two decimals, gives delta back for continuous Laplace noise.
      const google = Number(row?.[8]);
      assert.ok(laplaceDeltaForThreshold(noise, google + 0.005) <= delta);
      assert.ok(laplaceDeltaForThreshold(noise, google - 0.005) >= delta);
      assert.ok(
        google <= Number(threshold) && Number(threshold) <= Math.ceil(google + 0.5),
        "exact = Google's rounded up",
      );
    }
    const metrics = tableAfter(out, "Telemetry: local differential privacy, randomized on the device");
    assert.deepEqual(metrics, [
      ["metric", "purpose", "epsilon", "hashes (k)", "width (m)", "limit per subject"],
      ["genre-skips", "diagnostics", "4", "1024", "32768", "1 report per 1d"],
      ["crashes", "diagnostics", "10", "65536", "4096", "3 reports per 1mo"],
    ]);
  });

  test("--json has the releases, by purpose and by name, and the metrics", async () => {
    const { code, out } = await cliHere("check", fixture("insights"), "--json");
    assert.equal(code, 0);
    const json = JSON.parse(out.join("\n")) as Record<string, any>;
    const popular = {
      name: "popular",
      purpose: "personalization",
      key: "itemId",
      epsilon: 1,
      delta: 1e-9,
      maxKeys: 10,
      every: { amount: 1, unit: "d", text: "1d" },
      budget: { epsilon: 8, per: { amount: 30, unit: "d", text: "30d" } },
    };
    assert.deepEqual(json["purposes"].personalization.insights.popular, popular);
    assert.deepEqual(json["insights"].popular, popular);
    // What the parameters imply, as the table prints it.
    const table = tableAfter(
      (await cliHere("check", fixture("insights"))).out,
      "Insights: differentially private releases",
    );
    assert.deepEqual(json["implied"].insights.popular, {
      noiseScale: 10,
      threshold: Number(table[1]?.[7]),
      googleThreshold: json["implied"].insights.popular.googleThreshold,
    });
    assert.equal(json["implied"].insights.popular.googleThreshold.toFixed(2), table[1]?.[8]);
    assert.equal(json["implied"].insights["popular-artists"].noiseScale, 2);
    assert.deepEqual(json["telemetry"]["genre-skips"], {
      name: "genre-skips",
      purpose: "diagnostics",
      epsilon: 4,
      sketch: { hashes: 1024, width: 32768 },
      limit: { reports: 1, per: { amount: 1, unit: "d", text: "1d" } },
    });
  });

  test("broken releases and metrics: the problems start-up reports, exit 1", async () => {
    const folder = fixture("insights-invalid");
    const expected = await loadPolicy(folder).then(
      () => assert.fail("expected the fixture to be invalid"),
      (error: { details: { problems: string[] } }) => error.details.problems,
    );
    const { code, out, err } = await cliHere("check", folder);
    assert.equal(code, 1);
    assert.deepEqual(out, []);
    assert.deepEqual(err, [...expected, `${folder}: ${expected.length} problems; the policy is not valid`]);
    assert.ok(err.some((line) => line.startsWith(`${folder}/b.yaml:9:7: purposes.advertising.insights.by-duration:`)));
  });

  test("the folder defaults to ./policies", async () => {
    assert.equal(process.cwd(), path.resolve(root), "run the tests from the package root");
    const { code, out } = await cliHere("check");
    assert.equal(code, 0);
    assert.ok(out.some((line) => line.includes("policies/purposes.yaml")));
  });

  test("a broken policy: every problem on stderr with file and line, exit 1", async () => {
    const folder = fixture("syntax-error");
    const { code, out, err } = await cliHere("check", folder);
    assert.equal(code, 1);
    assert.deepEqual(out, []);
    assert.deepEqual(err, [
      `${folder}/defaults.yaml:3:11: YAML syntax error: Nested mappings are not allowed in compact mappings`,
      `${folder}/purposes.yaml:5:25: purposes.service.fields.itemId.bucket: must be a number greater than 0 (numbers are rounded down to a multiple of it), not -5`,
      `${folder}/regions.yaml:3:3: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }`,
      `${folder}: 3 problems; the policy is not valid`,
    ]);
  });

  test("prints the same problems start-up reports", async () => {
    const folder = fixture("regions");
    const expected = await loadPolicy(folder).then(
      () => assert.fail("expected the fixture to be invalid"),
      (error: { details: { problems: string[] } }) => error.details.problems,
    );
    const { code, err } = await cliHere("check", folder);
    assert.equal(code, 1);
    assert.deepEqual(err.slice(0, -1), expected);
    assert.ok(err.slice(0, -1).every((line) => line.startsWith(`${folder}/policy.yaml:`)));
  });

  test("--json prints the compiled policy", async () => {
    const { code, out, err } = await cliHere("check", shipped, "--json");
    assert.equal(code, 0);
    assert.deepEqual(err, []);
    const json = JSON.parse(out.join("\n")) as Record<string, any>;
    assert.equal(json["version"], "2026-11-01");
    assert.deepEqual(json["purposes"].personalization.fields.durationMs, { kind: "bucket", size: 1000 });
    assert.deepEqual(json["purposes"].service.retention, { amount: 7, unit: "d", text: "7d" });
    assert.deepEqual(json["routes"][0], { method: "POST", path: "/api/plays", purpose: "personalization" });
    assert.equal(json["countryRegions"]["US-CO"], "US-CO");
    assert.equal(json["countryRegions"]["NO"], "EU");
    assert.equal(json["regions"]["US-CA"].gpc, "opt-out-of-sale-or-share");
  });

  test("--json on a broken policy reports its problems as one JSON error on stderr, exit 1", async () => {
    const text = await cliHere("check", fixture("routes"));
    const { code, out, err } = await cliHere("check", fixture("routes"), "--json");
    assert.equal(code, 1);
    assert.deepEqual(out, []);
    assert.equal(err.length, 1);
    const { error } = JSON.parse(err[0]!);
    assert.equal(error.code, "policy_invalid");
    assert.equal(error.message, text.err.at(-1));
    assert.deepEqual(error.problems, text.err.slice(0, -1));
    assert.equal(error.problems.length, 6);
  });
});

describe("consentgate usage", () => {
  test("an unknown command: usage on stderr, exit 2", async () => {
    const { code, out, err } = await cliHere("chek");
    assert.equal(code, 2);
    assert.deepEqual(out, []);
    assert.equal(err[0], 'unknown command "chek" (did you mean "check"?)');
    assert.ok(err.includes("usage: consentgate <command> [options] [--json]"));
    assert.ok(err.some((line) => line.startsWith("  check [folder]")));
  });
  test("no command: usage on stderr, exit 2", async () => {
    const { code, err } = await cliHere();
    assert.equal(code, 2);
    assert.equal(err[0], "usage: consentgate <command> [options] [--json]");
  });
  test("an unknown flag: the reason and the command's usage on stderr, exit 2", async () => {
    const { code, out, err } = await cliHere("check", "--jsn");
    assert.equal(code, 2);
    assert.deepEqual(out, []);
    assert.match(err[0] ?? "", /Unknown option '--jsn'/);
    assert.equal(err[1], "usage: consentgate check [folder]");
  });
  test("two folders: exit 2", async () => {
    const { code, err } = await cliHere("check", "a", "b");
    assert.equal(code, 2);
    assert.equal(err[0], "check takes one folder, got 2");
  });
  test("help goes to stdout, exit 0", async () => {
    assert.equal((await cliHere("--help")).code, 0);
    assert.equal((await cliHere("help")).out[0], "usage: consentgate <command> [options] [--json]");
    const { code, out } = await cliHere("check", "--help");
    assert.equal(code, 0);
    assert.equal(out[0], "usage: consentgate check [folder]");
  });
});

describe("the consentgate bin", () => {
  test("runs as a real process", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "check", "policies"], { cwd: root });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(stderr, "");
    assert.equal(code, 0);
    assert.match(stdout, /^Policy 2026-11-01 is valid/);
    assert.match(stdout, /advertising\s+EU\s+denied until consent \(opt-in\)/);
  });
});
