/**
 * What one write on the host's client does to gated models, worked out
 * before it runs: the arguments rewritten (data minimized by the purpose's
 * field rules, the subject field checked or filled in, filters of other
 * people's rows cut off) and every (model, subject) it writes, which the gate
 * then decides. Pure: nothing here reads a database or a clock.
 *
 * Nested writes are followed through relations (create, createMany,
 * connectOrCreate, upsert, update, updateMany, and the filters of connect,
 * set, disconnect, delete, deleteMany), so a gated model is gated however it
 * is reached. A nested create whose subject field the relation fills in
 * from the parent is checked against the parent's value; when that value
 * cannot be known before the write, the write is refused.
 */
import { ConsentgateError } from "../errors.ts";
import type { Minimizer } from "../minimize/index.ts";
import type { ResolvedModel, Schema, SchemaModel } from "./models.ts";

/** Who the write is for: the context's subject, and whether it may write for others (role agent). */
export interface Writer {
  readonly subject: string | undefined;
  readonly agent: boolean;
  /** Inside a request (anonymous when subject is undefined), or with no context at all. */
  readonly inRequest: boolean;
}

/** One gated model the write reaches, and whose rows there it writes. */
export interface Reach {
  readonly model: ResolvedModel;
  readonly subject: string;
  /** Rows are created (not only changed): a race with a withdrawal is settled by deleting them. */
  readonly creates: boolean;
}

export interface Plan {
  readonly args: unknown;
  /** Distinct (model, subject) pairs written, in the order met. */
  readonly reaches: readonly Reach[];
}

/** Operations that change rows. Everything else (finds, counts, aggregates) passes untouched. */
export const WRITE_OPERATIONS: ReadonlySet<string> = new Set([
  "create",
  "createMany",
  "createManyAndReturn",
  "update",
  "updateMany",
  "updateManyAndReturn",
  "upsert",
  "delete",
  "deleteMany",
]);

/** A parent value the nested write depends on but that is not known before the write runs. */
const UNKNOWN = Symbol("unknown");
type Known = Readonly<Record<string, unknown>> | typeof UNKNOWN;

type Data = Record<string, unknown>;

/**
 * Plans a write operation on `modelName`; undefined when it reaches no gated
 * model (the gate lets it pass as it is).
 *
 * @throws {ConsentgateError} `forbidden` for another subject's id in the subject field (unless
 * the writer is an agent) or a subject that cannot be known before the write; `no_context` when
 * a gated model is reached and there is no subject; `invalid_body` for data the purpose's rules
 * cannot apply to.
 */
export function planWrite(
  schema: Schema,
  minimizers: ReadonlyMap<string, Minimizer>,
  writer: Writer,
  modelName: string,
  operation: string,
  args: unknown,
): Plan | undefined {
  const model = schema.get(modelName);
  if (!model?.reachesGated) return undefined;
  const walk = new Walk(schema, minimizers, writer);
  const a = { ...(args as Data) };
  switch (operation) {
    case "create":
      a.data = walk.create(model, a.data, undefined);
      break;
    case "createMany":
    case "createManyAndReturn":
      a.data = each(a.data, (item) => walk.create(model, item, undefined));
      break;
    case "update":
    case "updateMany":
    case "updateManyAndReturn": {
      const scope = walk.scope(model, a.where);
      a.where = scope.where;
      a.data = walk.update(model, a.data, scope.subject, known(a.where));
      break;
    }
    case "upsert": {
      const scope = walk.scope(model, a.where);
      a.where = scope.where;
      a.create = walk.create(model, a.create, undefined);
      a.update = walk.update(model, a.update, scope.subject, known(a.where));
      break;
    }
    case "delete":
    case "deleteMany":
      a.where = walk.scope(model, a.where).where;
      break;
    default:
      return undefined;
  }
  return { args: a, reaches: walk.reaches };
}

class Walk {
  readonly reaches: Reach[] = [];

  constructor(
    private readonly schema: Schema,
    private readonly minimizers: ReadonlyMap<string, Minimizer>,
    private readonly writer: Writer,
  ) {}

