/**
 * A database remembers which secret it was first started with (a fingerprint,
 * never the secret) and refuses another one, on the embedded files and on
 * PostgreSQL alike.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createConsentgate, isConsentgateError } from "../../src/index.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import type { Database } from "../../src/store/connection.ts";
import { checkSecretFingerprint, compareSecretFingerprint } from "../../src/store/secret-fingerprint.ts";
import { openStore } from "../../src/store/store.ts";
import { STORE_OPTIONS, onPostgres, testDatabase } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";

const SECRET_A = "secret-a-secret-a-secret-a-secret-a-1";
const SECRET_B = "secret-b-secret-b-secret-b-secret-b-2";

const refused = (error: unknown) => {
  assert.ok(isConsentgateError(error, "secret_mismatch"), `expected secret_mismatch, got ${String(error)}`);
  assert.match(error.message, /CONSENTGATE_SECRET/);
  return true;
};

describe(`the secret's fingerprint on ${onPostgres ? "PostgreSQL" : "PGlite files"}`, () => {
  let scratch: string;
  let n = 0;
  const drops: (() => Promise<void>)[] = [];
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "consentgate-fingerprint-"));
  });
  after(async () => {
    for (const drop of drops) await drop();
    await rm(scratch, { recursive: true, force: true });
  });

  /** A database that outlives one opening: a fresh PostgreSQL database, or a fresh folder of PGlite files. */
  async function persistent(): Promise<Database> {
    if (!onPostgres) return { kind: "pglite-files", directory: path.join(scratch, `pgdata-${++n}`) };
    const db = await testDatabase();
    drops.push(db.drop);
    return db.database;
  }

  /** Opens the store as a start does: migrations, then the fingerprint of `secret`. */
  async function start(database: Database, secret: string): Promise<void> {
    const store = await openStore(database, STORE_OPTIONS);
    try {
      await checkSecretFingerprint(store.connection, createKeyring(secret).fingerprint);
    } finally {
      await store.close();
    }
  }

  test("started with secret A: reopening with B is refused, with A it opens", async () => {
    const database = await persistent();
    await start(database, SECRET_A);
    await assert.rejects(start(database, SECRET_B), refused);
    await start(database, SECRET_A);
    // The refusal changed nothing: B is still refused after A opened again.
    await assert.rejects(start(database, SECRET_B), refused);
  });

  test("the database holds a keyed fingerprint: not the secret, not a plain hash of it", async () => {
    const database = await persistent();
    await start(database, SECRET_A);
    const store = await openStore(database, STORE_OPTIONS);
    try {
      const rows = await store.connection.prisma.secretFingerprint.findMany();
      assert.equal(rows.length, 1);
      const stored = rows[0]!.fingerprint;
      assert.equal(stored, createKeyring(SECRET_A).fingerprint);
      assert.match(stored, /^[0-9a-f]{64}$/);
      assert.ok(!stored.includes(SECRET_A));
      assert.notEqual(stored, createHash("sha256").update(SECRET_A).digest("hex"));
    } finally {
      await store.close();
    }
  });

  test("a database made before fingerprints were kept gets one at its next start, and keeps it", async () => {
    const database = await persistent();
    await start(database, SECRET_A);
    const store = await openStore(database, STORE_OPTIONS);
    await store.connection.prisma.secretFingerprint.deleteMany();
    // Reading commands compare only: with nothing recorded they pass and record nothing.
    await compareSecretFingerprint(store.connection, createKeyring(SECRET_B).fingerprint);
    assert.equal(await store.connection.prisma.secretFingerprint.count(), 0);
    await store.close();

    await start(database, SECRET_B);
    await assert.rejects(start(database, SECRET_A), refused);
    await start(database, SECRET_B);
  });

  test("createConsentgate refuses another secret, and a refused gate leaves the database usable", {
    skip: !onPostgres && "the gate's embedded files are the working directory's: covered by the CLI's start-up test",
  }, async () => {
    const database = await persistent();
    const option = database.kind === "postgres" ? database.url : "";
    const gate = (secret: string) => createConsentgate({ policies: testPolicy(), database: option, secret });
    await (await gate(SECRET_A)).close();
    await assert.rejects(gate(SECRET_B), refused);
    await (await gate(SECRET_A)).close();
  });

  test("in memory, a gate without a secret (a random one) starts every time", async () => {
    for (let i = 0; i < 2; i++) await (await createConsentgate({ policies: testPolicy(), database: "memory" })).close();
  });
});
