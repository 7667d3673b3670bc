/**
 * `policy.loaded`: each region's log states the policy in force whenever it
 * changes (and again after a trim removed the entry that said so), so that
 * every later entry can be read against the rules that applied.
 */
import type { Policy, Region } from "../policy/types.ts";
import { type ComplianceLogStore, LOG_EVENT } from "../store/compliance-log.ts";
import type { ComplianceLog } from "./events.ts";

export async function logPolicyLoaded(
  store: Pick<ComplianceLogStore, "lastPolicyVersion">,
  log: Pick<ComplianceLog, "append">,
  policy: Policy,
): Promise<void> {
  for (const region of Object.values(policy.regions)) {
    const last = await store.lastPolicyVersion(region.name);
    if (last !== policy.version)
      await log.append({ region: region.name, event: LOG_EVENT.policyLoaded, details: describe(policy, region) });
  }
}

function describe(policy: Policy, region: Region): Record<string, unknown> {
  const purposes = Object.values(policy.purposes).map((p) => [
    p.name,
    {
      legalBasis: p.legalBasis,
      saleOrShare: p.saleOrShare,
      sensitive: p.sensitive,
      window: p.window ?? null,
      retention: p.retention?.text ?? null,
      onWithdrawal: p.onWithdrawal,
      // The privacy parameters of its releases, so that a changed epsilon or budget is on the record.
      ...(Object.keys(p.insights).length === 0
        ? {}
        : {
            insights: Object.fromEntries(
              Object.values(p.insights).map((r) => [
                r.name,
                {
                  key: r.key,
                  epsilon: r.epsilon,
                  delta: r.delta,
                  maxKeys: r.maxKeys,
                  every: r.every.text,
                  budget: { epsilon: r.budget.epsilon, per: r.budget.per.text },
                },
              ]),
            ),
          }),
      // And of its federated model: what a round may reveal, and how much in all.
      ...(p.learning === undefined
        ? {}
        : {
            learning: {
              model: p.learning.model,
              clip: p.learning.clip,
              aggregation: p.learning.aggregation,
              trim: p.learning.trim,
              noise: p.learning.noise,
              minClients: p.learning.round.minClients,
              budget: { ...p.learning.budget },
            },
          }),
    },
  ]);
  const telemetry = Object.values(policy.telemetry).map((m) => [
    m.name,
    {
      purpose: m.purpose,
      epsilon: m.epsilon,
      sketch: m.sketch,
      limit: { reports: m.limit.reports, per: m.limit.per.text },
    },
  ]);
  return {
    version: policy.version,
    model: region.model,
    frameworks: region.frameworks,
    gpc: region.gpc ?? null,
    requestDeadline: region.requestDeadline.text,
    logRetention: region.logRetention.text,
    purposes: Object.fromEntries(purposes),
    ...(telemetry.length === 0 ? {} : { telemetry: Object.fromEntries(telemetry) }),
  };
}
