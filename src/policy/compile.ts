/**
 * Turns a validated policy into the compiled, deeply frozen Policy that the
 * rest of Consentgate reads. Nothing here can fail: validatePolicy and
 * checkRelations have already said everything that is wrong.
 */
import type { PolicyInput } from "./schema.ts";
import type { InsightRelease, JobName, LearningModel, Policy, Purpose, Region, TelemetryMetric } from "./types.ts";

export function compilePolicy(input: PolicyInput, sources: readonly string[]): Policy {
  const purposes = recordOf(
    Object.entries(input.purposes).map(([name, p]) => [name, compilePurpose(name, p)] as const),
  );
  const regions = recordOf(Object.entries(input.regions).map(([name, r]) => [name, compileRegion(name, r)] as const));
  // Release names are unique in the policy (checkRelations), so this lookup loses nothing.
  const insights = recordOf(Object.values(purposes).flatMap((purpose) => Object.entries(purpose.insights)));
  return deepFreeze({
    version: input.version,
    defaults: { region: input.defaults.region, unmappedWrites: input.defaults.unmappedWrites },
    purposes,
    routes: input.routes,
    regions,
    regionHeader: input.regionHeader,
    gpcLastUpdate: input.gpcLastUpdate,
    jobs: recordOf(Object.entries(input.jobs).filter((entry): entry is [JobName, string] => entry[1] !== undefined)),
    insights,
    telemetry: recordOf(
      Object.entries(input.telemetry).map(([name, metric]) => [name, compileMetric(name, metric)] as const),
    ),
    // Model names are unique in the policy (checkRelations), so this lookup loses nothing.
    learning: recordOf(
      Object.values(purposes).flatMap((purpose) =>
        purpose.learning ? [[purpose.learning.model, purpose.learning] as const] : [],
      ),
    ),
    countryRegions: new ReadOnlyMap(
      Object.values(regions).flatMap((region) => region.countries.map((code) => [code, region.name] as const)),
    ),
    sources: [...sources],
  });
}

function compilePurpose(name: string, p: PolicyInput["purposes"][string]): Purpose {
  return {
    name,
    description: p.description,
    legalBasis: p.legalBasis,
    saleOrShare: p.saleOrShare,
    sensitive: p.sensitive,
    fields: recordOf(Object.entries(p.fields)),
    window: p.window,
    retention: p.retention,
    onWithdrawal: p.onWithdrawal,
    insights: recordOf(
      Object.entries(p.insights).map(([release, r]) => [release, compileRelease(release, name, r)] as const),
    ),
    learning: p.learning && compileLearning(name, p.learning),
  };
}

function compileLearning(purpose: string, l: NonNullable<PolicyInput["purposes"][string]["learning"]>): LearningModel {
  return {
    model: l.model,
    purpose,
    dimensions: l.dimensions,
    round: { minClients: l.round.minClients, maxOpen: l.round.maxOpen },
    clip: l.clip,
    aggregation: l.aggregation,
    trim: l.aggregation === "trimmed-mean" ? (l.trim ?? 0) : 0,
    noise: l.noise,
    learningRate: l.learningRate,
    budget: { epsilon: l.budget.epsilon, delta: l.budget.delta },
  };
}

function compileRelease(
  name: string,
  purpose: string,
  r: PolicyInput["purposes"][string]["insights"][string],
): InsightRelease {
  return {
    name,
    purpose,
    key: r.key,
    epsilon: r.epsilon,
    delta: r.delta,
    maxKeys: r.maxKeys,
    every: r.every,
    budget: { epsilon: r.budget.epsilon, per: r.budget.per },
  };
}

function compileMetric(name: string, m: PolicyInput["telemetry"][string]): TelemetryMetric {
  return {
    name,
    purpose: m.purpose,
    epsilon: m.epsilon,
    sketch: { hashes: m.sketch.hashes, width: m.sketch.width },
    limit: { reports: m.limit.reports, per: m.limit.per },
  };
}

function compileRegion(name: string, r: PolicyInput["regions"][string]): Region {
  return {
    name,
    countries: r.countries,
    model: r.model,
    frameworks: r.frameworks,
    gpc: r.gpc,
    requestDeadline: r.requestDeadline,
    logRetention: r.logRetention,
  };
}

/**
 * A prototype-free record: names come from policy files and from requests
 * (PUT /consents/:purpose), and looking up "constructor" must find nothing
 * rather than a member of Object.prototype.
 */
function recordOf<K extends string, T>(entries: Iterable<readonly [K, T]>): Record<K, T> {
  const record = Object.create(null) as Record<K, T>;
  for (const [key, value] of entries) record[key] = value;
  return record;
}

/** Object.freeze cannot stop Map#set, so the country map refuses writes itself. */
class ReadOnlyMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [key, value] of entries) super.set(key, value);
  }
  override set(): never {
    throw new TypeError("the compiled policy is read-only");
  }
  override delete(): never {
    throw new TypeError("the compiled policy is read-only");
  }
  override clear(): never {
    throw new TypeError("the compiled policy is read-only");
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
