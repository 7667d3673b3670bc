/**
 * What the privacy center shows a subject, read from the same sources as
 * gate.router(): the consent cache and the decision rules for choices, the
 * store for what is held, requests and receipts.
 */
import type { Choice, DecisionSource } from "../decision/decide.ts";
import { effectiveDecisions } from "../decision/effective.ts";
import { regionRules } from "../policy/region.ts";
import type { LegalBasis, Policy, Region } from "../policy/types.ts";
import type { ConsentCache } from "../store/consent-cache.ts";
import type { ConsentEventRecord, ConsentStore } from "../store/consents.ts";
import type { InteractionStore } from "../store/interactions.ts";
import type { LearningStore } from "../store/learning.ts";
import { REQUEST_STATUS, type RequestStatus, type RequestType, type Requests, isOverdue } from "../store/requests.ts";

/** What the page reads. */
export interface ViewDeps {
  readonly policy: Policy;
  readonly consentStore: Pick<ConsentStore, "latest">;
  readonly consents: Pick<ConsentCache, "choices">;
  readonly interactions: Pick<InteractionStore, "countByPurpose">;
  readonly learning: Pick<LearningStore, "heldBy">;
  /** The subject's rows in the app's own gated models (gate.prismaExtension), per purpose. */
  readonly gatedRows: {
    heldBy(subjectId: string): Promise<Record<string, number>>;
    /** The purposes some gated model collects for. */
    purposes(): ReadonlySet<string>;
  };
  readonly requests: Pick<Requests, "latestForSubject">;
  readonly now: () => Date;
}

export interface PurposeView {
  name: string;
  description: string;
  legalBasis: LegalBasis;
  saleOrShare: boolean;
  sensitive: boolean;
  window: number | undefined;
  retention: string | undefined;
  granted: boolean;
  source: DecisionSource | "unknown";
  /** The subject's latest explicit choice, if any. */
  choice: Choice | undefined;
  /** Granting needs the GPC confirmation: the signal denies this purpose here (docs/decision-rules.md, rule 2). */
  gpcBlocks: boolean;
  /** It trains a federated model: what is held are the device's updates until their round is aggregated. */
  learning: boolean;
  /** Records held for the purpose now (stored interactions, pending model updates, rows of the app's gated models). */
  held: number;
  /** The app's own tables keep records for it (gate.prismaExtension). */
  keptByApp: boolean;
}

export interface RequestView {
  type: RequestType;
  status: RequestStatus;
  receivedAt: Date;
  dueAt: Date;
  completedAt: Date | undefined;
}

/** A receipt as the page lists it: the recorded choice, without who acted. */
export type ReceiptView = Omit<ConsentEventRecord, "subjectId" | "actorId">;

export interface CenterView {
  subject: string;
  region: Region;
  gpc: boolean;
  policyVersion: string;
  purposes: PurposeView[];
  /** The newest requests, newest first; `requestsTotal` counts them all. */
  requests: RequestView[];
  requestsTotal: number;
  /** The newest receipts, newest first; `receiptsTotal` counts them all (the export has every one). */
  receipts: ReceiptView[];
  receiptsTotal: number;
}

/**
 * `latest` bounds the receipts and requests read and shown: both grow with
 * every choice and download, and the page must stay small however long a
 * subject's history is.
 */
export async function loadView(
  deps: ViewDeps,
  subject: string,
  where: { region: string; gpc: boolean },
  latest: number,
): Promise<CenterView> {
  const { policy } = deps;
  const now = deps.now();
  const [choices, held, updates, rows, history, { requests, total: requestsTotal }] = await Promise.all([
    deps.consents.choices(subject),
    deps.interactions.countByPurpose({ subjectId: subject, unexpiredAt: now }),
    deps.learning.heldBy(subject),
    deps.gatedRows.heldBy(subject),
    deps.consentStore.latest(subject, latest),
    deps.requests.latestForSubject(subject, latest),
  ]);
  const region = regionRules(policy, where.region);
  const keptByApp = deps.gatedRows.purposes();

  const purposes = effectiveDecisions(policy, { region: region.name, gpc: where.gpc }, choices).map(
    ({ purpose, choice, decision }): PurposeView => {
      return {
        name: purpose.name,
        description: purpose.description,
        legalBasis: purpose.legalBasis,
        saleOrShare: purpose.saleOrShare,
        sensitive: purpose.sensitive,
        window: purpose.window,
        retention: purpose.retention?.text,
        granted: decision.allowed,
        source: decision.source,
        choice,
        gpcBlocks: decision.source === "gpc",
        learning: purpose.learning !== undefined,
        held:
          (Object.hasOwn(held, purpose.name) ? held[purpose.name]! : 0) +
          (updates[purpose.name] ?? 0) +
          (rows[purpose.name] ?? 0),
        keptByApp: keptByApp.has(purpose.name),
      };
    },
  );

  return {
    subject,
    region,
    gpc: where.gpc,
    policyVersion: policy.version,
    purposes,
    requests: requests.map((r) => ({
      type: r.type,
      // As GET /requests reports it: past the deadline and not answered is overdue before the deadlines job says so.
      status: isOverdue(r, now) ? REQUEST_STATUS.overdue : r.status,
      receivedAt: r.receivedAt,
      dueAt: r.dueAt,
      completedAt: r.completedAt ?? undefined,
    })),
    requestsTotal,
    // Newest first: the receipt of the choice just made is the one a user looks for.
    receipts: history.events.map(({ subjectId: _subject, actorId: _actor, seq: _seq, ...receipt }) => receipt),
    receiptsTotal: history.total,
  };
}
