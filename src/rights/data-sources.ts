/**
 * The host app's own tables join export and erasure through data sources.
 * An export may return any JSON value, or an (async) iterable of values,
 * which is streamed as a JSON array so large sources never become one string.
 * An erase returns how many records it removed.
 */
import { ConsentgateError } from "../errors.ts";

export interface DataSource {
  /** Names the source in exports and erasure certificates. */
  name: string;
  export(subjectId: string): unknown | Promise<unknown> | AsyncIterable<unknown> | Iterable<unknown>;
  erase(subjectId: string): number | Promise<number>;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export function createDataSources() {
  const sources = new Map<string, DataSource>();
  return {
    register(source: DataSource): void {
      if (typeof source !== "object" || source === null || typeof source.name !== "string" || !NAME.test(source.name)) {
        throw new ConsentgateError("invalid_option", "registerDataSource: name must be 1-64 letters, digits, _ . - starting with a letter");
      }
      if (typeof source.export !== "function" || typeof source.erase !== "function") {
        throw new ConsentgateError("invalid_option", `registerDataSource("${source.name}"): export(subjectId) and erase(subjectId) must be functions`);
      }
      if (sources.has(source.name)) throw new ConsentgateError("invalid_option", `registerDataSource: "${source.name}" is registered already`);
      sources.set(source.name, source);
    },
    list: (): DataSource[] => [...sources.values()],
    get: (name: string): DataSource | undefined => sources.get(name),
  };
}

export type DataSources = ReturnType<typeof createDataSources>;
