import ngeohash from "ngeohash";
import { isPlainObject } from "./json.ts";

const GEOHASH = /^[0-9bcdefghjkmnpqrstuvwxyz]+$/;

/** A geohash of at most `precision` characters for a `{lat, lon}` or a geohash string; undefined if it is neither. */
export function coarsenLocation(value: unknown, precision: number): string | undefined {
  if (typeof value === "string") {
    // Geohashes are case-insensitive; lower case is how ngeohash writes them.
    const hash = value.toLowerCase();
    return GEOHASH.test(hash) ? hash.slice(0, precision) : undefined;
  }
  if (!isPlainObject(value)) return undefined;
  const { lat, lon } = value;
  if (typeof lat !== "number" || typeof lon !== "number") return undefined;
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return undefined;
  return ngeohash.encode(lat, lon, precision);
}
