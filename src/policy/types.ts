/**
 * The compiled policy: what the YAML files mean once loaded, merged and
 * validated. Everything downstream (decision rules, minimizers, the store,
 * jobs, rights endpoints) reads only this shape, never raw YAML.
 * Compiled policies are deeply frozen.
 */

export const LEGAL_BASES = ["consent", "contract", "legitimate-interest", "legal-obligation"] as const;
/**
 * The lawful basis a purpose collects under (GDPR Art. 6). Anything but
 * `consent` allows collection until the subject objects
 * (docs/decision-rules.md).
 *
 * @example
 * ```ts
 * import type { LegalBasis } from "consentgate";
 *
 * const needsConsent = (basis: LegalBasis) => basis === "consent";
 * const optional = Object.values(gate.policy.purposes).filter((p) => needsConsent(p.legalBasis));
 * ```
 */
export type LegalBasis = (typeof LEGAL_BASES)[number];

/**
 * The unit of a policy duration: days, calendar months, years.
 *
 * @example
 * ```ts
 * import type { DurationUnit } from "consentgate";
 *
 * const words: Record<DurationUnit, string> = { d: "days", mo: "months", y: "years" };
 * ```
 */
export type DurationUnit = "d" | "mo" | "y";

/**
 * A length of time as written in the policy ("90d", "1mo", "3y"):
 * calendar-aware, so a month after 31 January is the last day of February
 * (docs/policy-reference.md: Durations).
 *
 * @example
 * ```ts
 * import type { Duration } from "consentgate";
 *
 * const kept = (d: Duration | undefined) => (d === undefined ? "not kept" : `kept for ${d.text}`);
 * console.log(kept(gate.policy.purposes.personalization?.retention));
 * ```
 */
export interface Duration {
  /** How many units. */
  readonly amount: number;
  /** Days, calendar months or years. */
  readonly unit: DurationUnit;
  /** The text it was written as, for receipts, exports and tables. */
  readonly text: string;
}

/**
 * How one field of a write is treated before it is stored (docs/policy-reference.md:
 * Field rules). A field with no rule is dropped.
 *
 * @example
 * ```ts
 * import type { FieldRule } from "consentgate";
 *
 * const describe = (rule: FieldRule): string => {
 *   switch (rule.kind) {
 *     case "bucket": return `rounded down to ${rule.size}`;
 *     case "geohash": return `coarsened to ${rule.precision} geohash characters`;
 *     default: return rule.kind;
 *   }
 * };
 * const fields = gate.policy.purposes.personalization?.fields ?? {};
 * console.log(Object.entries(fields).map(([path, rule]) => `${path}: ${describe(rule)}`));
 * ```
 */
export type FieldRule =
  | { readonly kind: "keep" }
  | { readonly kind: "drop" }
  /** Keyed HMAC pseudonym: equal inputs give equal outputs, the input cannot be recovered without the secret. */
  | { readonly kind: "hash" }
  /** Numbers rounded down to a multiple of `size`. */
  | { readonly kind: "bucket"; readonly size: number }
  /** A {lat, lon} or a geohash string coarsened to `precision` characters. */
  | { readonly kind: "geohash"; readonly precision: number }
  /** Timestamps truncated to the start of their day or hour (UTC). */
  | { readonly kind: "truncate"; readonly unit: "day" | "hour" }
  /** Keep the first `bits` bits of an IPv4 address and `bits * 2` of an IPv6 one (24 → 48). */
  | { readonly kind: "ip"; readonly bits: number }
  /** Strings cut to at most `length` characters. */
  | { readonly kind: "maxLength"; readonly length: number };

/**
 * What a withdrawal does to the interactions collected under the consent:
 * erase them (`purge`, the default) or keep them until they expire.
 *
 * @example
 * ```ts
 * import type { WithdrawalAction } from "consentgate";
 *
 * const onWithdrawal: WithdrawalAction | undefined = gate.policy.purposes.personalization?.onWithdrawal;
 * ```
 */
