/**
 * Federated models, their rounds and the devices' pending updates (tables
 * learning_models, learning_rounds, learning_updates): every query on them
 * is here. src/learning/ decides what to do; this module makes each step
 * atomic across instances.
 *
 * The model's row is the round's lock: an update takes it shared (FOR
 * SHARE) while it checks the open round and inserts, and closing a round
 * takes it exclusive (FOR UPDATE) while it counts the updates and moves the
 * model to the next round. So an update either lands in the round before it
 * closes (and is counted) or sees the next round and is told `round_closed`;
 * none is ever left in a closed round uncounted.
 *
 * A round's life: open (on the model's row) → closed, `aggregating` (its
 * participants fixed and its rho reserved in learning_rounds) → `published`
 * (the new version and the deletion of its updates commit together) or
 * `abandoned` (erasures took it below minClients while it was aggregated:
 * its reservation is given back, its updates deleted). Aggregation itself
 * runs outside any transaction (it can take seconds; on PGlite a
 * transaction holds the only connection), reading the updates in
 * coordinate blocks; publishing checks that every participant's update is
 * still there, so an erasure during aggregation is never published.
 */
import type { Connection, SqlSession } from "./connection.ts";
import { appendLogEntryInSession, type PendingLogEntry } from "./compliance-log.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { decisionStandsInSession, lockSubjectsShared } from "./write-lock.ts";

/** A model as stored: its current version, factors and open round. */
export interface StoredModel {
  name: string;
  purpose: string;
  items: string[];
  dimensions: number;
  version: number;
  /** items × dimensions little-endian float32. */
  factors: Uint8Array;
  /** The round accepting updates; null once training stopped. */
  round: number | null;
  roundOpenedAt: Date | null;
  status: "training" | "stopped";
  updatedAt: Date;
}

/**
 * What `GET /learning/:model` answers a device: the current version, the
 * round that accepts updates (null once training stopped), the items and
 * the item factors (base64 of items × dimensions little-endian float32).
 *
 * @example
 * ```ts
 * import type { ModelView } from "consentgate";
 *
 * const view = (await (await fetch("/privacy/learning/recommender")).json()) as ModelView;
 * const factors = new Float32Array(Uint8Array.from(atob(view.factors), (c) => c.charCodeAt(0)).buffer);
 * ```
 */
export interface ModelView {
  /** The model's name in the policy. */
  model: string;
  /** The purpose updates are gated for. */
  purpose: string;
  /** The current version: 1 at the start, one more for every published round. */
  version: number;
  /** The round that accepts updates now; null once training stopped. */
  round: number | null;
  /** "training", or "stopped" once the privacy budget is spent. */
  status: "training" | "stopped";
  /** The item ids, in the order of the factors' rows. */
  items: string[];
  /** The length of each item's vector. */
  dimensions: number;
  /** The largest L2 norm an update may have; the server scales larger ones down to it. */
  clip: number;
  /** The item factors: base64 of items × dimensions little-endian float32 values, row-major. */
  factors: string;
}

/**
 * A model's training as the privacy officer sees it (`GET
 * /admin/learning/:model`, `consentgate learning status`): its parameters,
 * the open round, the privacy spent, and its latest rounds.
 *
 * @example
 * ```ts
 * import type { LearningStatus } from "consentgate";
 *
 * const status: LearningStatus = await gate.learning.status("recommender");
 * console.log(`v${status.version}: ε ${status.spent.epsilon.toFixed(2)} of ${status.budget.epsilon}`);
 * ```
 */
