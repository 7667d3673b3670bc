import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadPolicy, resolveRegion } from "../../src/policy/index.ts";

const folder = fileURLToPath(new URL("../../policies", import.meta.url));
const policy = await loadPolicy(folder);

const EU_MEMBERS = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split(" ");

describe("the shipped policy", () => {
  test("loads cleanly from several files", () => {
    assert.equal(policy.version, "2026-11-01");
    assert.ok(policy.sources.length > 1);
    assert.deepEqual({ ...policy.defaults }, { region: "EU", unmappedWrites: "reject" });
    assert.equal(policy.regionHeader, "x-region");
  });

  test("has the three purposes the README describes", () => {
    const { service, personalization, advertising } = policy.purposes;
    assert.deepEqual(
      [service, personalization, advertising].map((p) => [
        p?.legalBasis,
        p?.window,
        p?.retention?.text,
        p?.saleOrShare,
        p?.sensitive,
        p?.onWithdrawal,
      ]),
      [
        ["contract", 20, "7d", false, false, "purge"],
        ["consent", 50, "90d", false, false, "purge"],
        ["consent", 10, "30d", true, false, "purge"],
      ],
    );
    assert.deepEqual({ ...service?.fields }, { itemId: { kind: "keep" }, action: { kind: "keep" } });
    assert.deepEqual(
      { ...personalization?.fields },
      {
        itemId: { kind: "keep" },
        action: { kind: "keep" },
        durationMs: { kind: "bucket", size: 1000 },
        location: { kind: "geohash", precision: 5 },
        userAgent: { kind: "drop" },
      },
    );
    assert.deepEqual({ ...advertising?.fields }, { itemId: { kind: "keep" } });
  });

  test("keeps playlists under library, on contract, with no window or retention", () => {
    const library = policy.purposes["library"];
    assert.deepEqual(
      [library?.legalBasis, library?.window, library?.retention, library?.onWithdrawal],
      ["contract", undefined, undefined, "purge"],
    );
    assert.deepEqual(
      { ...library?.fields },
      {
        name: { kind: "maxLength", length: 100 },
        tracks: { kind: "keep" },
        itemId: { kind: "keep" },
        position: { kind: "keep" },
      },
    );
  });

  test("maps plays and likes to personalization, playlists to library", () => {
    assert.deepEqual(
      policy.routes.map((r) => `${r.method} ${r.path} → ${r.purpose}`),
      ["POST /api/plays → personalization", "POST /api/likes → personalization", "POST /api/playlists → library"],
    );
  });

  test("the EU region covers the 27 member states and the EEA", () => {
    const eu = policy.regions["EU"];
    assert.deepEqual([...(eu?.countries ?? [])].sort(), [...EU_MEMBERS, "IS", "LI", "NO"].sort());
    assert.deepEqual(
      [eu?.model, eu?.frameworks, eu?.gpc, eu?.requestDeadline.text, eu?.logRetention.text],
      ["opt-in", ["GDPR"], undefined, "1mo", "3y"],
    );
  });

  test("UK, California, Colorado and the rest of the world", () => {
    const row = (name: string) => {
      const r = policy.regions[name];
      return [r?.countries, r?.model, r?.frameworks, r?.gpc, r?.requestDeadline.text, r?.logRetention.text];
    };
    assert.deepEqual(row("UK"), [["GB"], "opt-in", ["UK-GDPR"], undefined, "1mo", "3y"]);
    assert.deepEqual(row("US-CA"), [["US-CA"], "opt-out", ["CCPA"], "opt-out-of-sale-or-share", "45d", "24mo"]);
    assert.deepEqual(row("US-CO"), [["US-CO"], "opt-out", ["CPA"], "opt-out-of-sale-or-share", "45d", "24mo"]);
    assert.deepEqual(row("OTHER"), [[], "opt-in", [], undefined, "1mo", "1y"]);
  });

  test("resolves regions from the x-region header", () => {
    assert.equal(resolveRegion(policy, { header: "de" }), "EU");
    assert.equal(resolveRegion(policy, { header: "NO" }), "EU");
    assert.equal(resolveRegion(policy, { header: "GB" }), "UK");
    assert.equal(resolveRegion(policy, { header: "US-CA" }), "US-CA");
    assert.equal(resolveRegion(policy, { header: "US-CO" }), "US-CO");
    // No region lists New York or the US as a whole: the strictest region applies.
    assert.equal(resolveRegion(policy, { header: "US-NY" }), "EU");
    assert.equal(resolveRegion(policy, { explicit: "OTHER", header: "DE" }), "OTHER");
  });
});