export type WithdrawalAction = "purge" | "keep";

/** The largest `delta` a release may have (issue 16): beyond it, "a few people's keys leak" is no longer rare. */
export const MAX_DELTA = 1e-3;
/** The largest `maxKeys`: no window holds more than 10000 interactions, so no one has more distinct keys. */
export const MAX_KEYS_LIMIT = 10_000;
/**
 * The largest telemetry `epsilon` per report. A report's sign is flipped with
 * probability 1 / (e^ε + 1): 4.5e-5 at ε = 10, 2.1e-9 at ε = 20. Estimates do
 * not get better past it: their standard error is about proportional to
 * c_ε = (e^ε + 1) / (e^ε − 1) (docs/telemetry.md), which is 1.037 at ε = 4,
 * 1.00067 at ε = 8 and 1.00009 at ε = 10, against 1 with no randomization at
 * all (node -e 'for (const e of [4, 8, 10, 20]) console.log(e, (Math.expm1(e) + 2) / Math.expm1(e),
 * 1 / (Math.exp(e) + 1))'). Above 10 a policy would give up privacy for no accuracy.
 */
export const MAX_TELEMETRY_EPSILON = 10;
/** The largest telemetry `sketch.hashes` (k). */
export const MAX_SKETCH_HASHES = 65_536;
/**
 * The most cells (k × m) a telemetry sketch may have: the server holds the
 * whole sketch in memory, 4 bytes a cell. Equal to MAX_CELLS of
 * src/telemetry/sketch.ts, which the policy layer may not import
 * (test/policy/insights.test.ts checks that the two agree).
 */
export const MAX_SKETCH_CELLS = 2 ** 28;

/**
 * One differentially private release of a purpose (`purposes.<p>.insights.<name>`,
 * docs/policy-reference.md): which field's values are counted, with what
 * privacy loss per release, how often, and within what budget. A release is
 * addressed by its name alone, which is unique in the policy.
 *
 * @example
 * ```ts
 * import type { InsightRelease } from "consentgate";
 *
 * const noiseScale = (r: InsightRelease) => r.maxKeys / r.epsilon; // of the discrete Laplace noise
 * const popular = gate.policy.insights.popular;
 * if (popular) console.log(`${popular.name} counts ${popular.purpose}.${popular.key}, noise scale ${noiseScale(popular)}`);
 * ```
 */
export interface InsightRelease {
  /** Its key in the purpose's `insights`; unique in the policy (`GET /insights/<name>`). */
  readonly name: string;
  /** The purpose whose windows it counts, and whose decision a subject must allow to be counted. */
  readonly purpose: string;
  /** The field whose values are counted: one the purpose keeps with rule `keep` or `hash`. */
  readonly key: string;
  /** The privacy loss of one release: a finite number > 0. */
  readonly epsilon: number;
  /** The chance that partition selection releases a key it should not: in (0, 0.001]. */
  readonly delta: number;
  /** The most distinct keys one subject adds to a release (l0), from 1 to 10000. */
  readonly maxKeys: number;
  /** The insights job releases at most this often. */
  readonly every: Duration;
  /** The most epsilon this release may spend in any rolling period. */
  readonly budget: {
    /** Total epsilon allowed per period; at least the release's own `epsilon`. */
    readonly epsilon: number;
    /** The rolling period. */
    readonly per: Duration;
  };
}

/** The aggregations a learning round may use (`purposes.<p>.learning.aggregation`). */
export const AGGREGATIONS = ["mean", "median", "trimmed-mean"] as const;
/**
 * How a round combines its updates, coordinate by coordinate: their mean, their
 * median, or their mean once `trim` of them is cut from each end.
 *
 * @example
 * ```ts
 * import type { Aggregation } from "consentgate";
 *
 * const robust = (aggregation: Aggregation) => aggregation !== "mean"; // resists a few poisoned updates
 * ```
 */
