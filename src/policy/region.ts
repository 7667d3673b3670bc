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
  const explicit = hints.explicit?.trim();
  if (explicit) {
    const found = regionNamed(policy, explicit) ?? regionOfCode(policy, explicit);
    if (found !== undefined) return found;
  }
  // A repeated header, or one folded by a proxy into "DE, FR", is read by its first value.
  const header = (typeof hints.header === "string" ? hints.header : hints.header?.[0])?.split(",")[0]?.trim();
  return (header ? regionOfCode(policy, header) : undefined) ?? policy.defaults.region;
}

/**
 * The rules of a region by name; a name the policy no longer has (read back
 * from a stored request or row) gets the default region, the strictest.
 */
export function regionRules(policy: Policy, name: string): Region {
  return (Object.hasOwn(policy.regions, name) ? policy.regions[name] : undefined) ?? policy.regions[policy.defaults.region]!;
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
