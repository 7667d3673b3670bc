/**
 * Recording a consent choice: sign a receipt, append the event, move the
 * current state and log it in one transaction (erasing the purpose's data on
 * a withdrawal when the policy says so), then drop the cached choices here;
 * other instances hear of it through the store's NOTIFY.
 */
import { randomUUID } from "node:crypto";
import type { ComplianceLog } from "../audit/events.ts";
import { ConsentgateError } from "../errors.ts";
import { LOG_EVENT } from "../store/compliance-log.ts";
import type { Policy } from "../policy/types.ts";
import type { Keyring } from "../signatures/hmac.ts";
import type { ConsentCache } from "../store/consent-cache.ts";
import type { ConsentStore, SaveChoiceOptions } from "../store/consents.ts";
import { type Receipt, actorOnReceipt, signReceipt } from "./receipts.ts";

/** What recording a choice needs. */
export interface ChoiceDeps {
  readonly policy: Policy;
  /** Where the choice and its receipt are kept. */
  readonly consentStore: Pick<ConsentStore, "save">;
  /** Told of every change, so this instance's cache never serves the old choice. */
  readonly consents: Pick<ConsentCache, "changed">;
  readonly keyring: Pick<Keyring, "sign">;
  readonly audit: Pick<ComplianceLog, "prepare">;
  readonly now: () => Date;
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

export async function recordChoice(
  deps: ChoiceDeps,
  input: ChoiceInput,
): Promise<{ receipt: Receipt; erased: number }> {
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
  const receipt = signReceipt(deps.keyring, {
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
  try {
    const { erased } = await deps.consentStore.save(
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
        at,
      },
      { purgeInteractions: purpose.onWithdrawal === "purge", logged },
    );
    return { receipt, erased };
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
}
