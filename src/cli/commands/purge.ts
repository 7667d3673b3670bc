/**
 * `consentgate purge [--dry-run]`: the purge job, by hand, against the app's
 * database (docs/deployment.md: Jobs and schedules). Not elected: it runs even if a scheduled purge is
 * running elsewhere, which is safe (each statement re-checks what it deletes).
 *
 * On a terminal (stderr a TTY, no --json) a bar on stderr shows the rows
 * deleted, of those due when it started, and rows/s: a purge of millions of
 * rows takes minutes. Anywhere else nothing is written until the summary.
 */
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import { createConsentgate } from "../../consentgate.ts";
import type { Counts, PurgeProgress, PurgeResult } from "../../jobs/purge.ts";
import { type Command, type Io, UsageError, answer } from "../command.ts";
import { formatTable } from "../table.ts";
import { CONFIGURED_OPTIONS, CONFIGURED_USAGE, configured, policyOrProblems } from "./configured.ts";

export const purge: Command = {
  usage: `[--dry-run] ${CONFIGURED_USAGE}`,
  summary:
    "delete expired and out-of-window interactions now and log it per region; --dry-run only counts (needs CONSENTGATE_SECRET)",
  async run(args, io) {
    const { values } = parseArgs({
      args: [...args],
      options: { ...CONFIGURED_OPTIONS, "dry-run": { type: "boolean" } },
    });
    const target = configured(values);
    const secret = process.env.CONSENTGATE_SECRET;
    if (!secret)
      throw new UsageError(
        "set CONSENTGATE_SECRET to the app's secret: the log names subjects by pseudonyms made with it",
      );
    const policy = await policyOrProblems(target.policies, io);
    if (!policy) return 1;
    const dryRun = values["dry-run"] ?? false;
    const gate = await createConsentgate({
      policies: target.policies,
      ...(target.option === undefined ? {} : { database: target.option }),
      secret,
    });
    const bar = dryRun || io.progress === undefined ? undefined : progressBar(io.progress);
    let result: PurgeResult;
    try {
      result = await gate.runJob("purge", { dryRun, ...(bar ? { onProgress: bar.update } : {}) });
    } finally {
      bar?.stop();
      await gate.close();
    }
    answer(io, result, () => describe(result, io));
    return 0;
  },
};

function describe(result: PurgeResult, io: Io): void {
  const { dryRun } = result;
  const rows = tableRows(result.expired, result.outOfWindow);
  const total = rows.reduce((sum, row) => sum + Number(row[2]) + Number(row[3]), 0);
  if (rows.length > 0)
    formatTable(["region", "purpose", "expired", "out of window"], rows).forEach((line) => io.out(line));
  io.out(
    `${dryRun ? "Would delete" : "Deleted"} ${total} interaction${total === 1 ? "" : "s"} and ${result.emptyWindows} empty window${result.emptyWindows === 1 ? "" : "s"}${dryRun ? " (dry run: nothing changed)" : "; logged per region as purge.ran"}.`,
  );
}

/** A bar on `terminal`: rows deleted of those due, and rows/s since it started deleting. */
function progressBar(terminal: NodeJS.WritableStream): { update: (p: PurgeProgress) => void; stop: () => void } {
  const bar = new SingleBar({
    stream: terminal,
    format: "purge [{bar}] {percentage}% | {value}/{total} rows | {speed} rows/s | {duration_formatted}",
    hideCursor: true,
  });
  let started: number | undefined;
  return {
    update({ deleted, expected }) {
      if (started === undefined) {
        // Nothing due and nothing deleted: no bar for an empty purge.
        if (expected === 0 && deleted === 0) return;
        started = Date.now();
        bar.start(Math.max(expected, deleted), 0, { speed: 0 });
      }
      // Rows written while it runs (or the app's gated rows, not counted ahead) can pass what was due.
      if (deleted > bar.getTotal()) bar.setTotal(deleted);
      const seconds = (Date.now() - started) / 1000;
      bar.update(deleted, { speed: seconds > 0 ? Math.round(deleted / seconds) : deleted });
    },
    stop: () => bar.stop(),
  };
}

function tableRows(expired: Counts, outOfWindow: Counts): string[][] {
  const keys = new Set(
    [...Object.entries(expired), ...Object.entries(outOfWindow)].flatMap(([region, purposes]) =>
      Object.keys(purposes).map((p) => `${region}\u0000${p}`),
    ),
  );
  return [...keys].sort().map((key) => {
    const [region = "", purpose = ""] = key.split("\u0000");
    return [region, purpose, String(expired[region]?.[purpose] ?? 0), String(outOfWindow[region]?.[purpose] ?? 0)];
  });
}