  /** The data of one created row. `implied`: values the relation from a parent fills in. */
  create(model: SchemaModel, data: unknown, implied: Known | undefined): unknown {
    if (!isObject(data)) return data;
    const { out, relations } = splitRelations(model, data);
    const gated = model.gated;
    if (gated) {
      const subject = this.subjectOfCreate(model, gated, out, relations, implied);
      this.reach(gated, subject, true);
      Object.assign(out, this.minimize(model, gated, out, "create"));
    }
    for (const [key, value] of relations) out[key] = this.nested(model, key, value, out);
    return out;
  }

  /** The data of an update of rows of `subject` (undefined for a model that is not gated). */
  update(model: SchemaModel, data: unknown, subject: string | undefined, where: Known): unknown {
    if (!isObject(data)) return data;
    const { out, relations } = splitRelations(model, data);
    const gated = model.gated;
    if (gated) {
      const value = unwrapSet(out[gated.subject]);
      if (value !== undefined && value !== subject) this.refuseSubject(gated, value);
      for (const [key, ops] of relations) {
        const relation = model.relations.get(key)!;
        if (!relation.own?.from.includes(gated.subject)) continue;
        const through = subjectThrough(relation, gated, ops);
        if (through !== subject) this.refuseSubject(gated, through);
      }
      this.reach(gated, subject!, false);
      Object.assign(out, this.minimize(model, gated, out, "update"));
    }
    for (const [key, value] of relations) out[key] = this.nested(model, key, value, where);
    return out;
  }

  /**
   * A filter of a gated model's rows, cut to the writer's subject: another
   * subject's rows are out of reach. An agent names the subject in the filter.
   */
  scope(model: SchemaModel, where: unknown): { where: unknown; subject: string | undefined } {
    const gated = model.gated;
    if (!gated) return { where, subject: undefined };
    const named = isObject(where) ? where[gated.subject] : undefined;
    if (this.writer.agent) {
      if (typeof named !== "string")
        throw new ConsentgateError(
          "forbidden",
          `an agent's write to ${model.name} names the subject in where.${gated.subject}`,
          { purpose: gated.purpose.name },
        );
      return { where, subject: named };
    }
    const subject = this.subject(gated);
    if (named !== undefined && named !== subject && typeof named !== "object") this.refuseSubject(gated, named);
    const scoped = isObject(where) ? { ...where, [gated.subject]: subject } : { [gated.subject]: subject };
    // A filter on the subject field itself (`{ in: [...] }`, `{ not: … }`) stays, ANDed with the subject's own.
    if (isObject(named)) return { where: { ...scoped, AND: [{ [gated.subject]: named }, ...andOf(where)] }, subject };
    return { where: scoped, subject };
  }

  /** A relation field's nested operations, on the model at its other end. */
  private nested(parent: SchemaModel, key: string, ops: unknown, parentValues: Known): unknown {
    const relation = parent.relations.get(key)!;
    const target = this.schema.get(relation.model);
    if (!target?.reachesGated || !isObject(ops)) return ops;
    const implied = this.implied(target, relation, parentValues);
    const out: Data = {};
    for (const [op, value] of Object.entries(ops)) {
      switch (op) {
        case "create":
          out[op] = each(value, (item) => this.create(target, item, implied));
          break;
        case "createMany":
          out[op] = isObject(value)
            ? { ...value, data: each(value.data, (item) => this.create(target, item, implied)) }
            : value;
          break;
        case "connectOrCreate":
          out[op] = each(value, (item) =>
            isObject(item)
              ? {
                  ...item,
                  where: this.scope(target, item.where).where,
                  create: this.create(target, item.create, implied),
                }
              : item,
          );
          break;
        case "upsert":
          out[op] = each(value, (item) => {
            if (!isObject(item)) return item;
            const scope = item.where === undefined ? this.scopeOne(target) : this.scope(target, item.where);
            return {
              ...item,
              ...(scope.where === undefined ? {} : { where: scope.where }),
              create: this.create(target, item.create, implied),
              update: this.update(target, item.update, scope.subject, UNKNOWN),
            };
          });
          break;
        case "update":
          out[op] = each(value, (item) => {
            if (!isObject(item)) return item;
            // A list relation's update names its row ({ where, data }); a to-one's may give the data alone.
            const wrapped =
              relation.isList ||
              (Object.hasOwn(item, "data") && Object.keys(item).every((k) => k === "data" || k === "where"));
            const scope = wrapped && item.where !== undefined ? this.scope(target, item.where) : this.scopeOne(target);
            const data = this.update(target, wrapped ? item.data : item, scope.subject, UNKNOWN);
            if (scope.where === undefined) return wrapped ? { ...item, data } : data;
            return { where: scope.where, data };
          });
          break;
        case "updateMany":
          out[op] = each(value, (item) => {
            if (!isObject(item)) return item;
            const scope = this.scope(target, item.where);
            return { ...item, where: scope.where, data: this.update(target, item.data, scope.subject, UNKNOWN) };
          });
          break;
        case "connect":
        case "set":
        case "disconnect":
        case "delete":
        case "deleteMany":
          // true/false (to-one disconnect and delete) name the one related row; filters are cut to the subject.
          out[op] =
            typeof value === "boolean" || !target.gated
              ? value
              : each(value, (where) => this.scope(target, where).where);
          break;
        default:
          out[op] = value;
      }
    }
    return out;
  }