export type Aggregation = (typeof AGGREGATIONS)[number];
/** The longest item vector a model may have: an update is items × dimensions float32 values. */
export const MAX_LEARNING_DIMENSIONS = 256;
/** The largest noise multiplier: beyond it the noise drowns any update, so the policy is surely a mistake. */
export const MAX_NOISE_MULTIPLIER = 1000;

/**
 * A purpose's federated model (`purposes.<p>.learning`, docs/learning.md):
 * matrix factorization trained on the listeners' devices, whose clipped
 * updates the server aggregates robustly, with Gaussian noise, within a
 * privacy budget over the model's life.
 *
 * @example
 * ```ts
 * import type { LearningModel } from "consentgate";
 *
 * const recommender: LearningModel | undefined = gate.policy.learning.recommender;
 * if (recommender) console.log(`${recommender.aggregation}, clip ${recommender.clip}, noise ×${recommender.noise}`);
 * ```
 */
export interface LearningModel {
  /** The model's name (`GET /learning/<model>`); unique in the policy, defined in code with `gate.learning.define`. */
  readonly model: string;
  /** The purpose updates are gated for; its decision must allow it for a subject to contribute. */
  readonly purpose: string;
  /** Length of each item's (and each device's user) vector: 1 to 256. */
  readonly dimensions: number;
  /** When a round is aggregated. */
  readonly round: {
    /** A round is aggregated only once it holds at least this many updates. */
    readonly minClients: number;
    /** How long a round is meant to stay open; one still short of minClients after it is reported as overdue, never aggregated. */
    readonly maxOpen: Duration;
  };
  /** The largest L2 norm of one update; the server scales larger ones down to it. */
  readonly clip: number;
  /** How a round's updates are combined. */
  readonly aggregation: Aggregation;
  /** For `trimmed-mean`: the fraction of updates cut from each end of each coordinate, in [0, 0.5); 0 otherwise. */
  readonly trim: number;
  /** The Gaussian noise's standard deviation as a multiple of the aggregate's L2 sensitivity. */
  readonly noise: number;
  /** The server's step: factors += learningRate × the noisy aggregate. Default 1. */
  readonly learningRate: number;
  /** The privacy loss the model may cause over its life; training stops before a round would exceed it. */
  readonly budget: {
    /** Total epsilon. */
    readonly epsilon: number;
    /** The delta epsilon is stated at. */
    readonly delta: number;
  };
}

/**
 * One local-DP telemetry metric (`telemetry.<name>`, docs/policy-reference.md):
 * the purpose its reports are gated for, the privacy loss of one report, the
 * shape of Apple's Hadamard count-mean sketch, and how many reports one
 * subject may send. A device's `telemetryReport(value, params)` takes
 * `{ epsilon, ...sketch }`.
 *
 * @example
 * ```ts
 * import type { TelemetryMetric } from "consentgate";
 *
 * const params = (m: TelemetryMetric) => ({ epsilon: m.epsilon, hashes: m.sketch.hashes, width: m.sketch.width });
 * const skips = gate.policy.telemetry["genre-skips"];
 * if (skips) console.log(params(skips), `at most ${skips.limit.reports} per ${skips.limit.per.text}`);
 * ```
 */
export interface TelemetryMetric {
  /** Its key in the policy's `telemetry`. */
  readonly name: string;
  /** The purpose reports are gated for, like writes. */
  readonly purpose: string;
  /** The privacy loss of one report (ε of local differential privacy): in (0, 10]. */
  readonly epsilon: number;
  /** The count-mean sketch's shape. */
  readonly sketch: {
    /** k, the number of hash functions (rows): from 1 to 65536. */
    readonly hashes: number;
    /** m, the width of each row: a power of two from 2 to 2^31; k × m is at most 2^28. */
    readonly width: number;
  };
  /** How many reports one subject may send; more are refused with `429 report_limit`. */
  readonly limit: {
    /** Reports allowed per period: a whole number ≥ 1. */
    readonly reports: number;
    /** The period. */
    readonly per: Duration;
  };
}

