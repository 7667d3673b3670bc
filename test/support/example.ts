/**
 * The example music app (examples/music-app/) as the tests run it: its own
 * gate and app, as its server starts them, on a fresh test database.
 */
import type { Express } from "express";
import { createMusicApp, createMusicGate } from "../../examples/music-app/app.ts";
import type { Consentgate } from "../../src/index.ts";
import { TEST_SECRET } from "./app.ts";
import { testDatabase } from "./database.ts";
import { onCleanup, type Scope } from "./scope.ts";

/** The example's gate and app on a new database; the gate is closed and the database dropped when `scope` ends. */
export async function exampleApp(scope: Scope): Promise<{ gate: Consentgate; app: Express }> {
  const db = await testDatabase(scope);
  const gate = await createMusicGate({ database: db.option, secret: TEST_SECRET });
  onCleanup(scope, () => gate.close());
  return { gate, app: createMusicApp(gate) };
}
