/**
 * The host app's own tables, reached through the host's own Prisma client:
 * the one module that calls it. It reads the client's schema (to check a
 * mapping at start-up), wraps the client in the extension that hands every
 * operation to the gate, and runs the statements the rights and the purge
 * job need on the mapped models. Consentgate never writes raw SQL into a
 * host's tables: the host's client knows its column names, types and maps.
 */
import { createRequire } from "node:module";
import { Prisma } from "@prisma/client/extension";
import { ConsentgateError } from "../errors.ts";

/** A scalar or relation field of a host model, as Prisma's schema engine describes it (the DMMF). */
export interface HostField {
  readonly name: string;
  readonly kind: "scalar" | "object" | "enum" | "unsupported";
  readonly type: string;
  readonly isList: boolean;
  readonly isRequired: boolean;
  readonly isId: boolean;
  readonly hasDefaultValue: boolean;
  readonly isUpdatedAt: boolean;
  /** On the side of a relation that holds the foreign key: its columns, and the fields they reference. */
  readonly relationFromFields?: readonly string[];
  readonly relationToFields?: readonly string[];
  /** Pairs the two sides of a relation. */
  readonly relationName?: string;
}

/** A host model as the DMMF describes it. */
export interface HostModel {
  readonly name: string;
  readonly fields: readonly HostField[];
  /** A composite primary key (`@@id`); null when a field is `@id`. */
  readonly primaryKey: { readonly fields: readonly string[] } | null;
}

/** What the statements below need of a mapped model. */
export interface HostTable {
  /** The Prisma model's name. */
  readonly model: string;
  /** The field that names the subject. */
  readonly subject: string;
  /** The field holding when the row was written; undefined → no retention or window applies. */
  readonly createdAt: string | undefined;
  /** The primary key's fields. */
  readonly key: readonly string[];
}

/** One operation on the extended client, as the gate sees it. */
export interface HostOperation {
  /** The model operated on; undefined for raw queries (`$queryRaw`, `$executeRaw`, …). */
  readonly model: string | undefined;
  /** create, update, upsert, createMany, findMany, $queryRaw, … */
  readonly operation: string;
  readonly args: unknown;
  /** It runs inside the host's `$transaction`, so it commits only when that does. */
  readonly inTransaction: boolean;
  /** Runs the operation with (possibly rewritten) arguments on the host's client. */
  run(args: unknown): Promise<unknown>;
}

/** Something with the shape of a generated Prisma client; the host's own. */
// biome-ignore lint/suspicious/noExplicitAny: the host's client type is the host's, unknown to Consentgate.
export type HostClient = any;

/** The gate's side of a client it was applied to. */
export interface HostBinding {
  /** Every operation on the extended client. */
  operation(operation: HostOperation): Promise<unknown>;
}

/**
 * The Prisma Client extension: checks the client at `$extends` (the
 * `connect` callback throws `invalid_option` for a mapping that does not fit
 * its schema), then routes every operation through the gate.
 */
export function hostExtension(connect: (client: HostClient, models: readonly HostModel[]) => HostBinding) {
  return Prisma.defineExtension((client) => {
    const binding = connect(client, hostModelsOf(client));
    return client.$extends({
      name: "consentgate",
      query: {
        // Async, so that a refusal thrown while planning rejects the host's promise like a database error would.
        $allOperations: async (params) => {
          const { model, operation, args, query } = params;
          // Prisma's own record of the operation says whether it runs in a transaction (interactive or batch).
          const internal = (params as { __internalParams?: { transaction?: unknown } }).__internalParams;
          return binding.operation({
            model,
            operation,
            args,
            inTransaction: internal?.transaction !== undefined,
            run: (rewritten) => query(rewritten as typeof args),
          });
        },
      },
    });
  });
}

const require = createRequire(import.meta.url);
/** Prisma's schema engine (WebAssembly), loaded on first use: only hosts that gate their own models pay for it. */
let schemaEngine: { get_dmmf(params: string): string } | undefined;

/**
 * The models of a generated client, with what the checks need (required,
 * defaults, keys, relations). The client's own runtime data model leaves
 * those out, so the schema the client was generated from (embedded in it)
 * is read by the same version of Prisma's schema engine the CLI uses.
 */
