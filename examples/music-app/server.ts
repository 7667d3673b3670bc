/**
 * The example music service. `npm start` runs it on the embedded database
 * (PGlite files in ./.consentgate/), with the policy shipped in ./policies.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import express from "express";
import { createConsentgate } from "../../src/index.ts";

const gate = await createConsentgate({
  database: process.env.DATABASE_URL,
  secret: process.env.CONSENTGATE_SECRET ?? exampleSecret(),
});

const app = express();
app.use(express.json());
app.get("/", (_req, res) => {
  res.json({ service: "consentgate example music app", database: process.env.DATABASE_URL ? "postgres" : "embedded" });
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, () => console.log(`music app listening on http://localhost:${port}`));

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
