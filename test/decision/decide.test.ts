import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Choice, type Decision, decide } from "../../src/decision/decide.ts";
import type { Policy } from "../../src/policy/types.ts";
import { compiledPolicy } from "../support/policy.ts";

const RECEIPT = "5b1f7c8e-2a51-4c2b-9a57-0f1c2e3d4b5a";
const AT = new Date("2026-11-02T10:00:00Z");

const CHOICES = {
  none: undefined,
  granted: { granted: true, overrideGpc: false, receiptId: RECEIPT, at: AT },
  withdrawn: { granted: false, overrideGpc: false, receiptId: RECEIPT, at: AT },
  "granted with overrideGpc": { granted: true, overrideGpc: true, receiptId: RECEIPT, at: AT },
} satisfies Record<string, Choice | undefined>;
type ChoiceName = keyof typeof CHOICES;

const PURPOSES = ["service", "personalization", "advertising", "health", "analytics", "karaoke"] as const;
const REGIONS = ["EU", "US-CA", "OTHER", "MARS"] as const;

/**
 * What the fixture's purposes and regions should give, written from what each
 * purpose is rather than from the order of the rules.
 */
function oracle(
  purpose: (typeof PURPOSES)[number],
  asked: (typeof REGIONS)[number],
  gpc: boolean,
  choice: ChoiceName,
): Decision {
  const region = asked === "MARS" ? "EU" : asked;
  if (purpose === "karaoke")
    return { allowed: false, purpose, region, source: "unknown", legalBasis: undefined, reason: "unknown_purpose" };
  const legalBasis =
    ({ service: "contract", analytics: "legitimate-interest" } as const)[purpose as string] ?? "consent";
  const yes = (source: "explicit" | "legal-basis" | "region-default"): Decision => ({
    allowed: true,
    purpose,
    region,
    source,
    legalBasis,
    receiptId: source === "explicit" ? RECEIPT : undefined,
  });
  const no = (source: "explicit" | "gpc" | "region-default"): Decision => ({
    allowed: false,
    purpose,
    region,
    source,
    legalBasis,
    reason: "consent_required",
  });

  // Advertising is the only sale or share, and only California gives GPC a meaning.
  if (purpose === "advertising" && region === "US-CA" && gpc)
    return choice === "granted with overrideGpc" ? yes("explicit") : no("gpc");
  if (choice === "withdrawn") return no("explicit");
  if (choice !== "none") return yes("explicit");
  if (purpose === "service" || purpose === "analytics") return yes("legal-basis");
  if (purpose === "health") return no("region-default");
  return region === "US-CA" ? yes("region-default") : no("region-default");
}

const run = (purpose: string, region: string, gpc: boolean, choice: ChoiceName, policy: Policy = compiledPolicy()) =>
  decide({ policy, purpose, region, gpc, choice: CHOICES[choice] });

describe("decide: every purpose × region × GPC × choice", () => {
  const policy = compiledPolicy();
  for (const purpose of PURPOSES) {
    for (const region of REGIONS) {
      for (const gpc of [false, true]) {
        for (const choice of Object.keys(CHOICES) as ChoiceName[]) {
          test(`${purpose} in ${region}, GPC ${gpc ? "on" : "off"}, choice ${choice}`, () => {
            assert.deepEqual(run(purpose, region, gpc, choice, policy), oracle(purpose, region, gpc, choice));
          });
        }
      }
    }
  }
});

