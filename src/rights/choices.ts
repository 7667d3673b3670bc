/**
 * Recording a consent choice: sign a receipt, append the event, move the
 * current state and log it in one transaction (erasing the purpose's data on
 * a withdrawal when the policy says so), then drop the cached choices here;
 * other instances hear of it through the store's NOTIFY. The purpose's rows
 * in the app's own gated models are deleted after that commit, not in it:
 * they are in the app's database, and a gated write racing the withdrawal
 * relies on the withdrawal being committed before that delete starts
 * (src/store/standing.ts).
 */
import { randomUUID } from "node:crypto";
import type { ComplianceLog } from "../audit/events.ts";
import { ConsentgateError } from "../errors.ts";
import { LOG_EVENT } from "../store/compliance-log.ts";
import type { Policy } from "../policy/types.ts";
import type { DocumentSigner } from "../signatures/ed25519.ts";
import type { ConsentCache } from "../store/consent-cache.ts";
import type { ConsentStore, SaveChoiceOptions } from "../store/consents.ts";
import type { Logger } from "../logger.ts";
import { type Receipt, actorOnReceipt, signReceipt } from "./receipts.ts";

/** What recording a choice needs. */
export interface ChoiceDeps {
  readonly policy: Policy;
  /** Where the choice and its receipt are kept. */
  readonly consentStore: Pick<ConsentStore, "save">;
  /** Told of every change, so this instance's cache never serves the old choice. */
  readonly consents: Pick<ConsentCache, "changed">;
  readonly signer: Pick<DocumentSigner, "sign">;
  readonly audit: Pick<ComplianceLog, "prepare">;
  /** The app's own gated models (src/data-layer/, wired in by createConsentgate). */
  readonly gatedRows: {
    /** Deletes the subject's rows of every gated model of the purpose; how many. */
    erasePurpose(subjectId: string, purpose: string): Promise<number>;
  };
  readonly logger: Logger;
  readonly now: () => Date;
}

/** What a recorded choice did. */
export interface RecordedChoice {
  readonly receipt: Receipt;
  /** Interactions the withdrawal erased. */
  readonly erased: number;
  /** Rows of the app's own gated models the withdrawal deleted. */
  readonly erasedRows: number;
}

export interface ChoiceInput {
  subjectId: string;
  actorId: string | undefined;
  purpose: string;
  granted: boolean;
  /** The user confirmed a grant that conflicts with their GPC signal. */
  overrideGpc: boolean;
  gpc: boolean;
  region: string;
}

export async function recordChoice(deps: ChoiceDeps, input: ChoiceInput): Promise<RecordedChoice> {
  const purpose = deps.policy.purposes[input.purpose];
  if (!purpose) {
    throw new ConsentgateError(
      "unknown_purpose",
      `unknown purpose "${input.purpose}" (known: ${Object.keys(deps.policy.purposes).join(", ")})`,
      {
        purpose: input.purpose,
        region: input.region,
      },
    );
  }
  // An override only means something for a grant made while GPC is on (docs/decision-rules.md, rule 2).
  const overrideGpc = input.granted && input.overrideGpc && input.gpc;
  const at = deps.now();
  const actor = actorOnReceipt(input.subjectId, input.actorId);
  const receipt = signReceipt(deps.signer, {
    id: randomUUID(),
    subject: input.subjectId,
    purpose: input.purpose,
    granted: input.granted,
    policyVersion: deps.policy.version,
    region: input.region,
    at: at.toISOString(),
    gpc: input.gpc,
    overrideGpc,
    ...(actor === undefined ? {} : { actor }),
  });
  // Logged in the choice's own transaction: a choice is never stored without its
  // entry, so a failure answers 503 with nothing changed, and a retry logs once.
  const logged: SaveChoiceOptions["logged"] = ({ erased }) =>
    deps.audit.prepare({
      region: input.region,
      event: LOG_EVENT.consentChanged,
      subjectId: input.subjectId,
      details: {
        purpose: input.purpose,
        granted: input.granted,
        gpc: input.gpc,
        overrideGpc,
        receiptId: receipt.id,
        erasedInteractions: erased,
        byAgent: input.actorId !== input.subjectId,
      },
    });
  const purge = purpose.onWithdrawal === "purge";
  let erased: number;
  try {
    ({ erased } = await deps.consentStore.save(
      {
        id: receipt.id,
        subjectId: input.subjectId,
        purpose: input.purpose,
        granted: input.granted,
        overrideGpc,
        gpc: input.gpc,
        region: input.region,
        policyVersion: deps.policy.version,
        actorId: input.actorId,
        signature: receipt.signature,
        kid: receipt.kid ?? null,
        at,
      },
      { purgeInteractions: purge, logged },
    ));
  } catch (error) {
    throw new ConsentgateError(
      "consent_unavailable",
      "the choice could not be recorded; nothing changed",
      { purpose: input.purpose, region: input.region },
      { cause: error },
    );
  } finally {
    // Even a failed write may have committed before its answer was lost.
    deps.consents.changed(input.subjectId);
  }
  if (input.granted || !purge) return { receipt, erased, erasedRows: 0 };
  try {
    return { receipt, erased, erasedRows: await deps.gatedRows.erasePurpose(input.subjectId, input.purpose) };
  } catch (error) {
    // The withdrawal stands (it is committed and decides every write from now on); the rows
    // already in the app's tables are what is left. Sending the withdrawal again deletes them.
    deps.logger.error(
      { err: error, purpose: input.purpose },
      "consentgate: a withdrawal was recorded, but its purpose's rows in the app's own tables could not all be deleted",
    );
    throw new ConsentgateError(
      "consent_unavailable",
      "the withdrawal was recorded, but the purpose's data in the app's own tables could not all be erased; send it again",
      { purpose: input.purpose, region: input.region },
      { cause: error },
    );
  }
}
