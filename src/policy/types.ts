/**
 * The compiled policy: what the YAML files mean once loaded, merged and
 * validated. Everything downstream (decision rules, minimizers, the store,
 * jobs, rights endpoints) reads only this shape, never raw YAML.
 * Compiled policies are deeply frozen.
 */

export const LEGAL_BASES = ["consent", "contract", "legitimate-interest", "legal-obligation"] as const;
export type LegalBasis = (typeof LEGAL_BASES)[number];

export type DurationUnit = "d" | "mo" | "y";

/** A length of time as written in the policy ("90d", "1mo", "3y"); calendar-aware, see addDuration. */
export interface Duration {
  readonly amount: number;
  readonly unit: DurationUnit;
  /** The text it was written as, for receipts, exports and tables. */
  readonly text: string;
}

/** How one field of a write is treated before it is stored. A field with no rule is dropped. */
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

export type WithdrawalAction = "purge" | "keep";

export interface Purpose {
  readonly name: string;
  readonly description: string;
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
}

export type ConsentModel = "opt-in" | "opt-out";
export type GpcMeaning = "opt-out-of-sale-or-share";

export interface Region {
  readonly name: string;
  /** ISO 3166-1 alpha-2 countries and ISO 3166-2 subdivisions ("US-CA"), upper case. */
  readonly countries: readonly string[];
  readonly model: ConsentModel;
  readonly frameworks: readonly string[];
  /** What Sec-GPC: 1 means here; undefined → nothing beyond the model. */
  readonly gpc: GpcMeaning | undefined;
  /** Time allowed to answer an export or erasure request ("1mo", "45d"). */
  readonly requestDeadline: Duration;
  /** How long compliance log entries are kept. */
  readonly logRetention: Duration;
}

/** Any HTTP method but GET, HEAD and OPTIONS, in capitals ("POST", "MERGE"). */
export type WriteMethod = string;

export interface Route {
  readonly method: WriteMethod;
  /** The Express-style pattern as written ("/api/plays/:id"). */
  readonly path: string;
  readonly purpose: string;
  /** Does a concrete request path match the pattern? */
  readonly matches: (path: string) => boolean;
}

export const JOB_NAMES = ["purge", "deadlines", "compliance-report", "log-retention", "erasure-retry"] as const;
export type JobName = (typeof JOB_NAMES)[number];

export interface Policy {
  readonly version: string;
  readonly defaults: {
    /** Used when the region is unknown: should be the strictest one. */
    readonly region: string;
    readonly unmappedWrites: "reject" | "allow";
  };
  readonly purposes: Readonly<Record<string, Purpose>>;
  readonly routes: readonly Route[];
  readonly regions: Readonly<Record<string, Region>>;
  /** A request header naming the caller's country or subdivision ("cf-ipcountry"), lower case. */
  readonly regionHeader: string | undefined;
  /** Cron expressions overriding the default job schedules. */
  readonly jobs: Readonly<Partial<Record<JobName, string>>>;
  /** Upper-case country or subdivision code → region name, from every region's `countries`. */
  readonly countryRegions: ReadonlyMap<string, string>;
  /** The files it was loaded from (empty for a policy given as an object). */
  readonly sources: readonly string[];
}
