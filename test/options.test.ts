import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createConsentgate, isConsentgateError } from "../src/index.ts";
import { parseDatabase } from "../src/store/connection.ts";

const SECRET = "x".repeat(32);

describe("createConsentgate options", () => {
  const rejects = (options: unknown, pattern: RegExp) =>
    assert.rejects(
      createConsentgate(options as never),
      (e) => isConsentgateError(e, "invalid_option") && pattern.test(e.message),
    );

  test("an unknown option is named", () => rejects({ database: "memory", databse: "x" }, /unknown option "databse"/));
  test("a wrongly typed option is named", () =>
    rejects({ database: "memory", subject: "user.id" }, /subject: subject must be a function/));
  test("every problem is listed at once", async () => {
    await assert.rejects(createConsentgate({ database: "memory", jobs: "yes", poolSize: 0 } as never), (e) => {
      assert.ok(isConsentgateError(e, "invalid_option"));
      assert.equal(e.details.problems?.length, 2);
      return true;
    });
  });
  test("rate limits are whole positive counts over a window of at least a second", async () => {
    await rejects({ database: "memory", limits: { requests: 0 } }, /limits\.requests/);
    await rejects({ database: "memory", limits: { consentChanges: 2.5 } }, /limits\.consentChanges/);
    await rejects({ database: "memory", limits: { windowMs: 10 } }, /limits\.windowMs/);
    await rejects({ database: "memory", limits: { store: {} } }, /limits\.store: limits\.store must be a function/);
    await rejects({ database: "memory", limits: { exports: 5 } }, /unknown option "exports"/);
  });
  test("a secret is required outside memory", () =>
    rejects({ database: "postgres://u@localhost/db" }, /secret is required/));
  test("a short secret is refused", () => rejects({ database: "memory", secret: "short" }, /at least 32 characters/));
  test("a bad database URL is refused without echoing its password", async () => {
    const echoes = (e: unknown) =>
      JSON.stringify({ message: (e as Error).message, details: (e as { details?: unknown }).details }).includes(
        "hunter2",
      );
    await assert.rejects(createConsentgate({ database: "mysql://u:hunter2@h/db", secret: SECRET }), (e) => {
      assert.ok(isConsentgateError(e, "invalid_option"));
      assert.match(e.message, /unsupported protocol "mysql:"/);
      assert.ok(!echoes(e), e.message);
      return true;
    });
    // Not a URL at all (the port is out of range): the message quotes the value, with the password masked.
    await assert.rejects(
      createConsentgate({ database: "postgres://u:hunter2@db.example:99999/app", secret: SECRET }),
      (e) => {
        assert.ok(isConsentgateError(e, "invalid_option"));
        assert.match(e.message, /postgres:\/\/u:\*\*\*@db\.example:99999\/app/);
        assert.ok(!echoes(e), e.message);
        return true;
      },
    );
  });
});

describe("parseDatabase", () => {
  test("absent means PGlite files under .consentgate", () => {
    assert.deepEqual(parseDatabase(undefined, "/srv/app"), {
      kind: "pglite-files",
      directory: "/srv/app/.consentgate/pgdata",
    });
  });
  test("memory", () => assert.deepEqual(parseDatabase("memory"), { kind: "pglite-memory" }));
  test("postgres URLs need a user and a database name", () => {
    assert.deepEqual(parseDatabase("postgresql://postgres@127.0.0.1:5432/app"), {
      kind: "postgres",
      url: "postgresql://postgres@127.0.0.1:5432/app",
    });
    assert.throws(() => parseDatabase("postgres://127.0.0.1/app"), /user name/);
    assert.throws(() => parseDatabase("postgres://u@127.0.0.1/"), /database name/);
    assert.throws(
      () => parseDatabase("postgres://u:secretpw@127.0.0.1"),
      (e: Error) => !e.message.includes("secretpw"),
    );
  });
});