export interface LearningStatus {
  /** The model's name in the policy. */
  model: string;
  /** The purpose updates are gated for. */
  purpose: string;
  /** "training", or "stopped" once the privacy budget is spent. */
  status: "training" | "stopped";
  /** The current version. */
  version: number;
  /** The open round, with the updates it holds; null once training stopped. */
  round: {
    /** Its number. */
    number: number;
    /** When it opened. */
    openedAt: Date;
    /** Updates it holds. */
    pending: number;
    /** Updates it needs before it is aggregated. */
    minClients: number;
    /** Open longer than the policy's maxOpen and still short of minClients. */
    overdue: boolean;
  } | null;
  /** How updates are combined: mean, median or trimmed-mean. */
  aggregation: string;
  /** The fraction cut from each end (trimmed-mean), else 0. */
  trim: number;
  /** The L2 bound of one update. */
  clip: number;
  /** The Gaussian noise multiplier. */
  noise: number;
  /** The server's step size. */
  learningRate: number;
  /** The privacy loss allowed over the model's life. */
  budget: {
    /** Total epsilon. */
    epsilon: number;
    /** The delta it is stated at. */
    delta: number;
  };
  /** Spent, or reserved by a round being aggregated. */
  spent: {
    /** zCDP rho, the sum over rounds. */
    rho: number;
    /** The same as epsilon at the budget's delta. */
    epsilon: number;
  };
  /** The latest closed rounds, newest first (at most 50). */
  rounds: {
    /** Its number. */
    round: number;
    /** When it opened. */
    openedAt: Date;
    /** When it closed. */
    closedAt: Date;
    /** aggregating, published, or abandoned (erasures took it below minClients). */
    status: "aggregating" | "published" | "abandoned";
    /** Updates it was aggregated from. */
    participants: number;
    /** zCDP rho it spent. */
    rho: number;
    /** The version it published. */
    version: number | null;
  }[];
}

/**
 * What the learning job did to each federated model of the policy: published
 * a round (its participants, the new version, the epsilon spent over the
 * model's life), waiting for updates, stopped (its budget is spent: logged
 * as `learning.stopped`), abandoned a round that erasures took below
 * minClients, or skipped it (`not_defined` in code yet, `not_training`).
 *
 * @example
 * ```ts
 * const { models } = await gate.runJob("learning");
 * for (const m of models) if (m.outcome === "published") console.log(`${m.model} v${m.version}: ε ${m.epsilon}`);
 * ```
 */
export interface LearningJobResult {
  /** One entry per model of the policy (two when a crashed run's round was finished first). */
  models: {
    /** The model's name. */
    model: string;
    /** What happened to it. */
    outcome: "published" | "waiting" | "stopped" | "abandoned" | "not_defined" | "not_training";
    /** The round concerned. */
    round?: number;
    /** Updates the round was aggregated from (published, abandoned). */
    participants?: number;
    /** Updates waiting in the open round (waiting, stopped). */
    pending?: number;
    /** The version published. */
    version?: number;
    /** Epsilon spent over the model's life, at its budget's delta. */
    epsilon?: number;
  }[];
}

/** A stored model with its factors as base64 text (little-endian float32), as a device downloads them. */
export type DownloadedModel = Omit<StoredModel, "factors"> & { factors: string };

/** A closed round, as the admin view and the job see it. */
export interface StoredRound {
  round: number;
  openedAt: Date;
  closedAt: Date;
  status: "aggregating" | "published" | "abandoned";
  participants: number;
  aggregation: string;
  clip: number;
  noise: number;
  rho: number;
  version: number | null;
  publishedAt: Date | null;
}

/** One pending update as an export lists it. */
export interface StoredUpdate {
  model: string;
  round: number;
  purpose: string;
  receivedAt: Date;
  /** The update itself: items × dimensions little-endian float32. */
  delta: Uint8Array;
}

export type SubmitOutcome =
  | "accepted"
  | "already_reported"
  | "round_closed"
  | "unknown_round"
  | "stopped"
  | "no_model"
  /** The choice the update was decided on changed, or the subject was erased, before it could be stored. */
  | "decision_changed";

export type CloseOutcome =
  | { kind: "closed"; round: number; participants: number; rho: number }
  | { kind: "waiting"; round: number; pending: number }
  | { kind: "stopped"; round: number; pending: number; spent: number }
  | { kind: "not_training" };

export interface CloseRequest {
  model: string;
  minClients: number;
  now: Date;
  /** What the round would spend with this many participants (zCDP rho). */
  rhoFor(participants: number): number;
  /** Whether spending `rho` in all keeps the model within its budget. */
  withinBudget(rho: number): boolean;
  aggregation: string;
  clip: number;
  noise: number;
  /** The log entries that commit when training stops. */
  stopped(outcome: { round: number; spent: number; pending: number }): PendingLogEntry[];
}

