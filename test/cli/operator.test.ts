/**
 * `consentgate export <subject>` and `consentgate erase <subject> --yes`:
 * the code of GET /export and DELETE /data, run by an operator, who is
 * logged as the actor; and `--json` on every command.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import path from "node:path";
import { before, describe, test } from "node:test";
import request from "supertest";
import type { AuditEntry } from "../../src/audit/events.ts";
import { type Consentgate, type ErasureCertificate, type Jwks, verifySignature } from "../../src/index.ts";
import { INTERRUPTED_AFTER_MS } from "../../src/rights/erasure.ts";
import { signingKeyFrom } from "../../src/signatures/ed25519.ts";
import { createKeyring } from "../../src/signatures/hmac.ts";
import { TEST_SECRET, testApp } from "../support/app.ts";
import { type CliApp, cliApp } from "../support/child.ts";
import { testClock } from "../support/clock.ts";
import { type PersistentDatabase, onPostgres, testStore } from "../support/database.ts";
import { testPolicy } from "../support/policy.ts";
import { type Scope, suiteScope } from "../support/scope.ts";
import { agent, asText, ca, eu, grant } from "../support/subjects.ts";

/** The log names the actor by pseudonym, as it names subjects. */
const pseudonym = createKeyring(TEST_SECRET).pseudonym;

