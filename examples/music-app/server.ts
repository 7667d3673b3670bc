/**
 * The example music service. `npm start` runs it on the embedded database
 * (PGlite files: Consentgate's in ./.consentgate/, the app's own likes and
 * playlists in ./.music-app/), with the policy shipped in ./policies.
 * PORT (default 3000), DATABASE_URL and CONSENTGATE_SECRET change where it
 * listens, which database it uses (for both) and the key it signs with.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isConsentgateError } from "consentgate";
import { type MusicService, createMusicApp, createMusicGate } from "./app.ts";

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  fail(`PORT must be a port number (0-65535), got ${JSON.stringify(process.env.PORT)}`);
}

let service: MusicService;
try {
  service = await createMusicGate({
    database: process.env.DATABASE_URL,
    secret: process.env.CONSENTGATE_SECRET ?? exampleSecret(),
    jobs: true,
  });
} catch (error) {
  // A lock held by another process, a database that refuses, a wrong secret: the message says what
  // to check, and a stack trace would only bury it. Errors nobody expected keep theirs, as does DEBUG=1.
  if (!isConsentgateError(error) || process.env.DEBUG) throw error;
  fail(`${error.code}: ${error.message}`);
}

// A failed listen (a port in use) is an 'error' event. Express 5 hands it to listen's callback, where
// it went unchecked: the process said "listening", kept the embedded database locked, and served
// nothing (Express 4 leaves it unhandled: a crash with a stack trace). Here it stops the app's database
// and the gate, and exits.
const server = createMusicApp(service).listen(port);
server.once("error", (error: NodeJS.ErrnoException) => {
  const reason =
    error.code === "EADDRINUSE" ? `port ${port} is already in use` : `cannot listen on port ${port} (${error.message})`;
  console.error(
    `music app: ${reason}; choose another port with PORT, e.g. PORT=${port === 3001 ? 3002 : 3001} npm start`,
  );
  void service.close().finally(() => process.exit(1));
});
server.once("listening", () => {
  const url = `http://localhost:${port}`;
  console.log(`music app listening on ${url} (privacy center: ${url}/privacy-center)`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    void service.close();
  });
}

/** One line on stderr and exit code 1: what went wrong and what to change. */
function fail(message: string): never {
  console.error(`music app: cannot start: ${message}`);
  process.exit(1);
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
