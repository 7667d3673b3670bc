import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadPolicy } from "../../src/policy/load.ts";
import { resolveRegion } from "../../src/policy/region.ts";

const policy = await loadPolicy({
  version: "1",
  defaults: { region: "EU" },
  purposes: { service: { description: "Play music", legalBasis: "contract" } },
  regions: {
    EU: { countries: ["DE", "fr", "ES-CT"], model: "opt-in", requestDeadline: "1mo", logRetention: "3y" },
    "US-CA": { countries: ["US-CA"], model: "opt-out", requestDeadline: "45d", logRetention: "24mo" },
    US: { countries: ["US"], model: "opt-out", requestDeadline: "45d", logRetention: "2y" },
    OTHER: { model: "opt-in", requestDeadline: "1mo", logRetention: "1y" },
  },
  regionHeader: "X-Region",
});

describe("resolveRegion", () => {
  test("nothing known → the default region", () => {
    assert.equal(resolveRegion(policy, {}), "EU");
    assert.equal(resolveRegion(policy, { explicit: "", header: "" }), "EU");
    assert.equal(resolveRegion(policy, { explicit: "  ", header: [] }), "EU");
  });
  test("the host names a region, in any case", () => {
    assert.equal(resolveRegion(policy, { explicit: "OTHER" }), "OTHER");
    assert.equal(resolveRegion(policy, { explicit: "other" }), "OTHER");
    assert.equal(resolveRegion(policy, { explicit: " us-ca " }), "US-CA");
  });
  test("the host gives a country or subdivision code", () => {
    assert.equal(resolveRegion(policy, { explicit: "de" }), "EU");
    assert.equal(resolveRegion(policy, { explicit: "US-NY" }), "US");
  });
  test("the host wins over the header", () => {
    assert.equal(resolveRegion(policy, { explicit: "OTHER", header: "US-CA" }), "OTHER");
  });
  test("an unknown host answer falls through to the header, then to the default", () => {
    assert.equal(resolveRegion(policy, { explicit: "Atlantis", header: "FR" }), "EU");
    assert.equal(resolveRegion(policy, { explicit: "Atlantis", header: "US-CA" }), "US-CA");
    assert.equal(resolveRegion(policy, { explicit: "Atlantis" }), "EU");
  });
  test("header codes are case-insensitive", () => {
    assert.equal(resolveRegion(policy, { header: "fr" }), "EU");
    assert.equal(resolveRegion(policy, { header: "us-ca" }), "US-CA");
  });
  test("a listed subdivision wins over its country; an unlisted one falls back to its country", () => {
    assert.equal(resolveRegion(policy, { header: "US-CA" }), "US-CA");
    assert.equal(resolveRegion(policy, { header: "US-NY" }), "US");
    assert.equal(resolveRegion(policy, { header: "ES-CT" }), "EU");
    assert.equal(resolveRegion(policy, { header: "DE-BY" }), "EU");
  });
  test("a country no region lists → the default region", () => {
    assert.equal(resolveRegion(policy, { header: "JP" }), "EU");
    assert.equal(resolveRegion(policy, { header: "XX" }), "EU"); // Cloudflare's "unknown"
    assert.equal(resolveRegion(policy, { header: "CA-QC" }), "EU");
  });
  test("the header holds country codes, not region names", () => {
    assert.equal(resolveRegion(policy, { header: "OTHER" }), "EU");
  });
  test("a repeated or comma-folded header is read by its first value", () => {
    assert.equal(resolveRegion(policy, { header: ["US-CA", "DE"] }), "US-CA");
    assert.equal(resolveRegion(policy, { header: "us-ca, DE" }), "US-CA");
  });
  test("names of Object.prototype are not regions", () => {
    assert.equal(resolveRegion(policy, { explicit: "constructor", header: "toString" }), "EU");
  });
});
