/**
 * The gate in the host's own data layer: every write the host's Prisma
 * client makes to a gated model is planned (plan.ts), decided for each
 * subject and purpose it reaches by the same rules and consent cache as an
 * HTTP write, run with its data minimized, and then checked once more
 * against what committed meanwhile (store/standing.ts), so that a write
 * racing a withdrawal or an erasure ends as if it had come before it.
 */
import type { BlockedWrites } from "../audit/blocked-writes.ts";
import type { Actor } from "../decision/ability.ts";
import { type Decision, decide } from "../decision/decide.ts";
import { refusalMessage } from "../decision/refusal.ts";
import { ConsentgateError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { GateMetrics } from "../metrics/observations.ts";
import type { Minimizer } from "../minimize/index.ts";
import type { Policy, Purpose } from "../policy/types.ts";
import {
  type HostClient,
  type HostOperation,
  countSubjectRows,
  deleteSubjectRows,
  hostExtension,
  subjectRows,
} from "../store/host-tables.ts";
import type { StandingCheck } from "../store/standing.ts";
import { type Acting, currentContext, runInContext, type WriteContext } from "./context.ts";
import {
  checkOptions,
  childrenFirst,
  type PrismaExtensionOptions,
  type ResolvedModel,
  resolveSchema,
} from "./models.ts";
import { type Plan, planWrite, type Reach, WRITE_OPERATIONS } from "./plan.ts";

/**
 * Whose data work outside a request is about, for `gate.as()`: the subject
 * (required), the purpose it is done for (writes to models of other
 * purposes are then refused), the region whose rules decide (default: the
 * policy's default region, the strictest), and who acts (role `agent` may
 * write other subjects' rows).
 *
 * @example
 * ```ts
 * import type { ActingAs } from "consentgate";
 *
 * const importer: ActingAs = { subject: "alice", purpose: "personalization", region: "EU" };
 * ```
 */
export interface ActingAs {
  /** Whose data the work is about. */
  subject: string;
  /** The purpose the work is done for: writes to models of other purposes are refused. */
  purpose?: string;
  /** The region whose rules decide; default the policy's default region (the strictest). */
  region?: string;
  /** Who acts; role `agent` may write other subjects' rows. Default: the subject. */
  actor?: Actor;
}

/**
 * What `gate.prismaExtension()` returns: a Prisma Client extension for the
 * host client's `$extends`. It adds no members, so the extended client keeps
 * every type of the host's generated client.
 *
 * @example
 * ```ts
 * import type { PrismaGateExtension } from "consentgate";
 *
 * const likes: PrismaGateExtension = gate.prismaExtension({
 *   models: { Like: { purpose: "personalization", subject: "listenerId" } },
 * });
 * const db = prisma.$extends(likes);
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: Prisma's $extends passes the host's own client type, unknown here.
export type PrismaGateExtension = (client: any) => {
  /** What Prisma's `$extends` reads from an extension: the members it adds to the client. */
  $extends: {
    /** The members added, by kind: none (the extension only gates queries). */
    extArgs: {
      /** No computed fields. */
      result: {};
      /** No model methods. */
      model: {};
      /** No typed query changes: the queries keep their types. */
      query: {};
      /** No client methods. */
      client: {};
    };
  };
};

/** What the data layer needs, filled by createConsentgate. */
export interface DataLayerDeps {
  readonly policy: Policy;
  readonly minimizers: ReadonlyMap<string, Minimizer>;
  /** The decision rules for a subject outside a request (gate.as, or the subject an agent writes for). */
  readonly actingFor: (facts: { subject: string; actor: Actor | undefined; region: string; gpc: boolean }) => Acting;
  readonly standing: StandingCheck;
  readonly blockedWrites: Pick<BlockedWrites, "add">;
  readonly logger: Logger;
  /** Counts each decision by purpose, region and outcome, as the HTTP gate does. */
  readonly metrics: Pick<GateMetrics, "decided">;
  readonly now: () => Date;
  /**
   * Told of each model the first time a client gates it, a model before the
   * models its foreign keys reference: createConsentgate joins it to export
   * and erasure as the data source `prisma.<Model>`.
   */
  readonly gated: (model: string) => void;
}

