/**
 * The host app's own tables join export and erasure through data sources:
 * the ones the host registers, and one per model it gates with
 * `gate.prismaExtension()` (`prisma.<Model>`).
 * An export may return any JSON value, or an (async) iterable of values,
 * which is streamed as a JSON array so large sources never become one string.
 * An erase returns how many records it removed.
 */
import { ConsentgateError } from "../errors.ts";

/**
 * One of the host app's own tables, joined to export and erasure by
 * `gate.registerDataSource()`.
 *
 * @example
 * ```ts
 * import type { DataSource } from "consentgate";
 *
 * const playlists = new Map<string, { name: string; tracks: string[] }[]>();
 * const source: DataSource = {
 *   name: "playlists",
 *   // Any JSON value; an (async) iterable is streamed as a JSON array.
 *   *export(subjectId) {
 *     yield* playlists.get(subjectId) ?? [];
 *   },
 *   erase(subjectId) {
 *     const count = playlists.get(subjectId)?.length ?? 0;
 *     playlists.delete(subjectId);
 *     return count;
 *   },
 * };
 * gate.registerDataSource(source);
 * ```
 */
export interface DataSource {
  /** Names the source in exports and erasure certificates: 1-64 letters, digits, `_ . -`, starting with a letter. */
  name: string;
  /**
   * What the source holds about the subject, for `GET /export`: any JSON
   * value, or an (async) iterable of values, streamed as a JSON array (big
   * integers are written as decimal text, bytes as base64, dates by their
   * toJSON). A throw cuts the download (the request is recorded as failed).
   */
  export(subjectId: string): unknown | Promise<unknown> | AsyncIterable<unknown> | Iterable<unknown>;
  /**
   * Erases what the source holds about the subject, for `DELETE /data`, and
   * returns how many records it removed. A throw leaves the erasure
   * `partial`; the erasure-retry job calls it again, so it must be safe to
   * repeat.
   */
  erase(subjectId: string): number | Promise<number>;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export function createDataSources() {
  const sources = new Map<string, DataSource>();
  return {
    register(source: DataSource): void {
      if (typeof source !== "object" || source === null || typeof source.name !== "string" || !NAME.test(source.name)) {
        throw new ConsentgateError(
          "invalid_option",
          "registerDataSource: name must be 1-64 letters, digits, _ . - starting with a letter",
        );
      }
      if (typeof source.export !== "function" || typeof source.erase !== "function") {
        throw new ConsentgateError(
          "invalid_option",
          `registerDataSource("${source.name}"): export(subjectId) and erase(subjectId) must be functions`,
        );
      }
      if (sources.has(source.name))
        throw new ConsentgateError("invalid_option", `registerDataSource: "${source.name}" is registered already`);
      sources.set(source.name, source);
    },
    list: (): DataSource[] => [...sources.values()],
    get: (name: string): DataSource | undefined => sources.get(name),
  };
}

export type DataSources = ReturnType<typeof createDataSources>;
