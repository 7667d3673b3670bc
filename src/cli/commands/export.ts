/**
 * `consentgate export <subject>`: a subject's export, as GET /export writes
 * it (src/rights/export.ts, the same code), for an operator answering a
 * request that came by mail or phone. Recorded as a privacy request with the
 * operator as the actor (request.received / request.completed in the log).
 * The document goes to stdout, or to --out; it is JSON with or without --json.
 */
import { randomUUID } from "node:crypto";
import type { WriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import path from "node:path";
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
    const write = async (out: Writable) => {
      await operatorRights(gate).export(subjectId, operator, region, out);
      await finished(out);
    };
    try {
      if (values.out === undefined) await write(stdoutOf(io));
      else await writeFileWhole(values.out, write);
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

/**
 * Writes an export to `file` whole or not at all: into a file of its own
 * beside it (created exclusively, readable by its owner only: it is personal
 * data), renamed to `file` once complete. `file` is claimed first, empty and
 * exclusively, before the request is recorded: one that exists already is
 * refused (EEXIST), not overwritten. When the export fails, both are removed,
 * so no half-written document of personal data is left on disk.
 */
async function writeFileWhole(file: string, write: (out: Writable) => Promise<void>): Promise<void> {
  await (await open(file, "wx", 0o600)).close();
  const partial = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.partial`);
  let out: WriteStream | undefined;
  try {
    out = (await open(partial, "wx", 0o600)).createWriteStream();
    await write(out);
    await rename(partial, file);
  } catch (error) {
    if (out) {
      // Destroying the stream closes its file handle (autoClose). finished() waits for that, and its
      // error (the writes destroy() cut short) is the export's failure, already on its way up.
      out.destroy();
      await finished(out).catch(() => {});
    }
    await rm(partial, { force: true });
    await rm(file, { force: true });
    throw error;
  }
}

/** The command's stdout as a stream the export can end without closing the process's stdout. */
function stdoutOf(io: Io): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      io.write(chunk.toString()).then(() => done(), done);
    },
  });
}
