/**
 * The policies tests run under: the acceptance tests' policy as the YAML
 * loader takes it, and a compiled policy written by hand for the decision
 * rules' own tests. Also the policy tests' way of reading the problems of a
 * policy that fails to load.
 */
import assert from "node:assert/strict";
import { isConsentgateError } from "../../src/errors.ts";
import { loadPolicy } from "../../src/policy/load.ts";
import type { Duration, FieldRule, LegalBasis, Policy, Purpose, Region } from "../../src/policy/types.ts";

type Entries = Record<string, Record<string, unknown>>;

/**
 * The policy the acceptance tests run under, given as an object (the YAML
 * shape of docs/policy-reference.md). `overrides` replace its top-level keys,
 * except `purposes` and `regions`, which change entry by entry: an object
 * merges into the entry of that name (or adds one), null removes it.
 */
export function testPolicy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { purposes, regions, ...rest } = overrides;
  const base = {
    version: "test-1",
    defaults: { region: "EU", unmappedWrites: "reject" },
    regionHeader: "x-region",
    purposes: {
      service: {
        description: "Play the music the user asked for",
        legalBasis: "contract",
        fields: { itemId: "keep", action: "keep" },
        window: 20,
        retention: "7d",
      },
      personalization: {
        description: "Recommend music from recent listening",
        legalBasis: "consent",
        fields: {
          itemId: "keep",
          action: "keep",
          durationMs: { bucket: 1000 },
          location: { geohash: 5 },
          userAgent: "drop",
          "device.os": "keep",
          "device.model": { maxLength: 4 },
          "context.at": { truncate: "hour" },
          "context.ip": { ip: 24 },
        },
        window: 5,
        retention: "90d",
      },
      advertising: {
        description: "Show ads from partners",
        legalBasis: "consent",
        saleOrShare: true,
        fields: { itemId: "keep" },
        window: 10,
        retention: "30d",
      },
      analytics: {
        description: "Count plays per track",
        legalBasis: "legitimate-interest",
        fields: { itemId: "keep" },
        window: 3,
        retention: "30d",
      },
    },
    routes: {
      "POST /api/plays": "personalization",
      "POST /api/mapped-without-code": "personalization",
    },
    regions: {
      EU: {
        countries: ["DE", "FR"],
        model: "opt-in",
        frameworks: ["GDPR"],
        requestDeadline: "1mo",
        logRetention: "3y",
      },
      "US-CA": {
        countries: ["US-CA"],
        model: "opt-out",
        frameworks: ["CCPA"],
        gpc: "opt-out-of-sale-or-share",
        requestDeadline: "45d",
        logRetention: "24mo",
      },
      OTHER: { model: "opt-in", requestDeadline: "1mo", logRetention: "1y" },
    },
  };
  return {
    ...base,
    ...rest,
    purposes: changed(base.purposes, purposes as Record<string, object | null> | undefined),
    regions: changed(base.regions, regions as Record<string, object | null> | undefined),
  };
}

/**
 * The acceptance policy with an `on-device` purpose that trains the
 * `recommender` model (docs/learning.md): each learning test states only the
 * model settings its promise depends on (dimensions, round size, noise,
 * budget, aggregation); the rest are these defaults.
 */
export function onDevicePolicy(
  learning: Record<string, unknown>,
  purpose: Record<string, unknown> = {},
): Record<string, unknown> {
  return testPolicy({
    purposes: {
      "on-device": {
        description: "Recommend music on your device; your plays never leave it",
        legalBasis: "consent",
        ...purpose,
        learning: {
          model: "recommender",
          round: { minClients: 2, maxOpen: "1d" },
          clip: 1,
          // A trim belongs to the trimmed mean only; other aggregations refuse one.
          ...((learning.aggregation ?? "trimmed-mean") === "trimmed-mean"
            ? { aggregation: "trimmed-mean", trim: 0.1 }
            : {}),
          noise: 1,
          budget: { epsilon: 10, delta: 1e-6 },
          ...learning,
        },
      },
    },
  });
}

