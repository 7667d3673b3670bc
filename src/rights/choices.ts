/**
 * Recording a consent choice: sign a receipt, append the event, move the
 * current state and log it in one transaction (erasing the purpose's data on
 * a withdrawal when the policy says so), then drop the cached choices here;
 * other instances hear of it through the store's NOTIFY.
 */
import { randomUUID } from "node:crypto";
import type { Core } from "../core.ts";
import { ConsentgateError } from "../errors.ts";
import { LOG_EVENT } from "../store/compliance-log.ts";
import { type SaveChoiceOptions, saveChoice } from "../store/consents.ts";
import { type Receipt, actorOnReceipt, signReceipt } from "./receipts.ts";

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

export async function recordChoice(core: Core, input: ChoiceInput): Promise<{ receipt: Receipt; erased: number }> {
  const purpose = core.policy.purposes[input.purpose];
  if (!purpose) {
    throw new ConsentgateError("unknown_purpose", `unknown purpose "${input.purpose}" (known: ${Object.keys(core.policy.purposes).join(", ")})`, {
      purpose: input.purpose,
      region: input.region,
    });
  }
  // An override only means something for a grant made while GPC is on (docs/decision-rules.md, rule 2).
  const overrideGpc = input.granted && input.overrideGpc && input.gpc;
  const at = core.now();
  const actor = actorOnReceipt(input.subjectId, input.actorId);
  const receipt = signReceipt(core.keyring, {
    id: randomUUID(),
    subject: input.subjectId,
    purpose: input.purpose,
    granted: input.granted,
    policyVersion: core.policy.version,
    region: input.region,
    at: at.toISOString(),
    gpc: input.gpc,
    overrideGpc,
    ...(actor === undefined ? {} : { actor }),
  });
  // Logged in the choice's own transaction: a choice is never stored without its
  // entry, so a failure answers 503 with nothing changed, and a retry logs once.
  const logged: SaveChoiceOptions["logged"] = ({ erased }) =>
    core.audit.prepare({
      region: input.region,
      event: LOG_EVENT.consentChanged,
      subjectId: input.subjectId,
      details: { purpose: input.purpose, granted: input.granted, gpc: input.gpc, overrideGpc, receiptId: receipt.id, erasedInteractions: erased, byAgent: input.actorId !== input.subjectId },
    });
  try {
    const { erased } = await saveChoice(
      core.connection,
      {
        id: receipt.id,
        subjectId: input.subjectId,
        purpose: input.purpose,
        granted: input.granted,
        overrideGpc,
        gpc: input.gpc,
        region: input.region,
        policyVersion: core.policy.version,
        actorId: input.actorId,
        signature: receipt.signature,
        at,
      },
      { purgeInteractions: purpose.onWithdrawal === "purge", logged },
    );
    return { receipt, erased };
  } catch (error) {
    throw new ConsentgateError("consent_unavailable", "the choice could not be recorded; nothing changed", { purpose: input.purpose, region: input.region }, { cause: error });
  } finally {
    // Even a failed write may have committed before its answer was lost.
    core.consents.changed(input.subjectId);
  }
}