/**
 * A gated model's rows of one subject, as `GET /export` lists them under
 * the data source `prisma.<Model>`: what they are collected for, and on
 * what basis, with the rows as the host's client reads them.
 */
export interface ExportedRows {
  readonly purpose: string;
  readonly legalBasis: Purpose["legalBasis"];
  readonly rows: readonly Record<string, unknown>[];
}

/** A gated model and the client it was applied to: what the rights and the purge job reach. */
export interface BoundTable {
  readonly table: ResolvedModel;
  readonly client: HostClient;
}

/** Raw SQL operations of the client: they bypass the checks, so a subject's context refuses them. */
const RAW = /^\$(?:queryRaw|executeRaw|queryRawUnsafe|executeRawUnsafe|queryRawTyped|runCommandRaw)$/;

export function createDataLayer(deps: DataLayerDeps) {
  const { policy } = deps;
  /** The latest client each gated model was applied to, children before the models they reference (childrenFirst). */
  let bound: readonly BoundTable[] = [];
  /**
   * Requests enter their context only once an extension exists: on Node 20,
   * AsyncLocalStorage's first run installs a hook on every promise of the
   * process, a cost a host that gates no model of its own should not pay.
   */
  let extended = false;

  /** Binds the models a client gates: a model bound before keeps its place and now uses this client. */
  function bind(gated: readonly ResolvedModel[], client: HostClient): void {
    const latest = new Map(bound.map((entry) => [entry.table.model, entry]));
    const added = gated.filter((table) => !latest.has(table.model));
    for (const table of gated) latest.set(table.model, { table, client });
    const order = childrenFirst([...latest.values()].map((entry) => entry.table));
    bound = order.map((table) => latest.get(table.model)!);
    for (const table of childrenFirst(added)) deps.gated(table.model);
  }

  /** Only models bound here are registered as data sources, and a binding is never dropped. */
  const boundTable = (model: string): BoundTable => bound.find((entry) => entry.table.model === model)!;

  function prismaExtension(options: PrismaExtensionOptions): PrismaGateExtension {
    const checked = checkOptions(policy, options);
    extended = true;
    return hostExtension((client, models) => {
      const schema = resolveSchema(policy, checked, models);
      bind(
        [...schema.values()].flatMap((model) => (model.gated ? [model.gated] : [])),
        client,
      );
      return {
        operation: (operation) => {
          if (operation.model === undefined) return raw(operation);
          if (!WRITE_OPERATIONS.has(operation.operation)) return operation.run(operation.args);
          const context = currentContext();
          const plan = planWrite(
            schema,
            deps.minimizers,
            {
              subject: context?.acting.subject,
              agent: context?.acting.actor?.roles.includes("agent") === true,
              inRequest: context?.inRequest === true,
            },
            operation.model,
            operation.operation,
            operation.args,
          );
          if (!plan) return operation.run(operation.args);
          return gatedWrite(context!, plan, operation, client);
        },
      };
    });
  }

  function raw(operation: HostOperation): Promise<unknown> {
    const context = currentContext();
    if (RAW.test(operation.operation) && context?.acting.subject !== undefined && !context.raw) {
      throw new ConsentgateError(
        "forbidden",
        `${operation.operation} bypasses the gate, so it is refused in a subject's context; wrap the call in gate.allowRaw(() => …) if it writes no gated model`,
      );
    }
    return operation.run(operation.args);
  }

  async function gatedWrite(context: WriteContext, plan: Plan, operation: HostOperation, client: HostClient) {
    const { acting } = context;
    if (context.purpose !== undefined) {
      const other = plan.reaches.find((reach) => reach.model.purpose.name !== context.purpose);
      if (other)
        throw new ConsentgateError(
          "forbidden",
          `gate.as({ purpose: "${context.purpose}" }) writes no ${other.model.model}: its rows are collected for "${other.model.purpose.name}"`,
          { purpose: other.model.purpose.name, region: acting.region },
        );
    }
    const decidedAt = deps.now();
    for (const reach of plan.reaches) {
      const purpose = reach.model.purpose.name;
      // A write the request's gate admitted for this subject and purpose was counted there: one write, one count.
      const counted = reach.subject === acting.subject && acting.admitted?.purpose === purpose;
      const decision = await decisionFor(acting, reach).catch((error: unknown) => {
        if (!counted) deps.metrics.decided(purpose, acting.region, "unavailable");
        throw error;
      });
      if (!counted) deps.metrics.decided(purpose, acting.region, decision.allowed ? "allowed" : "denied");
      if (!decision.allowed) {
        deps.blockedWrites.add(acting.region, reach.model.purpose.name, decidedAt);
        throw new ConsentgateError("consent_required", refusalMessage(policy, decision, reach.subject !== undefined), {
          purpose: reach.model.purpose.name,
          region: acting.region,
        });
      }
    }
    const result = await operation.run(plan.args);
    await settle(acting, plan.reaches, decidedAt, operation.inTransaction ? undefined : client);
    return result;
  }

  function decisionFor(acting: Acting, reach: Reach): Promise<Decision> {
    const purpose = reach.model.purpose.name;
    if (reach.subject === acting.subject) return acting.decide(purpose);
    return deps
      .actingFor({ subject: reach.subject, actor: acting.actor, region: acting.region, gpc: false })
      .decide(purpose);
  }

  /**
   * After the write: does each decision still stand, now that the write is
   * in? A withdrawal (with `onWithdrawal: purge`) or an erasure that
   * committed meanwhile has its deletion repeated here for the rows it may
   * have missed, and the write answers `consent_required`. Inside the host's
   * transaction nothing is committed yet and the host's client is busy with
   * it: the write is refused instead, so the transaction rolls back.
   */
  async function settle(acting: Acting, reaches: readonly Reach[], decidedAt: Date, client: HostClient | undefined) {
    // One batched read for every reach (the store groups them into one statement).
    const standings = await Promise.all(
      reaches.map((reach) =>
        deps.standing.of(reach.subject, decidedAt).catch((error: unknown) => {
          // The write was decided and committed; only its re-check failed. Deleting on a guess would
          // destroy rows the subject wants kept, so the row stays and the host hears of it.
          deps.logger.error(
            { err: error, model: reach.model.model },
            "consentgate: a gated write committed but could not be re-checked against concurrent withdrawals",
          );
          return undefined;
        }),
      ),
    );
    let lost: Reach | undefined;
    for (const [i, reach] of reaches.entries()) {
      const standing = standings[i];
      if (!standing) continue;
      const purpose = reach.model.purpose;
      const now = decide({
        policy,
        purpose: purpose.name,
        region: acting.region,
        gpc: reach.subject === acting.subject && acting.signals.gpc,
        choice: standing.choices.get(purpose.name),
      });
      const undo = standing.erased || (!now.allowed && purpose.onWithdrawal === "purge");
      if (!undo) continue;
      lost ??= reach;
      if (client) await deleteSubjectRows(client, reach.model, reach.subject);
    }
    if (lost) {
      throw new ConsentgateError(
        "consent_required",
        `the subject's consent for "${lost.model.purpose.name}" was withdrawn, or their data erased, while this write ran; nothing of it was kept`,
        { purpose: lost.model.purpose.name, region: acting.region },
      );
    }
  }

  return {
    prismaExtension,
    /** Runs fn as `actingAs` (gate.as). */
    async as<T>(actingAs: ActingAs, fn: () => T | Promise<T>): Promise<T> {
      const context = asContext(deps, actingAs);
      return within(context, fn);
    },
    /** Runs fn with raw queries allowed in the current context (gate.allowRaw). */
    async allowRaw<T>(fn: () => T | Promise<T>): Promise<T> {
      const context = currentContext();
      return context ? within({ ...context, raw: true }, fn) : fn();
    },
    /** The middleware's entry: `next` and everything after it run in the request's context. */
    enter(acting: Acting, next: () => void): void {
      if (extended) runInContext({ acting, inRequest: true, purpose: undefined, raw: false }, next);
      else next();
    },
    /** Every gated model with the client it was last applied to, children before the models they reference. */
    tables: (): readonly BoundTable[] => bound,
    /** The subject's rows of a gated model, for the export (the data source `prisma.<Model>`). */
    async exportRows(model: string, subjectId: string): Promise<ExportedRows> {
      const { table, client } = boundTable(model);
      const rows = await subjectRows(client, table, subjectId);
      return { purpose: table.purpose.name, legalBasis: table.purpose.legalBasis, rows };
    },
    /** Deletes the subject's rows of a gated model, for the erasure; how many. */
    eraseRows(model: string, subjectId: string): Promise<number> {
      const { table, client } = boundTable(model);
      return deleteSubjectRows(client, table, subjectId);
    },
    /** The subject's rows of the gated models, per purpose (what the privacy center says is held). */
    async heldBy(subjectId: string): Promise<Record<string, number>> {
      const counts = await Promise.all(bound.map(({ table, client }) => countSubjectRows(client, table, subjectId)));
      const held: Record<string, number> = {};
      for (const [i, { table }] of bound.entries())
        held[table.purpose.name] = (held[table.purpose.name] ?? 0) + counts[i]!;
      return held;
    },
    /** The purposes some gated model collects for. */
    purposes: (): ReadonlySet<string> => new Set(bound.map(({ table }) => table.purpose.name)),
    /**
     * Deletes the subject's rows of every gated model of `purpose`, children
     * first, for a withdrawal with `onWithdrawal: purge`; how many.
     */
    async erasePurpose(subjectId: string, purpose: string): Promise<number> {
      let erased = 0;
      for (const { table, client } of bound)
        if (table.purpose.name === purpose) erased += await deleteSubjectRows(client, table, subjectId);
      return erased;
    },
  };
}