/** The coordinates [offset, offset + length) of every participant's update, in subject order. */
export interface UpdateBlock {
  subjects: string[];
  values: Float32Array[];
}

// Bytes travel as base64 text both ways (see `base64` below): PGlite reads a 128 KiB bytea in 11 ms, its base64 in 1.3.
// PostgreSQL's encode() breaks base64 into lines of 76; the factors go to devices as they are read, so without them.
const MODEL_COLUMNS = `name, purpose, items, dimensions, version, replace(encode(factors, 'base64'), E'\n', '') AS factors, round, "roundOpenedAt", status, "updatedAt"`;
const ROUND_COLUMNS = `round, "openedAt", "closedAt", status, participants, aggregation, clip, noise, rho, version, "publishedAt"`;

/** The federated-learning tables as the layers above use them, bound to one open store. */
export interface LearningStore {
  /**
   * Makes the model if it does not exist yet: the first instance to define
   * it wins, and the others' definitions change nothing.
   */
  create(
    model: Omit<StoredModel, "updatedAt" | "version" | "round" | "roundOpenedAt" | "status">,
    now: Date,
  ): Promise<void>;
  /**
   * Replaces the model's items and factors (a catalogue that changed): a new
   * version and a new round; the open round's updates, made for the old
   * shape, are deleted.
   */
  reshape(name: string, items: string[], factors: Uint8Array, now: Date): Promise<StoredModel>;
  /** The model's current version, its factors decoded (for the job and definitions). */
  model(name: string): Promise<StoredModel | undefined>;
  /**
   * The same, with the factors as the base64 text they are read as: what
   * `GET /learning/:model` sends, so a download neither decodes nor
   * re-encodes them (one prepared statement).
   */
  download(name: string): Promise<DownloadedModel | undefined>;
  /** How many values (items × dimensions) an update to the model has now, without reading its factors. */
  values(name: string): Promise<number | undefined>;
  /** One device's update to the open round, with the outcome; nothing is stored unless "accepted". */
  submit(update: {
    subjectId: string;
    model: string;
    round: number;
    purpose: string;
    /** The update as base64 of its little-endian float32 bytes (canonical: the caller validated it). */
    delta: string;
    now: Date;
    /** The decision that let it in: its receipt (undefined for a legal basis or a region's default) and when it was made. */
    decision: { receiptId: string | undefined; at: Date };
  }): Promise<SubmitOutcome>;
  /** Closes the open round if it holds minClients updates and the budget allows it; else stops training or waits. */
  close(request: CloseRequest): Promise<CloseOutcome>;
  /** Rounds closed but not yet published (after a crash, or the one just closed). */
  aggregating(model: string): Promise<StoredRound[]>;
  /** Reads one coordinate block of every update of a round (see UpdateBlock). */
  block(model: string, round: number, offset: number, length: number): Promise<UpdateBlock>;
  /**
   * Publishes a round: if every one of its `participants` updates is still
   * there, the new factors become the next version, the round is marked
   * published and its updates deleted, with the log entries, in one
   * transaction ("published"). If erasures removed some, or the model's
   * version is no longer `from`, nothing changes ("changed"): aggregate again.
   */
  publish(request: {
    model: string;
    round: number;
    participants: number;
    /** The version the new factors were computed from: if the model moved on since, nothing changes. */
    from: number;
    factors: Uint8Array;
    now: Date;
    logged: (version: number) => PendingLogEntry[];
  }): Promise<"published" | "changed">;
  /** Gives up a round that fell below minClients: its updates are deleted and its rho given back. */
  abandon(model: string, round: number, now: Date): Promise<void>;
  /** Updates a round holds (the open one, or one closed and being aggregated). */
  pending(model: string, round: number): Promise<number>;
  /** The model's closed rounds, newest first (at most `limit`). */
  rounds(model: string, limit: number): Promise<StoredRound[]>;
  /** The zCDP rho the model has spent or reserved. */
  spent(model: string): Promise<number>;
  /** Every pending update of a subject (their export). */
  forSubject(subjectId: string): Promise<StoredUpdate[]>;
  /** How many pending updates a subject has, by purpose (the privacy center's "we hold now"). */
  heldBy(subjectId: string): Promise<Record<string, number>>;
}