/**
 * One purpose of the policy: why data is collected, under which legal
 * basis, which fields it keeps and for how long (docs/policy-reference.md).
 *
 * @example
 * ```ts
 * import type { Purpose } from "consentgate";
 *
 * const kept = (p: Purpose) => (p.window ? `the last ${p.window}, for ${p.retention?.text}` : "nothing");
 * const summary = (p: Purpose) => `${p.name}: ${p.description} (${p.legalBasis}; keeps ${kept(p)})`;
 * console.log(Object.values(gate.policy.purposes).map(summary));
 * ```
 */
export interface Purpose {
  /** Its key in the policy's `purposes`. */
  readonly name: string;
  /** What it is for, in words shown to users (the privacy center, exports). */
  readonly description: string;
  /** The lawful basis it collects under. */
  readonly legalBasis: LegalBasis;
  /** A "sale or share" under CCPA/CPRA: the Global Privacy Control opts out of it where the region says so. */
  readonly saleOrShare: boolean;
  /** Sensitive data (GDPR Art. 9, CPRA sensitive personal information): needs an explicit grant in every region. */
  readonly sensitive: boolean;
  /** Dotted field path → rule. Paths not listed are dropped. */
  readonly fields: Readonly<Record<string, FieldRule>>;
  /** At most this many interactions per subject are kept; undefined → the purpose stores no interactions. */
  readonly window: number | undefined;
  /** How long an interaction is kept; present whenever `window` is. */
  readonly retention: Duration | undefined;
  /** What a withdrawal does to interactions collected under the consent. Default "purge". */
  readonly onWithdrawal: WithdrawalAction;
  /** Its differentially private releases, by name; empty when it has none. */
  readonly insights: Readonly<Record<string, InsightRelease>>;
  /** Its federated model, if it has one. */
  readonly learning: LearningModel | undefined;
}

/**
 * A region's default for consent-based purposes nobody chose for yet:
 * refused until granted (`opt-in`) or allowed until withdrawn (`opt-out`).
 *
 * @example
 * ```ts
 * import type { ConsentModel } from "consentgate";
 *
 * const bannerNeeded = (model: ConsentModel) => model === "opt-in";
 * ```
 */
export type ConsentModel = "opt-in" | "opt-out";
/**
 * What Global Privacy Control means in a region: an opt-out of purposes
 * that are a sale or share (CCPA/CPRA).
 *
 * @example
 * ```ts
 * import type { GpcMeaning } from "consentgate";
 *
 * const optOut: GpcMeaning = "opt-out-of-sale-or-share";
 * const honoursGpc = Object.values(gate.policy.regions).filter((r) => r.gpc === optOut);
 * ```
 */
export type GpcMeaning = "opt-out-of-sale-or-share";

/**
 * One region of the policy: where it applies, its consent model, what GPC
 * means there, and its legal deadlines (docs/policy-reference.md).
 *
 * @example
 * ```ts
 * import type { Region } from "consentgate";
 *
 * const line = (r: Region) =>
 *   `${r.name} (${r.frameworks.join(", ")}): ${r.model}, requests answered within ${r.requestDeadline.text}`;
 * console.log(Object.values(gate.policy.regions).map(line));
 * ```
 */
export interface Region {
  /** Its key in the policy's `regions`. */
  readonly name: string;
  /** ISO 3166-1 alpha-2 countries and ISO 3166-2 subdivisions ("US-CA"), upper case. */
  readonly countries: readonly string[];
  /** refused until granted, or allowed until withdrawn. */
  readonly model: ConsentModel;
  /** The laws it stands for, as written in the policy ("GDPR", "CCPA"). */
  readonly frameworks: readonly string[];
  /** What Sec-GPC: 1 means here; undefined → nothing beyond the model. */
  readonly gpc: GpcMeaning | undefined;
  /** Time allowed to answer an export or erasure request ("1mo", "45d"). */
  readonly requestDeadline: Duration;
  /** How long compliance log entries are kept. */
  readonly logRetention: Duration;
}

