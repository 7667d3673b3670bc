/**
 * The mapping of `gate.prismaExtension({ models })`, resolved once: first
 * against the policy (when the host calls it), then against the host's
 * Prisma schema (when the extension is applied to a client). Every problem
 * is collected, so one start-up lists them all.
 */
import { z } from "zod";
import { ConsentgateError } from "../errors.ts";
import type { Policy, Purpose } from "../policy/types.ts";
import type { HostField, HostModel, HostTable } from "../store/host-tables.ts";

/**
 * How one of the host's Prisma models meets the gate: the purpose its rows
 * are collected for, the field naming whose data a row is, and optionally
 * when it was written and which fields pass the minimizer as they are.
 *
 * @example
 * ```ts
 * import type { GatedModel } from "consentgate";
 *
 * const like: GatedModel = { purpose: "personalization", subject: "listenerId", createdAt: "createdAt" };
 * ```
 */
export interface GatedModel {
  /** The purpose the model's rows are collected for: every write is decided and minimized for it. */
  purpose: string;
  /** The String field holding the subject's id (the `subject` option's answer for the row's person). */
  subject: string;
  /**
   * The DateTime field holding when the row was written. With it, the purge
   * job deletes rows older than the purpose's `retention` and trims each
   * subject to its `window`; without it, rows stay until erased or withdrawn.
   */
  createdAt?: string;
  /**
   * Fields that pass as they are, outside the purpose's field rules (keys,
   * foreign keys, timestamps). Default: the primary key, `createdAt`,
   * `@updatedAt` fields and foreign keys. Given, it replaces the default.
   */
  structural?: readonly string[];
}

/**
 * `gate.prismaExtension()`'s options: the host's models that meet the gate,
 * by Prisma model name.
 *
 * @example
 * ```ts
 * import type { PrismaExtensionOptions } from "consentgate";
 *
 * const options: PrismaExtensionOptions = {
 *   models: {
 *     Like: { purpose: "personalization", subject: "listenerId", createdAt: "createdAt" },
 *     Listener: { purpose: "service", subject: "id" },
 *   },
 * };
 * ```
 */
export interface PrismaExtensionOptions {
  /** How each gated model meets the gate, by its Prisma model name (`Like`, not the table's name). */
  models: Readonly<Record<string, GatedModel>>;
}

/** A relation field of a model, as a nested write follows it. */
export interface Relation {
  /** The model at its other end. */
  readonly model: string;
  readonly isList: boolean;
  /** Foreign-key fields on this model and the other model's fields they reference (FK on this side). */
  readonly own: { readonly from: readonly string[]; readonly to: readonly string[] } | undefined;
  /** Foreign-key fields on the other model and this model's fields they reference (FK on that side). */
  readonly other: { readonly from: readonly string[]; readonly to: readonly string[] } | undefined;
}

/** A model of the host's schema, with what a nested write walk needs, gated or not. */
export interface SchemaModel {
  readonly name: string;
  /** Scalar (and enum) fields by name. */
  readonly scalars: ReadonlyMap<string, HostField>;
  readonly relations: ReadonlyMap<string, Relation>;
  /** How the gate treats its writes; undefined when it is not gated. */
  readonly gated: ResolvedModel | undefined;
  /** A write to it can reach a gated model (itself, or through its relations): only those are planned. */
  readonly reachesGated: boolean;
}

/** A gated model, resolved against the policy and the schema. */
export interface ResolvedModel extends HostTable {
  readonly purpose: Purpose;
  /** Fields that pass as they are: the subject field and the structural ones. */
  readonly passes: ReadonlySet<string>;
  /** Top-level fields the purpose keeps in some form (a rule other than drop). */
  readonly kept: ReadonlySet<string>;
  /** The models its own foreign keys reference (a cascade from them reaches it). */
  readonly references: ReadonlySet<string>;
}

/** The host's schema as the gate walks it, by model name. */
export type Schema = ReadonlyMap<string, SchemaModel>;

const FIELD = z.string().min(1).max(128);
const OPTIONS = z.strictObject({
  models: z.record(
    z.string().min(1).max(128),
    z.strictObject({
      purpose: z.string().min(1),
      subject: FIELD,
      createdAt: FIELD.optional(),
      structural: z.array(FIELD).optional(),
    }),
  ),
});

/** Checks the options' shape and purposes when the host calls `gate.prismaExtension()`. */
export function checkOptions(policy: Policy, options: unknown): PrismaExtensionOptions {
  const parsed = OPTIONS.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${["options", ...issue.path].join(".")}: ${issue.message}`);
    throw invalid(problems);
  }
  const problems: string[] = [];
  for (const [name, model] of Object.entries(parsed.data.models)) {
    if (!Object.hasOwn(policy.purposes, model.purpose))
      problems.push(
        `models.${name}.purpose: no purpose "${model.purpose}" in the policy (known: ${Object.keys(policy.purposes).join(", ")})`,
      );
  }
  if (Object.keys(parsed.data.models).length === 0) problems.push("models: map at least one model");
  if (problems.length > 0) throw invalid(problems);
  return parsed.data;
}

/**
 * Resolves the mapping against the client's models: an unknown model or
 * field, a subject field that is not a String, a createdAt that is not a
 * DateTime, or a required field without a default that the purpose's rules
 * would drop (every create would fail) is a problem; all are listed.
 */
export function resolveSchema(policy: Policy, options: PrismaExtensionOptions, models: readonly HostModel[]): Schema {
  const byName = new Map(models.map((model) => [model.name, model]));
  const problems: string[] = [];
  const resolved = new Map<string, ResolvedModel>();
  for (const [name, mapping] of Object.entries(options.models)) {
    const model = byName.get(name);
    if (!model) {
      problems.push(
        `models.${name}: no model "${name}" in the client's schema (models: ${[...byName.keys()].join(", ")})`,
      );
      continue;
    }
    const gated = resolveModel(policy.purposes[mapping.purpose]!, model, mapping, problems);
    if (gated) resolved.set(name, gated);
  }
  if (problems.length > 0) throw invalid(problems);
  const built = new Map(models.map((model) => [model.name, schemaModel(model, byName, resolved.get(model.name))]));
  // Worked out once here rather than walked on every write: models whose relations lead to a gated one.
  const reaching = new Set([...resolved.keys()]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const model of built.values())
      if (!reaching.has(model.name) && [...model.relations.values()].some((r) => reaching.has(r.model))) {
        reaching.add(model.name);
        grew = true;
      }
  }
  return new Map([...built].map(([name, model]) => [name, { ...model, reachesGated: reaching.has(name) }]));
}

