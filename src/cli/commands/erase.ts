/**
 * `consentgate erase <subject> --yes`: an erasure for an operator acting on a
 * request that came by mail or phone, recorded as a privacy request with the
 * operator as the actor. The CLI runs none of the app's code, so it erases
 * Consentgate's own tables now (the code of DELETE /data,
 * src/rights/erasure.ts) and leaves the request open: the app's
 * erasure-retry job erases the app's data sources and gated models, then
 * completes the request and signs the certificate. Finishing here would
 * certify an erasure the app's tables have not had. `--complete`: the
 * operator states the app keeps no personal data outside Consentgate, so the
 * erasure is finished and the signed certificate printed at once.
 * Without --yes it refuses (exit 2) and erases nothing: erasure cannot be undone.
 */
import { parseArgs } from "node:util";
import { operatorRights } from "../../consentgate.ts";
import { type ErasureCertificate, INTERRUPTED_AFTER_MS, type OwnTablesErased } from "../../rights/erasure.ts";
import { type Command, UsageError } from "../command.ts";
import { OPERATOR_OPTIONS, OPERATOR_USAGE, operatorRequest } from "./operator.ts";

export const erase: Command = {
  usage: `<subject> --yes [--complete] ${OPERATOR_USAGE}`,
  summary:
    "erase a subject from Consentgate's tables now, logged with the operator as actor; the app's erasure-retry job erases the app's data and signs the certificate (--complete: the app keeps none, finish and sign now). Needs CONSENTGATE_SECRET",
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...OPERATOR_OPTIONS, yes: { type: "boolean" }, complete: { type: "boolean" } },
      allowPositionals: true,
    });
    if (!values.yes)
      throw new UsageError(
        `erasure cannot be undone: add --yes to erase ${positionals.length === 1 ? `"${positionals[0]}"` : "the subject"}'s data`,
      );
    const request = await operatorRequest(values, positionals, io);
    if (!request) return 1;
    const { gate, subjectId, operator, region } = request;
    const rights = operatorRights(gate);
    if (values.complete) {
      let certificate: ErasureCertificate;
      try {
        certificate = await rights.erase(subjectId, operator, region);
      } finally {
        await gate.close();
      }
      // The certificate is the answer with or without --json: a signed document to keep as it is.
      io.out(JSON.stringify(certificate, null, 2));
      if (!io.json)
        io.err(
          `Erased ${rowCount(certificate.erased.tables)} of ${subjectId} (request ${certificate.requestId}, ${certificate.status}); logged with ${operator} as the actor.`,
        );
      return certificate.status === "completed" ? 0 : 1;
    }
    let step: OwnTablesErased;
    try {
      step = await rights.eraseOwnTables(subjectId, operator, region);
    } finally {
      await gate.close();
    }
    // JSON with or without --json, as the certificate of --complete is: what a script keeps to follow the request.
    io.out(
      JSON.stringify(
        {
          requestId: step.requestId,
          subject: subjectId,
          status: "received",
          erased: { tables: step.tables },
          completedBy: "erasure-retry",
        },
        null,
        2,
      ),
    );
    if (!io.json) {
      const minutes = INTERRUPTED_AFTER_MS / 60_000;
      for (const line of [
        `Erased ${rowCount(step.tables)} of ${subjectId} from Consentgate's tables (request ${step.requestId}, still open); logged with ${operator} as the actor.`,
        `The app erases its own data (registered data sources, gated Prisma models) and completes the request with its signed certificate at its first erasure-retry run from ${minutes} minutes after now (jobs: true runs it every hour; or gate.runJob("erasure-retry")).`,
        `The certificate: GET <router>/requests/${step.requestId}?subject=${subjectId} as an agent (the console's request page shows it completed).`,
        `If the app keeps no personal data outside Consentgate, pass --complete to finish and sign now.`,
      ])
        io.err(line);
    }
    return 0;
  },
};

function rowCount(tables: OwnTablesErased["tables"]): string {
  const rows = Object.values(tables).reduce((sum, n) => sum + n, 0);
  return `${rows} row${rows === 1 ? "" : "s"}`;
}