function changed(entries: Entries, changes: Record<string, object | null> | undefined): Entries {
  const result = { ...entries };
  for (const [name, change] of Object.entries(changes ?? {})) {
    if (change === null) delete result[name];
    else result[name] = { ...result[name], ...change };
  }
  return result;
}

const duration = (text: string): Duration => {
  const match = /^(\d+)(d|mo|y)$/.exec(text)!;
  return { amount: Number(match[1]), unit: match[2] as Duration["unit"], text };
};

const purpose = (
  name: string,
  legalBasis: LegalBasis,
  fields: Record<string, FieldRule>,
  flags: { saleOrShare?: boolean; sensitive?: boolean } = {},
): Purpose => ({
  name,
  description: `The ${name} purpose`,
  legalBasis,
  saleOrShare: flags.saleOrShare ?? false,
  sensitive: flags.sensitive ?? false,
  fields,
  window: 20,
  retention: duration("30d"),
  onWithdrawal: "purge",
  insights: {},
  learning: undefined,
});

const region = (name: string, model: Region["model"], countries: string[], rest: Partial<Region> = {}): Region => ({
  name,
  countries,
  model,
  frameworks: [],
  gpc: undefined,
  requestDeadline: duration("1mo"),
  logRetention: duration("1y"),
  ...rest,
});

/** A complete compiled Policy written by hand, so the decision rules are tested apart from the YAML loader. */
export function compiledPolicy(): Policy {
  const keep: FieldRule = { kind: "keep" };
  const regions = {
    EU: region("EU", "opt-in", ["AT", "DE", "FR"], { frameworks: ["GDPR"], logRetention: duration("3y") }),
    "US-CA": region("US-CA", "opt-out", ["US-CA"], {
      frameworks: ["CCPA"],
      gpc: "opt-out-of-sale-or-share",
      requestDeadline: duration("45d"),
      logRetention: duration("24mo"),
    }),
    OTHER: region("OTHER", "opt-in", []),
  };
  return {
    version: "2026-11-01",
    defaults: { region: "EU", unmappedWrites: "reject" },
    purposes: {
      service: purpose("service", "contract", { itemId: keep, action: keep }),
      personalization: purpose("personalization", "consent", {
        itemId: keep,
        action: keep,
        durationMs: { kind: "bucket", size: 1000 },
        location: { kind: "geohash", precision: 5 },
        userAgent: { kind: "drop" },
      }),
      advertising: purpose("advertising", "consent", { itemId: keep }, { saleOrShare: true }),
      health: purpose("health", "consent", { heartRate: { kind: "bucket", size: 10 } }, { sensitive: true }),
      analytics: purpose("analytics", "legitimate-interest", { action: keep, at: { kind: "truncate", unit: "hour" } }),
    },
    routes: [],
    regions,
    regionHeader: undefined,
    gpcLastUpdate: undefined,
    jobs: {},
    insights: {},
    telemetry: {},
    learning: {},
    countryRegions: new Map(
      Object.values(regions).flatMap((r) => r.countries.map((country) => [country, r.name] as const)),
    ),
    sources: [],
  };
}

/** The problems loadPolicy lists for an invalid policy (failing the test when it loads). */
export async function problemsOf(source: string | Record<string, unknown>): Promise<string[]> {
  const error = await loadPolicy(source).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isConsentgateError(error, "policy_invalid"), `expected policy_invalid, got ${String(error)}`);
  const problems = error.details.problems ?? [];
  assert.equal(error.message, `policy is invalid:\n${problems.join("\n")}`);
  return problems;
}

export type Expected = readonly [where: string, key: string, message: string];

/** Every problem is one of `expected` (`where: key: …message…`), and each expected one is there. */
export function assertProblems(problems: readonly string[], folder: string, expected: readonly Expected[]): void {
  for (const [where, key, message] of expected) {
    const prefix = [where.includes(":") ? `${folder}/${where}` : where, key].filter(Boolean).join(": ") + ": ";
    assert.ok(
      problems.some((p) => p.startsWith(prefix) && p.includes(message)),
      `expected a problem "${prefix}…${message}…" in:\n${problems.join("\n")}`,
    );
  }
  assert.equal(problems.length, expected.length, `unexpected problems:\n${problems.join("\n")}`);
}
