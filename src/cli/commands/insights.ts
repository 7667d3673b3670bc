/**
 * `consentgate insights release <name>`: one differentially private release
 * now, against the app's database (docs/insights.md), what the insights job
 * does when a release is due. Exit 0 when released, 1 when the budget
 * refused it (`budget_exhausted`; the previous release stays served). It
 * prints what was released, never a count.
 */
import { parseArgs } from "node:util";
import { createConsentgate } from "../../consentgate.ts";
import { type Command, UsageError, answer } from "../command.ts";
import { CONFIGURED_OPTIONS, CONFIGURED_USAGE, configured, policyOrProblems } from "./configured.ts";

export const insights: Command = {
  usage: `release <name> ${CONFIGURED_USAGE}`,
  summary:
    "make a differentially private release now; exit 1 when its privacy budget refuses it (needs CONSENTGATE_SECRET)",
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: CONFIGURED_OPTIONS, allowPositionals: true });
    const [action, name, ...rest] = positionals;
    if (action !== "release" || name === undefined || rest.length > 0) {
      throw new UsageError("usage: consentgate insights release <name>");
    }
    const target = configured(values);
    const secret = process.env.CONSENTGATE_SECRET;
    if (!secret) throw new UsageError("set CONSENTGATE_SECRET to the app's secret: the release is logged with it");
    const policy = await policyOrProblems(target.policies, io);
    if (!policy) return 1;
    if (!Object.hasOwn(policy.insights, name)) {
      const known = Object.keys(policy.insights);
      throw new UsageError(
        `no insight release "${name}" in the policy (${known.length > 0 ? `releases: ${known.join(", ")}` : "it has none"})`,
      );
    }
    const gate = await createConsentgate({
      policies: target.policies,
      ...(target.option === undefined ? {} : { database: target.option }),
      secret,
    });
    try {
      const result = await gate.insights.release(name);
      answer(io, result, () =>
        io.out(
          result.released
            ? `${name}: released ${result.keys} key${result.keys === 1 ? "" : "s"} (threshold ${result.threshold}); ` +
                `epsilon spent ${result.spent} of ${result.budget} in the budget's period; logged as insights.released.`
            : `${name}: refused (budget_exhausted): epsilon spent ${result.spent} of ${result.budget} in the budget's period; ` +
                "the previous release is still served; logged as insights.refused.",
        ),
      );
      return result.released ? 0 : 1;
    } finally {
      await gate.close();
    }
  },
};
