/**
 * `consentgate verify <region>`: recomputes the region's compliance log hash
 * chain in the app's database. Exit 0 intact, 1 broken (with the entry and
 * the reason). Reads only; needs the app's secret, which the chain is keyed with.
 */
import { parseArgs } from "node:util";
import { createComplianceLog } from "../../audit/log.ts";
import { createKeyring } from "../../signatures/hmac.ts";
import { createComplianceLogStore } from "../../store/compliance-log.ts";
import { DEFAULT_POOL_SIZE } from "../../options.ts";
import { compareSecretFingerprint } from "../../store/secret-fingerprint.ts";
import { openStore } from "../../store/store.ts";
import { type Command, UsageError, answer } from "../command.ts";
import { CONFIGURED_OPTIONS, CONFIGURED_USAGE, configured, policyOrProblems, regionOf } from "./configured.ts";

export const verify: Command = {
  usage: `<region> ${CONFIGURED_USAGE}`,
  summary: "check a region's compliance log hash chain; exit 1 when it is broken (needs CONSENTGATE_SECRET)",
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: CONFIGURED_OPTIONS, allowPositionals: true });
    const secret = process.env.CONSENTGATE_SECRET;
    if (!secret)
      throw new UsageError("set CONSENTGATE_SECRET to the app's secret: the log's hash chain is keyed with it");
    const target = configured(values);
    const policy = await policyOrProblems(target.policies, io);
    if (!policy) return 1;
    const region = regionOf(policy, positionals);
    const store = await openStore(target.database, { poolSize: DEFAULT_POOL_SIZE });
    try {
      const keyring = createKeyring(secret);
      // Reads only, so it records nothing; a wrong secret would report every chain as broken.
      await compareSecretFingerprint(store.connection, keyring.fingerprint);
      const log = createComplianceLog(createComplianceLogStore(store.connection), {
        pseudonym: keyring.pseudonym,
        chainKey: keyring.key("log-chain"),
        now: () => new Date(),
      });
      const result = await log.verify(region);
      answer(io, { region, ...result }, () =>
        io.out(
          result.ok
            ? `${region}: the compliance log is intact (${result.entries} entr${result.entries === 1 ? "y" : "ies"}).`
            : `${region}: the compliance log is broken at entry ${result.brokenAt}: ${result.reason}.`,
        ),
      );
      return result.ok ? 0 : 1;
    } finally {
      await store.close();
    }
  },
};
