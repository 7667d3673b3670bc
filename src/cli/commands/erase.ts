/**
 * `consentgate erase <subject> --yes`: erases a subject's data as DELETE
 * /data does (src/rights/erasure.ts, the same code) and prints the signed
 * certificate, for an operator acting on a request that came by mail or
 * phone. Recorded as a privacy request with the operator as the actor.
 * Without --yes it refuses (exit 2) and erases nothing: erasure cannot be undone.
 */
import { parseArgs } from "node:util";
import { operatorRights } from "../../consentgate.ts";
import type { ErasureCertificate } from "../../rights/erasure.ts";
import { type Command, UsageError } from "../command.ts";
import { APP_DATA_NOT_INCLUDED, OPERATOR_OPTIONS, OPERATOR_USAGE, operatorRequest } from "./operator.ts";

export const erase: Command = {
  usage: `<subject> --yes ${OPERATOR_USAGE}`,
  summary:
    "erase a subject's data from Consentgate's tables as DELETE /data does and print the signed certificate, logged with the operator as actor (needs CONSENTGATE_SECRET)",
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...OPERATOR_OPTIONS, yes: { type: "boolean" } },
      allowPositionals: true,
    });
    if (!values.yes)
      throw new UsageError(
        `erasure cannot be undone: add --yes to erase ${positionals.length === 1 ? `"${positionals[0]}"` : "the subject"}'s data`,
      );
    const request = await operatorRequest(values, positionals, io);
    if (!request) return 1;
    const { gate, subjectId, operator, region } = request;
    let certificate: ErasureCertificate;
    try {
      certificate = await operatorRights(gate).erase(subjectId, operator, region);
    } finally {
      await gate.close();
    }
    // The certificate is the answer with or without --json: a signed document to keep as it is.
    io.out(JSON.stringify(certificate, null, 2));
    if (!io.json) {
      const rows = Object.values(certificate.erased.tables).reduce((sum, n) => sum + n, 0);
      io.err(
        `Erased ${rows} row${rows === 1 ? "" : "s"} of ${subjectId} (request ${certificate.requestId}, ${certificate.status}); logged with ${operator} as the actor.`,
      );
      io.err(`note: ${APP_DATA_NOT_INCLUDED}.`);
    }
    return certificate.status === "completed" ? 0 : 1;
  },
};