export type DataLayer = ReturnType<typeof createDataLayer>;

/**
 * Runs fn in `context` and awaits its answer there: a Prisma query is lazy
 * (it runs when first awaited), so a query fn returns unawaited must still
 * be started inside the context, not by the caller's await outside it.
 */
function within<T>(context: WriteContext, fn: () => T | Promise<T>): Promise<T> {
  return runInContext(context, async () => await fn());
}

function asContext(deps: DataLayerDeps, actingAs: ActingAs): WriteContext {
  const { policy } = deps;
  const problems: string[] = [];
  if (typeof actingAs?.subject !== "string" || actingAs.subject.length === 0 || actingAs.subject.length > 256)
    problems.push("subject: a subject id of 1-256 characters");
  if (actingAs?.purpose !== undefined && !Object.hasOwn(policy.purposes, actingAs.purpose))
    problems.push(`purpose: no purpose "${String(actingAs.purpose)}" in the policy`);
  if (actingAs?.region !== undefined && !Object.hasOwn(policy.regions, actingAs.region))
    problems.push(`region: no region "${String(actingAs.region)}" in the policy`);
  const actor = actingAs?.actor;
  if (actor !== undefined && (typeof actor?.id !== "string" || !Array.isArray(actor.roles)))
    problems.push("actor: { id, roles: string[] }");
  if (problems.length > 0)
    throw new ConsentgateError("invalid_option", `gate.as: ${problems.join("; ")}`, { problems });
  return {
    acting: deps.actingFor({
      subject: actingAs.subject,
      actor,
      region: actingAs.region ?? policy.defaults.region,
      gpc: false,
    }),
    inRequest: false,
    purpose: actingAs.purpose,
    raw: false,
  };
}