function hostModelsOf(client: HostClient): HostModel[] {
  const schema: unknown = client?._engineConfig?.inlineSchema;
  if (typeof schema !== "string") {
    throw new ConsentgateError(
      "invalid_option",
      "prismaExtension: this is not a Prisma 6 client generated from a schema (its schema cannot be read); apply the extension to `new PrismaClient(…)`",
    );
  }
  schemaEngine ??= require("@prisma/prisma-schema-wasm") as { get_dmmf(params: string): string };
  const dmmf = JSON.parse(schemaEngine.get_dmmf(JSON.stringify({ prismaSchema: [["schema.prisma", schema]] })));
  return dmmf.datamodel.models as HostModel[];
}

/** The model's delegate on a client: `prisma.playlistTrack` for model PlaylistTrack. */
function delegate(client: HostClient, model: string) {
  return client[model.charAt(0).toLowerCase() + model.slice(1)];
}

type Row = Record<string, unknown>;

/**
 * Every row of the subject's, for an export, in key order, as the client
 * returns them (the export writes dates as ISO text, big integers as text).
 */
export async function subjectRows(client: HostClient, table: HostTable, subjectId: string): Promise<Row[]> {
  const rows: Row[] = await delegate(client, table.model).findMany({
    where: { [table.subject]: subjectId },
    orderBy: table.key.map((field) => ({ [field]: "asc" })),
  });
  return rows;
}

/** How many rows the subject has. */
export async function countSubjectRows(client: HostClient, table: HostTable, subjectId: string): Promise<number> {
  return delegate(client, table.model).count({ where: { [table.subject]: subjectId } });
}

/** Deletes every row of the subject's; how many. */
export async function deleteSubjectRows(client: HostClient, table: HostTable, subjectId: string): Promise<number> {
  const { count } = await delegate(client, table.model).deleteMany({ where: { [table.subject]: subjectId } });
  return count;
}

/** How many rows were written before `cutoff` (a dry run of deleteWrittenBefore). */
export async function countWrittenBefore(
  client: HostClient,
  table: HostTable & { createdAt: string },
  cutoff: Date,
): Promise<number> {
  const count: number = await delegate(client, table.model).count({ where: { [table.createdAt]: { lt: cutoff } } });
  return count;
}

/** Deletes up to `batchSize` rows written before `cutoff`; how many. */
export async function deleteWrittenBefore(
  client: HostClient,
  table: HostTable & { createdAt: string },
  cutoff: Date,
  batchSize: number,
): Promise<number> {
  const keys: Row[] = await delegate(client, table.model).findMany({
    where: { [table.createdAt]: { lt: cutoff } },
    select: selectKey(table),
    take: batchSize,
  });
  return deleteKeys(client, table, keys);
}

/** A subject holding more rows than its window, and how many it holds. */
export interface CrowdedSubject {
  readonly subjectId: string;
  readonly rows: number;
}

/**
 * Up to `batchSize` subjects holding more than `window` rows written at or
 * after `since`, after `after` in subject order (a walk's cursor).
 */
export async function crowdedSubjects(
  client: HostClient,
  table: HostTable & { createdAt: string },
  walk: { window: number; since: Date; after: string; batchSize: number },
): Promise<CrowdedSubject[]> {
  const groups: Row[] = await delegate(client, table.model).groupBy({
    by: [table.subject],
    where: { [table.subject]: { gt: walk.after }, [table.createdAt]: { gte: walk.since } },
    _count: { _all: true },
    having: { [table.subject]: { _count: { gt: walk.window } } },
    orderBy: { [table.subject]: "asc" },
    take: walk.batchSize,
  });
  return groups.map((group) => ({
    subjectId: String(group[table.subject]),
    rows: (group._count as { _all: number })._all,
  }));
}

/**
 * Deletes up to `batchSize` of the subject's rows past its newest `window`
 * (newest by createdAt, then key); how many.
 */
export async function deleteBeyondWindow(
  client: HostClient,
  table: HostTable & { createdAt: string },
  subjectId: string,
  window: number,
  batchSize: number,
): Promise<number> {
  const keys: Row[] = await delegate(client, table.model).findMany({
    where: { [table.subject]: subjectId },
    select: selectKey(table),
    orderBy: [{ [table.createdAt]: "desc" }, ...table.key.map((field) => ({ [field]: "desc" }))],
    skip: window,
    take: batchSize,
  });
  return deleteKeys(client, table, keys);
}

function selectKey(table: HostTable): Row {
  return Object.fromEntries(table.key.map((field) => [field, true]));
}

async function deleteKeys(client: HostClient, table: HostTable, keys: Row[]): Promise<number> {
  if (keys.length === 0) return 0;
  const [only] = table.key;
  const where = table.key.length === 1 ? { [only!]: { in: keys.map((key) => key[only!]) } } : { OR: keys };
  const { count } = await delegate(client, table.model).deleteMany({ where });
  return count;
}
