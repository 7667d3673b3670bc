/**
 * Which region's rules apply to a request. Pure: the caller reads the header
 * and the host's region() option, this decides what they mean.
 */
import type { Policy, Region } from "./types.ts";

export interface RegionHints {
  /** What the host's `region(req)` option returned: a region name or a country/subdivision code. */
  explicit?: string | undefined;
  /** The value of the policy's `regionHeader`: an ISO 3166-1 or ISO 3166-2 code such as "DE" or "US-CA". */
  header?: string | readonly string[] | undefined;
}

/** The host's answer, else the header, else `defaults.region`; unknown names and codes fall through. */
export function resolveRegion(policy: Policy, hints: RegionHints): string {
  const memo = memoOf(policy);
  // != null: a host's region() written in JavaScript may answer null for "don't know".
  if (hints.explicit != null) {
    let found = memo.explicit.get(hints.explicit);
    if (found === undefined) {
      const explicit = hints.explicit.trim();
      found = (explicit ? (regionNamed(policy, explicit) ?? regionOfCode(policy, explicit)) : undefined) ?? null;
      remember(memo.explicit, hints.explicit, found);
    }
    if (found !== null) return found;
  }
  // A repeated header, or one folded by a proxy into "DE, FR", is read by its first value.
  const value = typeof hints.header === "string" ? hints.header : hints.header?.[0];
  if (value === undefined) return policy.defaults.region;
  let region = memo.header.get(value);
  if (region === undefined) {
    const header = value.split(",")[0]?.trim();
    region = (header ? regionOfCode(policy, header) : undefined) ?? policy.defaults.region;
    remember(memo.header, value, region);
  }
  return region;
}

/**
 * What each host answer and header value resolved to, per policy: this runs on
 * every request, and a site sees few distinct values (a few hundred country and
 * subdivision codes), so each is worked out once. Bounded, because the header is
 * the client's to choose: only short values are kept, and a full map starts over.
 */
interface Memo {
  /** null: names no region, the header decides. */
  readonly explicit: Map<string, string | null>;
  readonly header: Map<string, string>;
}

const MEMO_SIZE = 1000;
/** Codes are at most 6 characters; a proxy's "DE, FR" a little more. */
const MEMO_KEY_LENGTH = 64;
const memos = new WeakMap<Policy, Memo>();

function memoOf(policy: Policy): Memo {
  let memo = memos.get(policy);
  if (!memo) memos.set(policy, (memo = { explicit: new Map(), header: new Map() }));
  return memo;
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (key.length > MEMO_KEY_LENGTH) return;
  if (map.size >= MEMO_SIZE) map.clear();
  map.set(key, value);
}

/**
 * The rules of a region by name; a name the policy no longer has (read back
 * from a stored request or row) gets the default region, the strictest.
 */
export function regionRules(policy: Policy, name: string): Region {
  return (
    (Object.hasOwn(policy.regions, name) ? policy.regions[name] : undefined) ?? policy.regions[policy.defaults.region]!
  );
}

function regionNamed(policy: Policy, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return Object.keys(policy.regions).find((region) => region.toLowerCase() === wanted);
}

/** A subdivision no region lists falls back to its country: "US-NY" → the region of "US", if any. */
function regionOfCode(policy: Policy, code: string): string | undefined {
  const upper = code.toUpperCase();
  const country = upper.split("-")[0] ?? upper;
  return policy.countryRegions.get(upper) ?? policy.countryRegions.get(country);
}
