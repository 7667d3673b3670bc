/**
 * The request's CASL ability and the effective decisions, apart from HTTP:
 * who may collect what for which purpose, and who may act on whose data.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  buildAbility,
  collectableFields,
  complianceLog,
  purposeSubject,
  subjectData,
} from "../../src/decision/ability.ts";
import { type Choice, decide } from "../../src/decision/decide.ts";
import { effectiveDecisions } from "../../src/decision/effective.ts";
import type { Policy } from "../../src/policy/types.ts";
import { compiledPolicy } from "../support/policy.ts";

const policy = compiledPolicy();
const ability = (input: { allowed?: string[]; subjectId?: string; roles?: string[] }) =>
  buildAbility({ policy, allowedPurposes: input.allowed ?? [], subjectId: input.subjectId, roles: input.roles ?? [] });

describe("buildAbility", () => {
  test("collect is allowed for the allowed purposes only, with their kept fields (drops left out)", () => {
    const a = ability({ allowed: ["personalization", "service"], subjectId: "alice" });
    assert.equal(a.can("collect", purposeSubject("personalization")), true);
    assert.equal(a.can("collect", purposeSubject("service")), true);
    assert.equal(a.can("collect", purposeSubject("advertising")), false);
    assert.deepEqual(collectableFields(a, "personalization").sort(), ["action", "durationMs", "itemId", "location"]);
    assert.deepEqual(collectableFields(a, "advertising"), []);
  });

  test("a purpose that collects no field (none listed, or all dropped) is allowed with no field at all", () => {
    const { advertising, personalization } = policy.purposes;
    const dropped = Object.fromEntries(Object.entries(personalization!.fields).filter(([, r]) => r.kind === "drop"));
    assert.ok(Object.keys(dropped).length > 0, "the test policy drops some field of personalization");
    const withEmpty: Policy = {
      ...policy,
      purposes: {
        ...policy.purposes,
        "on-device": { ...advertising!, name: "on-device", fields: {} },
        "drops-only": { ...personalization!, name: "drops-only", fields: dropped },
      },
    };
    const a = buildAbility({
      policy: withEmpty,
      allowedPurposes: ["on-device", "drops-only", "personalization"],
      subjectId: "alice",
      roles: [],
    });
    for (const name of ["on-device", "drops-only"]) {
      assert.equal(a.can("collect", purposeSubject(name)), true, name);
      assert.deepEqual(collectableFields(a, name), [], name);
      for (const field of ["itemId", "userAgent", "location.lat"])
        assert.equal(a.can("collect", purposeSubject(name), field), false, `${name}.${field}`);
    }
    assert.equal(a.can("collect", purposeSubject("personalization"), "itemId"), true, "others keep their fields");
  });

  test("a purpose the policy lacks grants nothing, even when listed as allowed", () => {
    const a = ability({ allowed: ["karaoke"] });
    assert.equal(a.can("collect", purposeSubject("karaoke")), false);
  });

  test("a subject acts on its own data only", () => {
    const a = ability({ subjectId: "alice" });
    for (const action of ["read", "export", "erase", "change"] as const) {
      assert.equal(a.can(action, subjectData("alice")), true, action);
      assert.equal(a.can(action, subjectData("bob")), false, action);
    }
    assert.equal(a.can("read", complianceLog("EU")), false);
  });

  test("anonymous requests act on nobody's data", () => {
    const a = ability({});
    assert.equal(a.can("read", subjectData("alice")), false);
    assert.equal(a.can("erase", subjectData("")), false);
    assert.equal(a.can("read", "SubjectData"), false, "no rule about subjects' data at all");
  });

  test("an agent acts on anyone's data; a DPO reads compliance logs; other roles add nothing", () => {
    const agent = ability({ subjectId: "agent-1", roles: ["agent"] });
    for (const action of ["read", "export", "erase", "change"] as const)
      assert.equal(agent.can(action, subjectData("bob")), true, action);
    assert.equal(agent.can("read", complianceLog("EU")), false);
    const dpo = ability({ subjectId: "dpo-1", roles: ["dpo"] });
    assert.equal(dpo.can("read", complianceLog("EU")), true);
    assert.equal(dpo.can("read", subjectData("bob")), false);
    const other = ability({ subjectId: "x", roles: ["support_agent_readonly", "DPO"] });
    assert.equal(other.can("read", subjectData("bob")), false);
    assert.equal(other.can("read", complianceLog("EU")), false);
  });

  test("the subject helpers tag what they describe", () => {
    assert.deepEqual({ ...purposeSubject("service") }, { name: "service" });
    assert.deepEqual({ ...subjectData("alice") }, { subjectId: "alice" });
    assert.deepEqual({ ...complianceLog("EU") }, { region: "EU" });
  });
});

describe("effectiveDecisions", () => {
  test("every purpose of the policy, in order, with the subject's choice and the decision here", () => {
    const granted: Choice = {
      granted: true,
      overrideGpc: false,
      receiptId: "r-1",
      at: new Date("2026-11-02T10:00:00Z"),
    };
    const choices = new Map([["personalization", granted]]);
    const where = { region: "US-CA", gpc: true };
    const effective = effectiveDecisions(policy, where, choices);
    assert.deepEqual(
      effective.map((e) => e.purpose.name),
      Object.keys(policy.purposes),
    );
    for (const e of effective) {
      assert.equal(e.purpose, policy.purposes[e.purpose.name]);
      assert.equal(e.choice, choices.get(e.purpose.name));
      assert.deepEqual(e.decision, decide({ policy, purpose: e.purpose.name, ...where, choice: e.choice }));
    }
    const byName = Object.fromEntries(effective.map((e) => [e.purpose.name, e.decision]));
    assert.equal(byName.personalization!.allowed, true);
    assert.equal(byName.advertising!.source, "gpc", "GPC in California refuses the sale/share purpose");
  });
});

describe("decide with a policy whose default region is missing", () => {
  // The loader refuses such a policy; if one got through, decisions still fail closed instead of throwing.
  const broken: Policy = { ...policy, regions: {}, defaults: { ...policy.defaults, region: "NOWHERE" } };

  test("consent purposes are refused as opt-in, with or without GPC", () => {
    for (const gpc of [false, true]) {
      const decision = decide({ policy: broken, purpose: "advertising", region: "US-CA", gpc, choice: undefined });
      assert.deepEqual(decision, {
        allowed: false,
        purpose: "advertising",
        region: "NOWHERE",
        source: "region-default",
        legalBasis: "consent",
        reason: "consent_required",
      });
    }
  });
});
