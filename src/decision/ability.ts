/**
 * The request's CASL ability: one object that answers every "may this
 * happen?" question about a request. `collect` on a purpose carries the
 * purpose's field allow-list, so `permittedFieldsOf` yields exactly the fields
 * the minimizer keeps; `read`/`export`/`erase` on a subject's data and `read`
 * on a region's compliance log encode who may exercise which right.
 */
import {
  AbilityBuilder,
  type ForcedSubject,
  type MongoAbility,
  createMongoAbility,
  subject as tag,
} from "@casl/ability";
import { permittedFieldsOf } from "@casl/ability/extra";
import type { Policy } from "../policy/types.ts";

/**
 * Who is acting on a request (for admin and agent routes), as the `actor`
 * option returns it. Role `agent` may act for any subject named in
 * `?subject=`; role `dpo` reads the compliance logs and reports.
 *
 * @example
 * ```ts
 * import { type Actor, createConsentgate } from "consentgate";
 *
 * const staff = new Map<string, Actor>([["dana", { id: "dana", roles: ["dpo"] }]]);
 * const gate = await createConsentgate({
 *   database: "memory",
 *   subject: (req) => req.get("x-user"),
 *   actor: (req) => staff.get(req.get("x-user") ?? ""),
 * });
 * ```
 */
export interface Actor {
  /** Names the actor in logs and on what they change (1-256 characters). */
  id: string;
  /** The actor's roles; `agent` and `dpo` mean something to the gate, others are ignored. */
  roles: string[];
}

export type Action = "collect" | "read" | "export" | "erase" | "change";
export type PurposeSubject = { name: string } & ForcedSubject<"Purpose">;
export type SubjectDataSubject = { subjectId: string } & ForcedSubject<"SubjectData">;
export type ComplianceLogSubject = { region: string } & ForcedSubject<"ComplianceLog">;
/**
 * The CASL ability `req.privacy.ability()` returns: `collect` on a
 * `Purpose` (with its fields), `read`/`export`/`erase`/`change` on a
 * subject's `SubjectData`, `read` on a region's `ComplianceLog`. Build the
 * subjects with CASL's `subject()` helper.
 *
 * @example
 * ```ts
 * import { subject } from "@casl/ability";
 * import { permittedFieldsOf } from "@casl/ability/extra";
 * import type { AppAbility } from "consentgate";
 *
 * const collectable = (ability: AppAbility, purpose: string) =>
 *   permittedFieldsOf(ability, "collect", subject("Purpose", { name: purpose }), { fieldsFrom: (rule) => rule.fields ?? [] });
 * app.get("/api/fields", async (req, res) => {
 *   res.json(collectable(await req.privacy.ability(), "personalization"));
 * });
 * ```
 */
export type AppAbility = MongoAbility<
  [Action, "Purpose" | PurposeSubject | "SubjectData" | SubjectDataSubject | "ComplianceLog" | ComplianceLogSubject]
>;

export interface AbilityInput {
  policy: Policy;
  /** Purposes the decision rules allow for this request's subject, region and signals. */
  allowedPurposes: Iterable<string>;
  /** The data subject the request is about (undefined → anonymous). */
  subjectId: string | undefined;
  /** Roles of whoever is acting. */
  roles: readonly string[];
}

export function buildAbility({ policy, allowedPurposes, subjectId, roles }: AbilityInput): AppAbility {
  const { can, cannot, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
  for (const name of allowedPurposes) {
    const purpose = policy.purposes[name];
    if (!purpose) continue;
    const fields = Object.entries(purpose.fields)
      .filter(([, rule]) => rule.kind !== "drop")
      .map(([path]) => path);
    if (fields.length > 0) {
      can("collect", "Purpose", fields, { name });
    } else {
      // A purpose that collects no field (e.g. one that only learns on devices): CASL refuses an empty
      // field list, and a rule without one would allow every field. Allowed, but every field ("**") denied.
      can("collect", "Purpose", { name });
      cannot("collect", "Purpose", ["**"], { name });
    }
  }
  if (subjectId !== undefined) can(["read", "export", "erase", "change"], "SubjectData", { subjectId });
  // An agent acts for any subject (and is logged as the actor); a DPO reads compliance logs.
  if (roles.includes("agent")) can(["read", "export", "erase", "change"], "SubjectData");
  if (roles.includes("dpo")) can("read", "ComplianceLog");
  return build();
}

export const purposeSubject = (name: string): PurposeSubject => tag("Purpose", { name });
export const subjectData = (subjectId: string): SubjectDataSubject => tag("SubjectData", { subjectId });
export const complianceLog = (region: string): ComplianceLogSubject => tag("ComplianceLog", { region });

/** The fields the ability lets this request collect for a purpose. */
export function collectableFields(ability: AppAbility, purpose: string): string[] {
  return permittedFieldsOf(ability, "collect", purposeSubject(purpose), { fieldsFrom: (rule) => rule.fields ?? [] });
}