/**
 * Any HTTP method but GET, HEAD and OPTIONS, in capitals ("POST", "MERGE").
 *
 * @example
 * ```ts
 * import type { WriteMethod } from "consentgate";
 *
 * const methods = new Set<WriteMethod>(gate.policy.routes.map((r) => r.method));
 * ```
 */
export type WriteMethod = string;

/**
 * One entry of the policy's `routes` map: writes to it are gated for its
 * purpose by `gate.middleware()`.
 *
 * @example
 * ```ts
 * import type { Route } from "consentgate";
 *
 * const purposeOf = (method: string, path: string) =>
 *   gate.policy.routes.find((r: Route) => r.method === method && r.matches(path))?.purpose;
 * console.log(purposeOf("POST", "/api/plays"));
 * ```
 */
export interface Route {
  /** The write method it matches. */
  readonly method: WriteMethod;
  /** The Express-style pattern as written ("/api/plays/:id"). */
  readonly path: string;
  /** The purpose writes to it are gated for. */
  readonly purpose: string;
  /** Does a concrete request path match the pattern? */
  readonly matches: (path: string) => boolean;
}

export const JOB_NAMES = [
  "purge",
  "deadlines",
  "compliance-report",
  "log-retention",
  "erasure-retry",
  "insights",
  "learning",
] as const;
/**
 * The scheduled jobs, by name (docs/deployment.md: Jobs and schedules).
 *
 * @example
 * ```ts
 * import type { JobName } from "consentgate";
 *
 * const nightly: JobName[] = ["compliance-report", "log-retention"];
 * for (const job of nightly) await gate.runJob(job);
 * ```
 */
export type JobName = (typeof JOB_NAMES)[number];

/**
 * The compiled policy, `gate.policy`: what the YAML files mean once loaded,
 * merged and validated. Deeply frozen.
 *
 * @example
 * ```ts
 * import type { Policy } from "consentgate";
 *
 * const consentPurposes = (policy: Policy) =>
 *   Object.values(policy.purposes).filter((p) => p.legalBasis === "consent").map((p) => p.name);
 * console.log(gate.policy.version, consentPurposes(gate.policy));
 * ```
 */
export interface Policy {
  /** The version written in the policy; recorded in every receipt and log entry. */
  readonly version: string;
  /** What applies when nothing more specific does. */
  readonly defaults: {
    /** Used when the region is unknown: should be the strictest one. */
    readonly region: string;
    /** A write no purpose covers: refused (`reject`, `unmapped_write`) or let through (`allow`). */
    readonly unmappedWrites: "reject" | "allow";
  };
  /** The purposes, by name. */
  readonly purposes: Readonly<Record<string, Purpose>>;
  /** The `routes` map, in the order written. */
  readonly routes: readonly Route[];
  /** The regions, by name. */
  readonly regions: Readonly<Record<string, Region>>;
  /** A request header naming the caller's country or subdivision ("cf-ipcountry"), lower case. */
  readonly regionHeader: string | undefined;
  /**
   * The day ("YYYY-MM-DD") the site last stated that it honours GPC, as
   * written in the policy; `gate.wellKnown()` falls back to `version` when
   * that is such a date.
   */
  readonly gpcLastUpdate: string | undefined;
  /** Cron expressions overriding the default job schedules. */
  readonly jobs: Readonly<Partial<Record<JobName, string>>>;
  /** Every purpose's releases, by name (release names are unique in the policy); each names its purpose. */
  readonly insights: Readonly<Record<string, InsightRelease>>;
  /** The local-DP telemetry metrics, by name. */
  readonly telemetry: Readonly<Record<string, TelemetryMetric>>;
  /** Every purpose's federated model, by model name (unique in the policy); each names its purpose. */
  readonly learning: Readonly<Record<string, LearningModel>>;
  /** Upper-case country or subdivision code → region name, from every region's `countries`. */
  readonly countryRegions: ReadonlyMap<string, string>;
  /** The files it was loaded from (empty for a policy given as an object). */
  readonly sources: readonly string[];
}