function resolveModel(
  purpose: Purpose,
  model: HostModel,
  mapping: GatedModel,
  problems: string[],
): ResolvedModel | undefined {
  const at = `models.${model.name}`;
  const fields = new Map(model.fields.map((field) => [field.name, field]));
  const scalar = (path: string, name: string, type?: string): boolean => {
    const field = fields.get(name);
    if (!field || field.kind === "object") {
      problems.push(`${path}: no scalar field "${name}" in model ${model.name}`);
      return false;
    }
    if (type !== undefined && (field.type !== type || field.isList)) {
      problems.push(
        `${path}: field "${name}" of model ${model.name} is ${field.type}${field.isList ? "[]" : ""}, not ${type}`,
      );
      return false;
    }
    return true;
  };
  const before = problems.length;
  scalar(`${at}.subject`, mapping.subject, "String");
  if (mapping.createdAt !== undefined) scalar(`${at}.createdAt`, mapping.createdAt, "DateTime");
  for (const name of mapping.structural ?? []) scalar(`${at}.structural`, name);

  const key = model.primaryKey?.fields ?? model.fields.filter((field) => field.isId).map((field) => field.name);
  if (key.length === 0) problems.push(`${at}: model ${model.name} has no primary key (@id or @@id)`);
  const structural =
    mapping.structural ??
    model.fields
      .filter(
        (field) =>
          key.includes(field.name) ||
          field.isUpdatedAt ||
          field.name === mapping.createdAt ||
          model.fields.some((relation) => relation.relationFromFields?.includes(field.name)),
      )
      .map((field) => field.name);
  // A field that does not exist would also make the required-field check below misfire; one problem is enough.
  if (problems.length > before) return undefined;
  const passes = new Set([mapping.subject, ...structural]);
  const kept = new Set(
    Object.entries(purpose.fields)
      .filter(([, rule]) => rule.kind !== "drop")
      .map(([path]) => path.split(".")[0]!),
  );
  for (const field of model.fields) {
    if (field.kind === "object" || !field.isRequired || field.hasDefaultValue || field.isUpdatedAt) continue;
    if (passes.has(field.name) || kept.has(field.name)) continue;
    problems.push(
      `${at}: required field "${field.name}" has no default and purpose "${purpose.name}" drops it, so every create would fail; list it in the purpose's fields or in structural`,
    );
  }
  if (problems.length > before) return undefined;
  const references = new Set(
    model.fields.filter((field) => field.kind === "object" && field.relationFromFields?.length).map((f) => f.type),
  );
  return {
    model: model.name,
    subject: mapping.subject,
    createdAt: mapping.createdAt,
    key,
    purpose,
    passes,
    kept,
    references,
  };
}

function schemaModel(
  model: HostModel,
  byName: Map<string, HostModel>,
  gated: ResolvedModel | undefined,
): Omit<SchemaModel, "reachesGated"> {
  const scalars = new Map<string, HostField>();
  const relations = new Map<string, Relation>();
  for (const field of model.fields) {
    if (field.kind !== "object") {
      scalars.set(field.name, field);
      continue;
    }
    const back = byName
      .get(field.type)
      ?.fields.find((other) => other.kind === "object" && other.relationName === field.relationName && other !== field);
    const sides = (f: HostField | undefined) =>
      f?.relationFromFields?.length ? { from: f.relationFromFields, to: f.relationToFields ?? [] } : undefined;
    relations.set(field.name, { model: field.type, isList: field.isList, own: sides(field), other: sides(back) });
  }
  return { name: model.name, scalars, relations, gated };
}

function invalid(problems: string[]): ConsentgateError {
  return new ConsentgateError("invalid_option", `prismaExtension: ${problems.join("; ")}`, { problems });
}

/**
 * `models` with each before every model of them it references through a
 * foreign key of its own (PlaylistTrack before Playlist before Listener):
 * the order erasing a subject's rows takes, so that each model's rows are
 * deleted, and counted, before a cascade from its parent could take them
 * uncounted. A reference cycle is cut where the walk meets it.
 */
export function childrenFirst(models: readonly ResolvedModel[]): ResolvedModel[] {
  const ordered: ResolvedModel[] = [];
  const visited = new Set<string>();
  const visit = (model: ResolvedModel): void => {
    if (visited.has(model.model)) return;
    visited.add(model.model);
    for (const child of models) if (child !== model && child.references.has(model.model)) visit(child);
    ordered.push(model);
  };
  for (const model of models) visit(model);
  return ordered;
}