  /** A to-one relation's single row, reached without a filter: for a gated model, only if it is the writer's own. */
  private scopeOne(model: SchemaModel): { where: Data | undefined; subject: string | undefined } {
    if (!model.gated) return { where: undefined, subject: undefined };
    if (this.writer.agent)
      throw new ConsentgateError("forbidden", `an agent's nested write to ${model.name} names the subject in where`, {
        purpose: model.gated.purpose.name,
      });
    const subject = this.subject(model.gated);
    return { where: { [model.gated.subject]: subject }, subject };
  }

  /** Values a nested create of `target` gets from its parent through the relation (its foreign key). */
  private implied(
    target: SchemaModel,
    relation: { other?: { from: readonly string[]; to: readonly string[] } },
    parent: Known,
  ): Known | undefined {
    const fk = relation.other;
    if (!fk) return undefined;
    if (parent === UNKNOWN) return UNKNOWN;
    return Object.fromEntries(fk.from.map((field, i) => [field, parent[fk.to[i]!] ?? UNKNOWN]));
  }

  private subjectOfCreate(
    model: SchemaModel,
    gated: ResolvedModel,
    scalars: Data,
    relations: [string, unknown][],
    implied: Known | undefined,
  ): string {
    if (Object.hasOwn(scalars, gated.subject)) {
      const value = scalars[gated.subject];
      return this.allowed(gated, value);
    }
    if (implied !== undefined && (implied === UNKNOWN || Object.hasOwn(implied, gated.subject))) {
      const value = implied === UNKNOWN ? UNKNOWN : implied[gated.subject];
      if (value === UNKNOWN)
        throw new ConsentgateError(
          "forbidden",
          `a nested create of ${model.name} takes ${gated.subject} from a parent row whose ${gated.subject} is not known before the write; write it with its parent's key in the filter or data`,
          { purpose: gated.purpose.name },
        );
      return this.allowed(gated, value);
    }
    for (const [key, ops] of relations) {
      const relation = model.relations.get(key)!;
      if (relation.own?.from.includes(gated.subject)) return this.allowed(gated, subjectThrough(relation, gated, ops));
    }
    // Not named: the row is the writer's own.
    const subject = this.subject(gated);
    scalars[gated.subject] = subject;
    return subject;
  }

  /** The writer's subject; a gated write without one has no context to be decided in. */
  private subject(gated: ResolvedModel): string {
    if (this.writer.subject === undefined && this.writer.inRequest)
      throw new ConsentgateError("unauthenticated", `a row of ${gated.model} belongs to a signed-in subject`, {
        purpose: gated.purpose.name,
      });
    if (this.writer.subject === undefined)
      throw new ConsentgateError(
        "no_context",
        `a write to ${gated.model} needs a subject: make it in a request that passed gate.middleware() with a signed-in subject, or inside gate.as({ subject }, fn)`,
        { purpose: gated.purpose.name },
      );
    return this.writer.subject;
  }

  /** A subject named in the data: the writer's own, or anyone's for an agent. */
  private allowed(gated: ResolvedModel, value: unknown): string {
    if (typeof value !== "string" || value === "")
      throw new ConsentgateError(
        "forbidden",
        `${gated.model}.${gated.subject} must be a subject id known before the write`,
        {
          purpose: gated.purpose.name,
        },
      );
    if (this.writer.agent) return value;
    if (value !== this.subject(gated)) this.refuseSubject(gated, value);
    return value;
  }

