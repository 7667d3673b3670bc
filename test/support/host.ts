/**
 * A host app's own Prisma database for tests of the data-layer enforcement:
 * the example music app's schema (examples/music-app/prisma/), generated and
 * migrated as the example does it. On PostgreSQL it lives in the same
 * database as the test's gate, as a host's tables usually do; on PGlite, where
 * a database is one process's and the gate's is its own, in a fresh in-memory
 * one.
 */
import type { PGlite } from "@electric-sql/pglite";
import { openMusicDatabase } from "../../examples/music-app/database.ts";
import type { PrismaClient } from "../../examples/music-app/generated/prisma/client.ts";
import { type MemorySnapshot, createMemoryPglite, takeMemorySnapshot } from "../../src/store/memory-snapshot.ts";
import { onPostgres, type TestDatabase, testDatabase } from "./database.ts";
import { onCleanup, type Scope } from "./scope.ts";

// The generated client's vocabulary, for tests typing what they read and write (Prisma also holds its error classes).
export { Prisma, PrismaClient } from "../../examples/music-app/generated/prisma/client.ts";
export type { Like, Listener, Playlist, PlaylistTrack } from "../../examples/music-app/generated/prisma/client.ts";

/**
 * The host's client on migrated tables, disconnected (and its in-memory
 * database closed) when `scope` ends. On PostgreSQL it opens `database` (a
 * fresh one of `scope`'s when not given); on PGlite `database` is not used.
 */
export async function hostDatabase(scope: Scope, database?: TestDatabase): Promise<PrismaClient> {
  if (onPostgres) {
    const music = await openMusicDatabase((database ?? (await testDatabase(scope))).option);
    onCleanup(scope, () => music.close());
    return music.client;
  }
  const music = await openMusicDatabase(await hostPglite(scope));
  onCleanup(scope, () => music.close());
  return music.client;
}

/**
 * An in-memory PGlite holding the host's migrated tables, closed when
 * `scope` ends: what openMusicDatabase (or the example app's `music`
 * option) takes on PGlite. The copy already holds the tables and their
 * record, so opening it applies nothing again, only checks.
 */
export async function hostPglite(scope: Scope): Promise<PGlite> {
  const db = await createMemoryPglite(await migratedSnapshot());
  onCleanup(scope, () => db.close());
  return db;
}

let snapshot: Promise<MemorySnapshot> | undefined;

/**
 * The files of an in-memory database the example's migrations were applied
 * to, taken once per process: a database started on a copy skips PGlite's
 * initdb, seconds each on a busy machine (see src/store/memory-snapshot.ts).
 */
function migratedSnapshot(): Promise<MemorySnapshot> {
  snapshot ??= (async () => {
    const db = await createMemoryPglite();
    try {
      await (await openMusicDatabase(db)).close();
      return await takeMemorySnapshot(db);
    } finally {
      await db.close();
    }
  })();
  return snapshot;
}
