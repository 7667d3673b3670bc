/**
 * `consentgate export <subject>`: a subject's export, as GET /export writes
 * it (src/rights/export.ts, the same code), for an operator answering a
 * request that came by mail or phone. Recorded as a privacy request with the
 * operator as the actor (request.received / request.completed in the log).
 * The document goes to stdout, or to --out; it is JSON with or without --json.
 */
import { open } from "node:fs/promises";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import { operatorRights } from "../../consentgate.ts";
import { type Command, type Io, answer } from "../command.ts";
import { APP_DATA_NOT_INCLUDED, OPERATOR_OPTIONS, OPERATOR_USAGE, operatorRequest } from "./operator.ts";

export const exportCommand: Command = {
  usage: `<subject> [--out file] ${OPERATOR_USAGE}`,
  summary:
    "write everything Consentgate holds about a subject (GET /export's document) to stdout or --out, logged with the operator as actor (needs CONSENTGATE_SECRET)",
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...OPERATOR_OPTIONS, out: { type: "string" } },
      allowPositionals: true,
    });
    const request = await operatorRequest(values, positionals, io);
    if (!request) return 1;
    const { gate, subjectId, operator, region } = request;
    try {
      // Opened before the request is recorded: a file that exists already is refused, not overwritten.
      const out = values.out === undefined ? stdoutOf(io) : (await open(values.out, "wx")).createWriteStream();
      await operatorRights(gate).export(subjectId, operator, region, out);
      await finished(out);
    } finally {
      await gate.close();
    }
    if (values.out === undefined) await io.write("\n");
    else
      answer(io, { subject: subjectId, out: values.out, appData: "not included" }, () =>
        io.out(`Wrote the export of ${subjectId} to ${values.out}; logged as request.received and request.completed.`),
      );
    if (!io.json) io.err(`note: ${APP_DATA_NOT_INCLUDED}.`);
    return 0;
  },
};

/** The command's stdout as a stream the export can end without closing the process's stdout. */
function stdoutOf(io: Io): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      io.write(chunk.toString()).then(() => done(), done);
    },
  });
}