export function createLearningStore(connection: Connection): LearningStore {
  return {
    async create(model, now) {
      await connection.query(
        `INSERT INTO learning_models (name, purpose, items, dimensions, version, factors, round, "roundOpenedAt", status, "updatedAt")
         VALUES ($1, $2, $3::jsonb, $4, 1, decode($5, 'base64'), 1, $6, 'training', $6) ON CONFLICT (name) DO NOTHING`,
        [model.name, model.purpose, JSON.stringify(model.items), model.dimensions, base64(model.factors), now],
      );
    },
    reshape: (name, items, factors, now) =>
      connection.transaction(async (tx) => {
        const [row] = await tx.query<{ round: number | null }>(
          `SELECT round FROM learning_models WHERE name = $1 FOR UPDATE`,
          [name],
        );
        // Updates of the old shape can never be aggregated with the new: the open round's, and any round's still waiting.
        if (row?.round != null)
          await tx.query(`DELETE FROM learning_updates WHERE model = $1 AND round = $2`, [name, row.round]);
        const waiting = await tx.query<{ round: number }>(
          `UPDATE learning_rounds SET status = 'abandoned', "publishedAt" = $2 WHERE model = $1 AND status = 'aggregating' RETURNING round`,
          [name, now],
        );
        for (const { round } of waiting)
          await tx.query(`DELETE FROM learning_updates WHERE model = $1 AND round = $2`, [name, round]);
        const [model] = await tx.query<StoredModel>(
          `UPDATE learning_models SET items = $2::jsonb, factors = decode($3, 'base64'), version = version + 1,
             round = CASE WHEN round IS NULL THEN NULL ELSE round + 1 END,
             "roundOpenedAt" = CASE WHEN round IS NULL THEN NULL ELSE $4 END, "updatedAt" = $4
           WHERE name = $1 RETURNING ${MODEL_COLUMNS}`,
          [name, JSON.stringify(items), base64(factors), now],
        );
        return model as StoredModel;
      }),
    model: async (name) => {
      const row = await downloadModel(connection, name);
      return row && { ...row, factors: bytesOf(row.factors) };
    },
    download: (name) => downloadModel(connection, name),
    async values(name) {
      const [row] = await connection.query<{ values: number }>(
        `SELECT jsonb_array_length(items) * dimensions AS "values" FROM learning_models WHERE name = $1`,
        [name],
        "consentgate_learning_values",
      );
      return row?.values;
    },
    submit: (update) =>
      connection.transaction(async (tx) => {
        // Shared: a consent change or an erasure of the subject (exclusive) either deletes this update
        // or commits before it, and then the checks below, made after the lock, see it.
        await lockSubjectsShared(tx, [update.subjectId]);
        const { receiptId, at: decidedAt } = update.decision;
        if (
          !(await decisionStandsInSession(tx, {
            subjectId: update.subjectId,
            purpose: update.purpose,
            receiptId,
            decidedAt,
          }))
        ) {
          return "decision_changed";
        }
        const [model] = await tx.query<{ round: number | null; status: string }>(
          `SELECT round, status FROM learning_models WHERE name = $1 FOR SHARE`,
          [update.model],
        );
        if (!model) return "no_model";
        if (model.round === null || model.status !== "training") return "stopped";
        if (update.round < model.round) return "round_closed";
        if (update.round > model.round) return "unknown_round";
        const inserted = await tx.query(
          `INSERT INTO learning_updates ("subjectId", model, round, purpose, delta, "receivedAt")
           VALUES ($1, $2, $3, $4, decode($5, 'base64'), $6) ON CONFLICT DO NOTHING RETURNING 1 AS inserted`,
          [update.subjectId, update.model, update.round, update.purpose, update.delta, update.now],
        );
        return inserted.length === 1 ? "accepted" : "already_reported";
      }),
    close: (request) =>
      connection.transaction(async (tx) => {
        const [model] = await tx.query<{ round: number | null; roundOpenedAt: Date | null; status: string }>(
          `SELECT round, "roundOpenedAt", status FROM learning_models WHERE name = $1 FOR UPDATE`,
          [request.model],
        );
        if (!model || model.round === null || model.status !== "training") return { kind: "not_training" };
        const round = model.round;
        const pending = await countPending(tx, request.model, round);
        if (pending < request.minClients) return { kind: "waiting", round, pending };
        const spent = await spentIn(tx, request.model);
        const rho = request.rhoFor(pending);
        if (!request.withinBudget(spent + rho)) {
          // Training is over: the updates it will never use are personal data with no purpose left.
          await tx.query(`DELETE FROM learning_updates WHERE model = $1 AND round = $2`, [request.model, round]);
          await tx.query(
            `UPDATE learning_models SET status = 'stopped', round = NULL, "roundOpenedAt" = NULL, "updatedAt" = $2 WHERE name = $1`,
            [request.model, request.now],
          );
          for (const entry of request.stopped({ round, spent, pending })) await appendLogEntryInSession(tx, entry);
          return { kind: "stopped", round, pending, spent };
        }
        await tx.query(
          `INSERT INTO learning_rounds (model, round, "openedAt", "closedAt", status, participants, aggregation, clip, noise, rho)
           VALUES ($1, $2, $3, $4, 'aggregating', $5, $6, $7, $8, $9)`,
          [
            request.model,
            round,
            model.roundOpenedAt ?? request.now,
            request.now,
            pending,
            request.aggregation,
            request.clip,
            request.noise,
            rho,
          ],
        );
        await tx.query(
          `UPDATE learning_models SET round = round + 1, "roundOpenedAt" = $2, "updatedAt" = $2 WHERE name = $1`,
          [request.model, request.now],
        );
        return { kind: "closed", round, participants: pending, rho };
      }),
    aggregating: (model) =>
      connection.query<StoredRound>(
        `SELECT ${ROUND_COLUMNS} FROM learning_rounds WHERE model = $1 AND status = 'aggregating' ORDER BY round`,
        [model],
      ),
    async block(model, round, offset, length) {
      // substring counts bytes from 1; each value is 4 bytes.
      const rows = await connection.query<{ subjectId: string; block: string }>(
        `SELECT "subjectId", encode(substring(delta FROM $3 FOR $4), 'base64') AS block
         FROM learning_updates WHERE model = $1 AND round = $2 ORDER BY "subjectId"`,
        [model, round, offset * 4 + 1, length * 4],
        "consentgate_learning_block",
      );
      return {
        subjects: rows.map((row) => row.subjectId),
        values: rows.map((row) => float32View(bytesOf(row.block))),
      };
    },
    publish: (request) =>
      connection.transaction(async (tx) => {
        await tx.query(`SELECT 1 FROM learning_models WHERE name = $1 FOR UPDATE`, [request.model]);
        // The round's rows, locked: an erasure waiting on one of them deletes nothing once this commits.
        const held = await tx.query(`SELECT 1 FROM learning_updates WHERE model = $1 AND round = $2 FOR UPDATE`, [
          request.model,
          request.round,
        ]);
        if (held.length !== request.participants) return "changed";
        // Compare and set: the step was computed from version `from`.
        const [model] = await tx.query<{ version: number }>(
          `UPDATE learning_models SET factors = decode($2, 'base64'), version = version + 1, "updatedAt" = $3
           WHERE name = $1 AND version = $4 RETURNING version`,
          [request.model, base64(request.factors), request.now, request.from],
        );
        if (!model) return "changed";
        const { version } = model;
        await tx.query(
          `UPDATE learning_rounds SET status = 'published', version = $3, "publishedAt" = $4, participants = $5
           WHERE model = $1 AND round = $2`,
          [request.model, request.round, version, request.now, request.participants],
        );
        await tx.query(`DELETE FROM learning_updates WHERE model = $1 AND round = $2`, [request.model, request.round]);
        for (const entry of request.logged(version)) await appendLogEntryInSession(tx, entry);
        return "published";
      }),
    abandon: (model, round, now) =>
      connection.transaction(async (tx) => {
        await tx.query(`DELETE FROM learning_updates WHERE model = $1 AND round = $2`, [model, round]);
        await tx.query(
          `UPDATE learning_rounds SET status = 'abandoned', "publishedAt" = $3 WHERE model = $1 AND round = $2`,
          [model, round, now],
        );
      }),
    pending: (model, round) => countPending(connection, model, round),
    rounds: (model, limit) =>
      connection.query<StoredRound>(
        `SELECT ${ROUND_COLUMNS} FROM learning_rounds WHERE model = $1 ORDER BY round DESC LIMIT $2`,
        [model, limit],
      ),
    spent: (model) => spentIn(connection, model),
    async heldBy(subjectId) {
      const rows = await connection.query<{ purpose: string; held: number }>(
        `SELECT purpose, count(*)::int AS held FROM learning_updates WHERE "subjectId" = $1 GROUP BY purpose`,
        [subjectId],
        "consentgate_learning_held",
      );
      return Object.fromEntries(rows.map(({ purpose, held }) => [purpose, held]));
    },
    async forSubject(subjectId) {
      const rows = await connection.query<Omit<StoredUpdate, "delta"> & { delta: string }>(
        `SELECT model, round, purpose, "receivedAt", encode(delta, 'base64') AS delta
         FROM learning_updates WHERE "subjectId" = $1 ORDER BY model, round`,
        [subjectId],
      );
      return rows.map((row) => ({ ...row, delta: bytesOf(row.delta) }));
    },
  };
}