describe("decide: named cases", () => {
  test("rule 1: an unknown purpose is denied whatever else holds", () => {
    assert.deepEqual(run("karaoke", "US-CA", false, "granted"), {
      allowed: false,
      purpose: "karaoke",
      region: "US-CA",
      source: "unknown",
      legalBasis: undefined,
      reason: "unknown_purpose",
    });
  });

  test("rule 1: names of Object.prototype members are not purposes", () => {
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const decision = run(name, "US-CA", false, "granted");
      assert.equal(decision.allowed, false, name);
      assert.equal(!decision.allowed && decision.reason, "unknown_purpose", name);
    }
  });

  test("rule 2: GPC in US-CA denies a sale or share with no choice", () => {
    assert.deepEqual(run("advertising", "US-CA", true, "none"), {
      allowed: false,
      purpose: "advertising",
      region: "US-CA",
      source: "gpc",
      legalBasis: "consent",
      reason: "consent_required",
    });
  });

  test("rule 2: GPC in US-CA beats an earlier opt-in", () => {
    assert.equal(run("advertising", "US-CA", false, "granted").allowed, true);
    const decision = run("advertising", "US-CA", true, "granted");
    assert.equal(decision.allowed, false);
    assert.equal(decision.source, "gpc");
  });

  test("rule 2: a grant with overrideGpc wins over GPC and carries its receipt", () => {
    assert.deepEqual(run("advertising", "US-CA", true, "granted with overrideGpc"), {
      allowed: true,
      purpose: "advertising",
      region: "US-CA",
      source: "explicit",
      legalBasis: "consent",
      receiptId: RECEIPT,
    });
  });

  test("rule 2: overrideGpc on a withdrawal does not allow anything", () => {
    const choice: Choice = { granted: false, overrideGpc: true, receiptId: RECEIPT, at: AT };
    const decision = decide({ policy: compiledPolicy(), purpose: "advertising", region: "US-CA", gpc: true, choice });
    assert.equal(decision.allowed, false);
    assert.equal(decision.source, "gpc");
  });

  test("rule 2: GPC means nothing for purposes that are not a sale or share", () => {
    assert.equal(run("personalization", "US-CA", true, "none").source, "region-default");
    assert.equal(run("personalization", "US-CA", true, "none").allowed, true);
  });

  test("rule 2: GPC means nothing in a region whose policy gives it no meaning", () => {
    assert.deepEqual(run("advertising", "EU", true, "granted"), {
      allowed: true,
      purpose: "advertising",
      region: "EU",
      source: "explicit",
      legalBasis: "consent",
      receiptId: RECEIPT,
    });
    assert.equal(run("advertising", "EU", true, "none").source, "region-default");
  });

  test("rule 3: an EU opt-in allows with its receipt", () => {
    assert.deepEqual(run("personalization", "EU", false, "granted"), {
      allowed: true,
      purpose: "personalization",
      region: "EU",
      source: "explicit",
      legalBasis: "consent",
      receiptId: RECEIPT,
    });
  });

  test("rule 3: a withdrawal denies even where the model is opt-out", () => {
    assert.deepEqual(run("personalization", "US-CA", false, "withdrawn"), {
      allowed: false,
      purpose: "personalization",
      region: "US-CA",
      source: "explicit",
      legalBasis: "consent",
      reason: "consent_required",
    });
  });

  test("rule 4: legitimate interest allows without a choice, and an objection beats it", () => {
    assert.deepEqual(run("analytics", "EU", false, "none"), {
      allowed: true,
      purpose: "analytics",
      region: "EU",
      source: "legal-basis",
      legalBasis: "legitimate-interest",
      receiptId: undefined,
    });
    assert.deepEqual(run("analytics", "EU", false, "withdrawn"), {
      allowed: false,
      purpose: "analytics",
      region: "EU",
      source: "explicit",
      legalBasis: "legitimate-interest",
      reason: "consent_required",
    });
  });

  test("rule 4: a contract allows in an opt-in region", () => {
    assert.equal(run("service", "OTHER", false, "none").source, "legal-basis");
    assert.equal(run("service", "OTHER", false, "none").allowed, true);
  });

  test("rule 5: a sensitive purpose needs an explicit grant even in an opt-out region", () => {
    assert.deepEqual(run("health", "US-CA", false, "none"), {
      allowed: false,
      purpose: "health",
      region: "US-CA",
      source: "region-default",
      legalBasis: "consent",
      reason: "consent_required",
    });
    assert.equal(run("health", "US-CA", false, "granted").allowed, true);
  });

  test("rule 5: EU opt-in denies and US-CA opt-out allows without a choice", () => {
    assert.deepEqual(run("personalization", "EU", false, "none"), {
      allowed: false,
      purpose: "personalization",
      region: "EU",
      source: "region-default",
      legalBasis: "consent",
      reason: "consent_required",
    });
    assert.deepEqual(run("personalization", "US-CA", false, "none"), {
      allowed: true,
      purpose: "personalization",
      region: "US-CA",
      source: "region-default",
      legalBasis: "consent",
      receiptId: undefined,
    });
  });

  test("an unknown region is decided, and reported, as the policy's default region", () => {
    assert.deepEqual(run("personalization", "MARS", false, "none"), { ...run("personalization", "EU", false, "none") });
    assert.equal(run("personalization", "toString", false, "none").region, "EU");
    const lenient: Policy = { ...compiledPolicy(), defaults: { region: "US-CA", unmappedWrites: "reject" } };
    const decision = run("personalization", "MARS", false, "none", lenient);
    assert.equal(decision.region, "US-CA");
    assert.equal(decision.allowed, true);
    assert.equal(run("advertising", "MARS", true, "granted", lenient).source, "gpc");
  });

  test("a default region missing from the policy fails closed, as opt-in", () => {
    const broken: Policy = { ...compiledPolicy(), defaults: { region: "NOWHERE", unmappedWrites: "reject" } };
    const decision = run("personalization", "MARS", false, "none", broken);
    assert.equal(decision.allowed, false);
    assert.equal(decision.region, "NOWHERE");
    assert.equal(run("service", "MARS", false, "none", broken).allowed, true);
  });
});