  private refuseSubject(gated: ResolvedModel, value: unknown): never {
    if (this.writer.agent)
      throw new ConsentgateError(
        "forbidden",
        `${gated.model}.${gated.subject} cannot be changed: a row stays with the subject it was collected from`,
        { purpose: gated.purpose.name },
      );
    if (typeof value !== "string")
      throw new ConsentgateError(
        "forbidden",
        `${gated.model}.${gated.subject} must be a subject id known before the write`,
        {
          purpose: gated.purpose.name,
        },
      );
    throw new ConsentgateError(
      "forbidden",
      `${gated.model}.${gated.subject} names another subject: a subject writes only their own rows (role agent may act for others)`,
      { purpose: gated.purpose.name },
    );
  }

  private reach(model: ResolvedModel, subject: string, creates: boolean): void {
    const same = this.reaches.findIndex((r) => r.model === model && r.subject === subject);
    if (same === -1) this.reaches.push({ model, subject, creates });
    else if (creates && !this.reaches[same]!.creates) this.reaches[same] = { model, subject, creates };
  }

  /**
   * The purpose's field rules applied to the fields that do not pass as they
   * are: the fields it does not keep are removed, the others transformed. An
   * update's `{ set: v }` is minimized as `v`; an arithmetic update
   * (`{ increment: 1 }`) can only be applied to a field the purpose keeps as is.
   */
  private minimize(model: SchemaModel, gated: ResolvedModel, data: Data, operation: "create" | "update"): Data {
    const free: Data = {};
    const nulls: string[] = [];
    const arithmetic: Data = {};
    for (const [key, raw] of Object.entries(data)) {
      if (gated.passes.has(key)) continue;
      delete data[key];
      if (!gated.kept.has(key)) continue;
      const field = model.scalars.get(key);
      let value = raw;
      if (operation === "update" && field?.type !== "Json" && isObject(value)) {
        if (Object.keys(value).length === 1 && Object.hasOwn(value, "set")) value = value.set;
        else if (gated.purpose.fields[key]?.kind === "keep") {
          arithmetic[key] = value;
          continue;
        } else
          throw new ConsentgateError(
            "invalid_body",
            `${model.name}.${key}: purpose "${gated.purpose.name}" transforms this field, so it can only be set to a value, not changed by ${Object.keys(value).join(", ")}`,
            { purpose: gated.purpose.name },
          );
      }
      if (value === null) nulls.push(key);
      else if (value !== undefined) free[key] = value instanceof Date ? value.toISOString() : value;
    }
    const minimized = this.minimizers.get(gated.purpose.name)!(free);
    for (const key of nulls) minimized[key] = null;
    return { ...minimized, ...arithmetic };
  }
}

/** A row's data split into its scalar fields (copied, to be rewritten) and its relation fields' nested writes. */
function splitRelations(model: SchemaModel, data: Data): { out: Data; relations: [string, unknown][] } {
  const out: Data = {};
  const relations: [string, unknown][] = [];
  for (const [key, value] of Object.entries(data)) {
    if (model.relations.has(key)) relations.push([key, value]);
    else out[key] = value;
  }
  return { out, relations };
}

/** The subject a relation's nested write points the foreign key at (connect, connectOrCreate or create of the parent). */
function subjectThrough(
  relation: { own?: { from: readonly string[]; to: readonly string[] } },
  gated: ResolvedModel,
  ops: unknown,
): unknown {
  const fk = relation.own!;
  const to = fk.to[fk.from.indexOf(gated.subject)]!;
  if (!isObject(ops)) return UNKNOWN;
  const connect = ops.connect ?? (isObject(ops.connectOrCreate) ? ops.connectOrCreate.where : undefined);
  if (isObject(connect)) return connect[to];
  if (isObject(ops.create)) return ops.create[to];
  return UNKNOWN;
}

function known(where: unknown): Known {
  return isObject(where) ? where : UNKNOWN;
}

function unwrapSet(value: unknown): unknown {
  return isObject(value) && Object.hasOwn(value, "set") ? value.set : value;
}

function andOf(where: unknown): unknown[] {
  if (!isObject(where) || where.AND === undefined) return [];
  return Array.isArray(where.AND) ? where.AND : [where.AND];
}

function each(value: unknown, visit: (item: unknown) => unknown): unknown {
  return Array.isArray(value) ? value.map(visit) : visit(value);
}

function isObject(value: unknown): value is Data {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