async function downloadModel(connection: Connection, name: string): Promise<DownloadedModel | undefined> {
  const [row] = await connection.query<DownloadedModel>(
    `SELECT ${MODEL_COLUMNS} FROM learning_models WHERE name = $1`,
    [name],
    "consentgate_learning_model",
  );
  return row;
}

async function countPending(session: Pick<SqlSession, "query">, model: string, round: number): Promise<number> {
  const [row] = await session.query<{ pending: number }>(
    `SELECT count(*)::int AS pending FROM learning_updates WHERE model = $1 AND round = $2`,
    [model, round],
  );
  return row?.pending ?? 0;
}

/** Rho published or reserved: an abandoned round released nothing, so it spent nothing. */
async function spentIn(session: Pick<SqlSession, "query">, model: string): Promise<number> {
  const [row] = await session.query<{ spent: number }>(
    `SELECT coalesce(sum(rho), 0)::float8 AS spent FROM learning_rounds WHERE model = $1 AND status <> 'abandoned'`,
    [model],
  );
  return row?.spent ?? 0;
}

/**
 * Bytes as a query parameter: base64 text, which the statement decodes.
 * PGlite turns a binary parameter into text byte by byte (a 128 KiB update
 * took 28 ms that way, 4 ms as text); node-postgres sends a Buffer as hex
 * text anyway, a third longer than base64.
 */
const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

/** Bytes read as base64 text, in a buffer of their own (4-aligned, so a Float32Array can view it). */
function bytesOf(text: string): Uint8Array {
  const decoded = Buffer.from(text, "base64");
  const bytes = new Uint8Array(decoded.byteLength);
  bytes.set(decoded);
  return bytes;
}

/**
 * A float32 view of stored bytes (copied when the driver's buffer is not
 * 4-aligned: a Buffer's offset into its pool need not be). Values are
 * little-endian, as every server Consentgate runs on (x86-64, ARM64) is.
 */
export function float32View(bytes: Uint8Array): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/**
 * In a transaction that erases the subject, or withdraws `purpose` with
 * onWithdrawal: purge: deletes their pending updates (all, or the purpose's).
 */
export async function deleteSubjectUpdatesInTransaction(
  tx: Prisma.TransactionClient,
  subjectId: string,
  purpose?: string,
): Promise<number> {
  return purpose === undefined
    ? tx.$executeRawUnsafe(`DELETE FROM learning_updates WHERE "subjectId" = $1`, subjectId)
    : tx.$executeRawUnsafe(`DELETE FROM learning_updates WHERE "subjectId" = $1 AND purpose = $2`, subjectId, purpose);
}
