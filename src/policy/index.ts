/** The policy: loading and compiling YAML policy files, region resolution and durations. */
export { loadPolicy } from "./load.ts";
export { resolveRegion, type RegionHints } from "./region.ts";
export { addDuration, parseDuration, subtractDuration } from "./duration.ts";
export * from "./types.ts";
