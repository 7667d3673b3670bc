/** A complete compiled Policy written by hand, so the decision rules are tested apart from the YAML loader. */
import type { Duration, FieldRule, LegalBasis, Policy, Purpose, Region } from "../../src/policy/types.ts";

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

export function testPolicy(): Policy {
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
    jobs: {},
    countryRegions: new Map(Object.values(regions).flatMap((r) => r.countries.map((country) => [country, r.name] as const))),
    sources: [],
  };
}
