/**
 * Named prepared statements on PGlite.
 *
 * PGlite's `query()` parses and plans every statement anew (it has no named
 * statements). For the interaction store's batch statement that is about a
 * fifth of its cost, so named statements are done here with the wire protocol
 * PGlite speaks: Parse once under a name, then Bind and Execute per call, with
 * PGlite's own serializers and result parser.
 *
 * Each call holds both of PGlite's locks, as `query()` does: the transaction
 * lock, so the statement never lands inside another caller's open transaction,
 * and the query lock, so no other message interleaves with its own.
 */
import { type PGlite, parse, protocol } from "@electric-sql/pglite";

const { serialize } = protocol;

export function namedStatements(db: PGlite) {
  /** Statement name → its parameter type OIDs. */
  const prepared = new Map<string, number[]>();
  const exclusive = <T>(work: () => Promise<T>) => db._runExclusiveTransaction(() => db._runExclusiveQuery(work));

  return async function query<Row>(name: string, sql: string, params: unknown[]): Promise<Row[]> {
    return exclusive(async () => {
      let types = prepared.get(name);
      if (types === undefined) {
        const { messages } = await db.execProtocol(
          concat(serialize.parse({ name, text: sql }), serialize.describe({ type: "S", name }), serialize.sync()),
        );
        const description = messages.find((m) => m.name === "parameterDescription") as
          | { dataTypeIDs: number[] }
          | undefined;
        types = description?.dataTypeIDs ?? [];
        prepared.set(name, types);
      }
      const values = params.map((value, i) => {
        if (value === null || value === undefined) return null;
        const serializer = db.serializers[types[i]!];
        return serializer ? serializer(value) : String(value);
      });
      const { messages } = await db.execProtocol(
        concat(
          serialize.bind({ statement: name, values }),
          serialize.describe({ type: "P" }),
          serialize.execute({}),
          serialize.sync(),
        ),
      );
      return (parse.parseResults(messages, db.parsers)[0]?.rows ?? []) as Row[];
    });
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
