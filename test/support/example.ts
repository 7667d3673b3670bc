/**
 * The example music app (examples/music-app/) as the tests run it: its own
 * gate, database and app, as its server starts them, on a fresh test
 * database. On PostgreSQL the app's tables share the gate's database, as in
 * production; on PGlite they are in an in-memory database of their own,
 * started from the migrated copy test/support/host.ts keeps.
 */
import type { Express } from "express";
import { createMusicApp, createMusicGate } from "../../examples/music-app/app.ts";
import type { Consentgate } from "../../src/index.ts";
import { TEST_SECRET } from "./app.ts";
import { onPostgres, testDatabase } from "./database.ts";
import { hostPglite, type PrismaClient } from "./host.ts";
import { onCleanup, type Scope } from "./scope.ts";

export interface ExampleApp {
  gate: Consentgate;
  app: Express;
  /** The app's own tables through a client the gate does not extend: what is really stored. */
  music: PrismaClient;
}

/**
 * The example on a new database (with the gate's clock `now`, when given); its database and gate are
 * closed, and the database dropped, when `scope` ends.
 */
export async function exampleApp(scope: Scope, options: { now?: () => Date } = {}): Promise<ExampleApp> {
  const db = await testDatabase(scope);
  const service = await createMusicGate({
    ...options,
    database: db.option,
    music: onPostgres ? undefined : await hostPglite(scope),
    secret: TEST_SECRET,
  });
  onCleanup(scope, () => service.close());
  return { gate: service.gate, app: createMusicApp(service), music: service.music.client };
}