describe(`consentgate export and erase on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let db: PersistentDatabase;
  let policies: string;
  let database: string[];
  let env: CliApp["env"];
  let cli: CliApp["cli"];
  before(async () => {
    ({ db, policies, database, env, cli } = await cliApp(suite, testPolicy()));
    const t = await testApp(suite, { database: db.option });
    for (const [user, plays] of [
      ["op-eu", 2],
      ["op-gone", 3],
      ["op-done", 2],
      ["op-json", 1],
      ["op-broken", 1],
    ] as const) {
      await grant(t.app, eu(user), "personalization").expect(200);
      for (let i = 0; i < plays; i++)
        await request(t.app)
          .post("/api/plays")
          .set(eu(user))
          .send({ itemId: `t${i}` })
          .expect(201);
    }
    await t.gate.close();
  });

  /** A gate on the CLI's database for one look, closed before the CLI runs again (PGlite files are one process's). */
  async function look<T>(scope: Scope, read: (t: Awaited<ReturnType<typeof testApp>>) => Promise<T>): Promise<T> {
    const t = await testApp(scope, { database: db.option });
    try {
      return await read(t);
    } finally {
      await t.gate.close();
    }
  }

  test("export: GET /export's document for the subject, a request logged with the operator as actor", async (ctx) => {
    const run = await cli("export", "op-eu", "--region", "EU", "--actor", "ops-1", "--policies", policies, ...database);
    assert.equal(run.code, 0, run.err.join("\n"));
    const doc = JSON.parse(run.out.join("\n"));
    assert.match(run.err.join("\n"), /the app's own data .* is not included/);

    const { http, log, requests } = await look(ctx, async (t) => ({
      http: JSON.parse((await asText(request(t.app).get("/privacy/export").set(eu("op-eu")))).body as string),
      log: await entries(t.gate, "EU"),
      requests: await t.gate.store.requests.forSubject("op-eu"),
    }));
    // The same document but for its own request: when it was made, and the requests held (the HTTP one sees the CLI's).
    const mine = ({ generatedAt: _at, request: _request, requests: _requests, ...rest }: Record<string, unknown>) =>
      rest;
    assert.deepEqual(mine(doc), mine(http));
    assert.equal(doc.format, "consentgate-export/1");
    assert.equal(doc.interactions.personalization.length, 2);

    const made = requests.find((r) => r.id === doc.request.id);
    assert.deepEqual(
      { type: made?.type, status: made?.status, region: made?.region, actorId: made?.actorId },
      { type: "export", status: "completed", region: "EU", actorId: "ops-1" },
    );
    assert.deepEqual(logged(log, doc.request.id), [
      {
        event: "request.received",
        details: { requestId: doc.request.id, type: "export", onBehalf: true, actor: pseudonym("ops-1") },
      },
      { event: "request.completed", details: { requestId: doc.request.id, type: "export", status: "completed" } },
    ]);
  });

  test("export --out: the document in a file; the operator defaults to cli: and the login name, the region to the policy's default", async (ctx) => {
    const file = path.join(db.directory, "op-eu-export.json");
    const run = await cli("export", "op-eu", "--out", file, "--policies", policies, ...database);
    assert.equal(run.code, 0, run.err.join("\n"));
    assert.deepEqual(run.out, [
      `Wrote the export of op-eu to ${file}; logged as request.received and request.completed.`,
    ]);
    const doc = JSON.parse(await readFile(file, "utf8"));
    const operator = `cli:${userInfo().username}`;
    const region = "EU"; // the test policy's default
    const log = await look(ctx, (t) => entries(t.gate, region));
    assert.equal(doc.region, region);
    assert.equal(logged(log, doc.request.id)[0]?.details.actor, pseudonym(operator));

    const again = await cli("export", "op-eu", "--out", file, "--policies", policies, ...database);
    assert.equal(again.code, 1, "an existing file is not overwritten");
    assert.match(again.err[0] ?? "", /EEXIST/);
  });

  test("erase without --yes: refused with exit 2, nothing erased, no request", async (ctx) => {
    const run = await cli("erase", "op-gone", "--policies", policies, ...database);
    assert.equal(run.code, 2);
    assert.equal(run.err[0], `erasure cannot be undone: add --yes to erase "op-gone"'s data`);
    assert.match(run.err[1] ?? "", /^usage: consentgate erase <subject> --yes /);
    const { held, requests } = await look(ctx, async (t) => ({
      held: await t.gate.store.interactions.forSubject("op-gone"),
      requests: await t.gate.store.requests.forSubject("op-gone"),
    }));
    assert.equal(held.length, 3);
    assert.deepEqual(requests, []);
  });

  test("erase --yes: Consentgate's tables erased now, the request left open for the app, logged with the operator as actor", async (ctx) => {
    const run = await cli(
      "erase",
      "op-gone",
      "--yes",
      "--region",
      "EU",
      "--actor",
      "ops-2",
      "--policies",
      policies,
      ...database,
    );
    assert.equal(run.code, 0, run.err.join("\n"));
    const step = JSON.parse(run.out.join("\n"));
    assert.deepEqual(
      { ...step, requestId: undefined },
      {
        requestId: undefined,
        subject: "op-gone",
        status: "received",
        erased: { tables: { ...step.erased.tables, interactions: 3, consentEvents: 1 } },
        completedBy: "erasure-retry",
      },
    );
    assert.match(
      run.err[0] ?? "",
      /^Erased \d+ rows of op-gone from Consentgate's tables \(request [0-9a-f-]{36}, still open\); logged with ops-2 as the actor\.$/,
    );
    assert.match(run.err.join("\n"), /erasure-retry/);
    assert.match(run.err.join("\n"), /--complete/);

    const { held, requests, log } = await look(ctx, async (t) => ({
      held: await t.gate.store.interactions.forSubject("op-gone"),
      requests: await t.gate.store.requests.forSubject("op-gone"),
      log: await entries(t.gate, "EU"),
    }));
    assert.deepEqual(held, []);
    assert.deepEqual(
      requests.map((r) => [r.id, r.type, r.status, r.actorId]),
      [[step.requestId, "erasure", "received", "ops-2"]],
      "not completed: the app's data is still to be erased",
    );
    assert.deepEqual(logged(log, step.requestId), [
      {
        event: "request.received",
        details: { requestId: step.requestId, type: "erasure", onBehalf: true, actor: pseudonym("ops-2") },
      },
    ]);
  });

  test("the app's erasure-retry job finishes the CLI's erasure: its data source erased, the first pass's counts kept, the certificate signed", async (ctx) => {
    // Runs with real time (the CLI's request was received by it) until moved past the interrupted window.
    const clock = testClock();
    const t = await testApp(ctx, { database: db.option, now: clock.now });
    try {
      const notes = new Map([["op-gone", ["a", "b", "c"]]]);
      t.gate.registerDataSource({
        name: "notes",
        export: async (subjectId) => notes.get(subjectId) ?? [],
        erase: async (subjectId) => {
          const count = notes.get(subjectId)?.length ?? 0;
          notes.delete(subjectId);
          return count;
        },
      });
      const [open] = await t.gate.store.requests.forSubject("op-gone");
      assert.equal(open?.status, "received");

      assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 0, completed: 0 }, "not before the window");
      assert.deepEqual(notes.get("op-gone"), ["a", "b", "c"]);
      clock.advance(INTERRUPTED_AFTER_MS + 60_000);
      assert.deepEqual(await t.gate.runJob("erasure-retry"), { retried: 1, completed: 1 });
      assert.equal(notes.has("op-gone"), false, "the app's data is erased");

      const done = (
        await request(t.app).get(`/privacy/requests/${open!.id}?subject=op-gone`).set(agent("ops-agent")).expect(200)
      ).body;
      assert.equal(done.status, "completed");
      const certificate = done.details as ErasureCertificate;
      assert.deepEqual([certificate.requestId, certificate.status], [open!.id, "completed"]);
      assert.equal(certificate.erased.tables.interactions, 3, "the counts of the CLI's pass are kept");
      assert.equal(certificate.erased.tables.consentEvents, 1);
      assert.deepEqual(certificate.erased.dataSources, { notes: 3 });
      const jwks = (await request(t.app).get("/privacy/keys").expect(200)).body;
      assert.equal(verifySignature(certificate, jwks), true);
      const completions = logged(await entries(t.gate, "EU"), open!.id).filter((e) => e.event === "request.completed");
      assert.deepEqual(
        completions.map((e) => e.details.status),
        ["completed"],
      );
    } finally {
      await t.gate.close();
    }
  });

  test("erase --yes --complete: the app keeps nothing outside Consentgate, so finished and signed at once", async (ctx) => {
    const run = await cli(
      "erase",
      "op-done",
      "--yes",
      "--complete",
      "--actor",
      "ops-3",
      "--policies",
      policies,
      ...database,
    );
    assert.equal(run.code, 0, run.err.join("\n"));
    const certificate = JSON.parse(run.out.join("\n"));
    assert.equal(certificate.version, "consentgate-erasure/2");
    assert.equal(certificate.subject, "op-done");
    assert.equal(certificate.status, "completed");
    assert.equal(certificate.erased.tables.interactions, 2);
    assert.deepEqual(certificate.erased.dataSources, {});
    assert.match(certificate.kid, /^[A-Za-z0-9_-]{43}$/);
    assert.match(certificate.signature, /^[A-Za-z0-9_-]{86}$/);
    assert.deepEqual(run.err, [
      `Erased ${Object.values(certificate.erased.tables as Record<string, number>).reduce((a, b) => a + b, 0)} rows of op-done (request ${certificate.requestId}, completed); logged with ops-3 as the actor.`,
    ]);
    const { requests, log } = await look(ctx, async (t) => ({
      requests: await t.gate.store.requests.forSubject("op-done"),
      log: await entries(t.gate, "EU"),
    }));
    assert.deepEqual(
      requests.map((r) => [r.id, r.status, r.actorId]),
      [[certificate.requestId, "completed", "ops-3"]],
    );
    assert.deepEqual(
      logged(log, certificate.requestId).map((e) => e.event),
      ["request.received", "request.completed"],
    );
  });

  test("export --out that fails midway leaves no file: neither the document's part nor a temporary one", async (ctx) => {
    const file = path.join(db.directory, "op-broken-export.json");
    // The consent history is read after the document's head is written: without its table, the export fails there.
    const store = await testStore(ctx, db);
    await store.connection.prisma.$executeRawUnsafe("ALTER TABLE consent_events RENAME TO consent_events_away");
    await store.close();
    let run: Awaited<ReturnType<typeof cli>>;
    try {
      run = await cli("export", "op-broken", "--out", file, "--policies", policies, ...database);
    } finally {
      const back = await testStore(ctx, db);
      await back.connection.prisma.$executeRawUnsafe("ALTER TABLE consent_events_away RENAME TO consent_events");
      await back.close();
    }
    assert.equal(run.code, 1, run.out.join("\n"));
    assert.deepEqual(
      (await readdir(db.directory)).filter((name) => name.includes("op-broken")),
      [],
      "no export file and no temporary file",
    );
    const [made] = await look(ctx, (t) => t.gate.store.requests.forSubject("op-broken"));
    assert.equal(made?.type, "export");
    assert.notEqual(made?.status, "completed");
  });

  test("erase --signing-keys: the certificate is signed with the app's configured key and verifies against its GET /keys", async (ctx) => {
    const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const keysFile = path.join(db.directory, "signing-keys.json");
    await writeFile(keysFile, JSON.stringify([pem]));
    await look(ctx, (t) => grant(t.app, eu("op-keys"), "personalization").expect(200));

    const bad = path.join(db.directory, "signing-keys-bad.json");
    await writeFile(bad, JSON.stringify([pem, "secret", "secret"]));
    const refused = await cli("erase", "op-keys", "--yes", "--signing-keys", bad, "--policies", policies, ...database);
    assert.equal(refused.code, 2, "a bad keys file is wrong usage");
    assert.match(refused.err[0] ?? "", /^--signing-keys .*: signingKeys: "secret" is listed more than once$/);
    const untouched = await look(ctx, (t) => t.gate.store.requests.forSubject("op-keys"));
    assert.deepEqual(untouched, [], "nothing was done");

    const run = await cli(
      "erase",
      "op-keys",
      "--yes",
      "--complete",
      "--signing-keys",
      keysFile,
      "--policies",
      policies,
      ...database,
    );
    assert.equal(run.code, 0, run.err.join("\n"));
    const certificate = JSON.parse(run.out.join("\n"));
    assert.equal(certificate.kid, signingKeyFrom(pem).kid);
    // The app as its host starts it, with the key in its signingKeys option.
    const app = await testApp(ctx, { database: db.option, signingKeys: [pem] });
    let jwks: Jwks;
    try {
      jwks = (await request(app.app).get("/privacy/keys").expect(200)).body;
    } finally {
      await app.gate.close();
    }
    assert.equal(verifySignature(certificate, jwks), true, "genuine by the app's published keys");
  });

  test("erase --yes racing 30 writers on two app instances: nothing written before the erasure is left", {
    // The CLI is a third instance of the same database; PGlite's files admit one process at a time.
    skip: onPostgres ? false : "PostgreSQL only: the app and the CLI share the database",
  }, async (ctx) => {
    const user = "op-raced";
    const instances = [await testApp(ctx, { database: db.option }), await testApp(ctx, { database: db.option })];
    const play = { itemId: "trk_1", action: "play" };
    // California is opt-out: the region's default lets the writes in, before and after the erasure.
    await request(instances[0]!.app).post("/api/plays").set(ca(user)).send(play).expect(201);
    let stopped = false;
    const statuses: number[] = [];
    const writers = Array.from({ length: 30 }, async (_, w) => {
      const app = instances[w % 2]!.app;
      while (!stopped) statuses.push((await request(app).post("/api/plays").set(ca(user)).send(play)).status);
    });
    let run: Awaited<ReturnType<typeof cli>>;
    try {
      await new Promise((r) => setTimeout(r, 30));
      run = await cli("erase", user, "--yes", "--region", "US-CA", "--policies", policies, ...database);
    } finally {
      stopped = true;
      await Promise.all(writers);
    }
    assert.equal(run.code, 0, run.err.join("\n"));
    assert.ok(statuses.length > 30, `the writers wrote during the erasure (${statuses.length} writes)`);
    assert.ok(
      statuses.every((s) => s === 201),
      `the region's default lets every write in: ${[...new Set(statuses)]}`,
    );
    const [erasure] = await instances[0]!.gate.store.requests.forSubject(user);
    assert.equal(erasure?.type, "erasure");
    const rows = await instances[0]!.gate.store.interactions.forSubject(user);
    assert.deepEqual(
      rows.filter((r) => r.at < erasure!.receivedAt),
      [],
      "a write that raced the CLI's erasure survived it",
    );
  });

  test("--json on every command: one JSON document on stdout, nothing on stderr", async () => {
    const json = async (...argv: string[]) => {
      const run = await cli(...argv, "--json");
      assert.deepEqual(run.err, [], argv.join(" "));
      return { code: run.code, value: JSON.parse(run.out.join("\n")) };
    };
    const on = ["--policies", policies, ...database];
    assert.deepEqual(
      (await json("help")).value.commands.map((c: { name: string }) => c.name),
      ["check", "erase", "export", "insights", "learning", "purge", "report", "verify", "verify-receipt"],
    );
    assert.ok((await json("check", policies)).value.purposes.personalization);
    const dry = await json("purge", "--dry-run", ...on);
    assert.equal(dry.value.dryRun, true);
    const purged = await json("purge", ...on);
    assert.deepEqual([purged.code, purged.value.dryRun, purged.value.interrupted], [0, false, false]);
    assert.equal((await json("report", "EU", ...on)).value.region, "EU");
    assert.deepEqual((await json("verify", "EU", ...on)).value.ok, true);
    assert.equal((await json("export", "op-json", ...on)).value.subject, "op-json");
    const erased = await json("erase", "op-json", "--yes", ...on);
    assert.deepEqual(
      [erased.code, erased.value.subject, erased.value.status, erased.value.completedBy],
      [0, "op-json", "received", "erasure-retry"],
    );
    const certified = await json("erase", "op-json", "--yes", "--complete", ...on);
    assert.deepEqual([certified.code, certified.value.subject, certified.value.status], [0, "op-json", "completed"]);
  });

  test("--json failures: one { error: { code, message } } line on stderr, nothing on stdout", async () => {
    const cases: [string[], number, string, RegExp][] = [
      [["chek"], 2, "usage", /unknown command "chek"/],
      [["verify", "--policies", policies, ...database], 2, "usage", /name one region/],
      [["erase", "op-eu", "--policies", policies, ...database], 2, "usage", /add --yes/],
      [
        ["verify", "EU", "--policies", path.join(db.directory, "nowhere"), ...database],
        1,
        "policy_invalid",
        /not valid/,
      ],
    ];
    for (const [argv, exit, code, message] of cases) {
      const run = await cli(...argv, "--json");
      assert.equal(run.code, exit, argv.join(" "));
      assert.deepEqual(run.out, []);
      assert.equal(run.err.length, 1, run.err.join("\n"));
      const { error } = JSON.parse(run.err[0]!);
      assert.equal(error.code, code);
      assert.match(error.message, message);
    }
  });
});

async function entries(gate: Consentgate, region: string): Promise<AuditEntry[]> {
  const all: AuditEntry[] = [];
  for await (const entry of gate.store.complianceLog.entries(region)) all.push(entry);
  return all;
}

/** The request's entries, as event and details. */
function logged(log: readonly AuditEntry[], requestId: string) {
  return log
    .filter((e) => (e.details as { requestId?: string }).requestId === requestId)
    .map((e) => ({ event: e.event, details: e.details as Record<string, unknown> }));
}
