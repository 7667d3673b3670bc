/**
 * `consentgate learning status <model>`: a federated model's training, as
 * the DPO's `GET /admin/learning/:model` shows it (docs/learning.md): one
 * line with the version, the open round, the privacy spent, the clip and the
 * aggregation, then the latest rounds with their participants.
 */
import { parseArgs } from "node:util";
import { createConsentgate } from "../../consentgate.ts";
import type { LearningStatus } from "../../store/learning.ts";
import { type Command, type Io, UsageError, answer } from "../command.ts";
import { formatTable } from "../table.ts";
import { CONFIGURED_OPTIONS, CONFIGURED_USAGE, configured, policyOrProblems } from "./configured.ts";

export const learning: Command = {
  usage: `status <model> ${CONFIGURED_USAGE}`,
  summary:
    "show a federated model's rounds, participants, epsilon spent, clip and aggregation (needs CONSENTGATE_SECRET)",
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: CONFIGURED_OPTIONS, allowPositionals: true });
    const [action, name, ...rest] = positionals;
    if (action !== "status" || name === undefined || rest.length > 0) {
      throw new UsageError("usage: consentgate learning status <model>");
    }
    const target = configured(values);
    const secret = process.env.CONSENTGATE_SECRET;
    if (!secret) throw new UsageError("set CONSENTGATE_SECRET to the app's secret: the database was started with it");
    const policy = await policyOrProblems(target.policies, io);
    if (!policy) return 1;
    if (!Object.hasOwn(policy.learning, name)) {
      const known = Object.keys(policy.learning);
      throw new UsageError(
        `no federated model "${name}" in the policy (${known.length > 0 ? `models: ${known.join(", ")}` : "it has none"})`,
      );
    }
    const gate = await createConsentgate({
      policies: target.policies,
      ...(target.option === undefined ? {} : { database: target.option }),
      secret,
    });
    try {
      const s = await gate.learning.status(name);
      answer(io, s, () => describe(name, s, io));
      return 0;
    } finally {
      await gate.close();
    }
  },
};

function describe(name: string, s: LearningStatus, io: Io): void {
  const round = s.round
    ? `round ${s.round.number} open with ${s.round.pending} of ${s.round.minClients} updates${s.round.overdue ? " (overdue)" : ""}`
    : "no round open";
  io.out(
    `${name}: ${s.status}, version ${s.version}, ${round}; epsilon ${s.spent.epsilon.toFixed(3)} of ${s.budget.epsilon} ` +
      `(delta ${s.budget.delta}); clip ${s.clip}, ${s.aggregation}${s.aggregation === "trimmed-mean" ? ` (trim ${s.trim})` : ""}, noise ×${s.noise}`,
  );
  if (s.rounds.length > 0) {
    for (const line of formatTable(
      ["round", "status", "participants", "rho", "version", "closed"],
      s.rounds.map((r) => [
        String(r.round),
        r.status,
        String(r.participants),
        r.rho.toFixed(4),
        r.version === null ? "-" : String(r.version),
        r.closedAt.toISOString(),
      ]),
    ))
      io.out(line);
  }
}
