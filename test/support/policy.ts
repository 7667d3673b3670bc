/** The policy the acceptance tests run under, given as an object (the YAML shape of docs/policy-reference.md). */
export function testPolicy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
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
      EU: { countries: ["DE", "FR"], model: "opt-in", frameworks: ["GDPR"], requestDeadline: "1mo", logRetention: "3y" },
      "US-CA": { countries: ["US-CA"], model: "opt-out", frameworks: ["CCPA"], gpc: "opt-out-of-sale-or-share", requestDeadline: "45d", logRetention: "24mo" },
      OTHER: { model: "opt-in", requestDeadline: "1mo", logRetention: "1y" },
    },
    ...overrides,
  };
}
