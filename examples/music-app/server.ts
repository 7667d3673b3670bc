/**
 * The example music service. `npm start` runs it on the embedded database
 * (PGlite files in ./.consentgate/), with the policy shipped in ./policies.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createMusicApp, createMusicGate } from "./app.ts";

const gate = await createMusicGate({
  database: process.env.DATABASE_URL,
  secret: process.env.CONSENTGATE_SECRET ?? exampleSecret(),
  jobs: true,
});

const port = Number(process.env.PORT ?? 3000);
const server = createMusicApp(gate).listen(port, () => {
  const url = `http://localhost:${port}`;
  console.log(`music app listening on ${url} (privacy center: ${url}/privacy-center)`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    void gate.close();
  });
}

/**
 * A development key kept beside the embedded database, so that receipts stay
 * verifiable across restarts of the example. Production sets CONSENTGATE_SECRET.
 */
function exampleSecret(): string {
  const file = ".consentgate/example-secret";
  if (!existsSync(file)) {
    mkdirSync(".consentgate", { recursive: true });
    writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600 });
  }
  return readFileSync(file, "utf8").trim();
}
