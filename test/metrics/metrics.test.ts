/**
 * gate.metrics(): the gate's Prometheus metrics on the host's own registry,
 * read the way Prometheus reads them, from the host's `/metrics` over HTTP,
 * after real traffic from many subjects and real job runs.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { Express, RequestHandler } from "express";
import { Registry, register } from "prom-client";
import request from "supertest";
import { isConsentgateError, type Consentgate } from "../../src/index.ts";
import { JOB_NAMES } from "../../src/policy/types.ts";
import { handled, hostApp, testGate } from "../support/app.ts";
import { DAY, testClock } from "../support/clock.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { gatedMusic } from "../support/gated-music.ts";
import { suiteScope } from "../support/scope.ts";
import { ca, eu, GPC, grant } from "../support/subjects.ts";

const T0 = new Date("2026-03-02T10:00:00.000Z");

/** One sample of the exposition text: the metric's name, its labels, its value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus's text format, as far as prom-client writes it: `name{a="x",b="y"} value` lines and # comments. */
function parseExposition(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(match, `an exposition line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The value of the one sample of `name` with exactly `labels`; 0 when there is none (Prometheus's own reading of an absent series). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `one series ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

/** A host app as a host writes it: its own registry, served at GET /metrics. */
function withMetricsRoute(gate: Consentgate, registry: Registry, mount: (app: Express) => void = () => {}): Express {
  return hostApp(gate, (app) => {
    mount(app);
    app.get(
      "/metrics",
      handled(async (_req, res) => {
        res.type(registry.contentType).send(await registry.metrics());
      }),
    );
  });
}

async function scrape(app: Express): Promise<{ text: string; samples: Sample[] }> {
  const res = await request(app).get("/metrics").expect(200);
  assert.match(res.headers["content-type"] ?? "", /^text\/plain/);
  return { text: res.text, samples: parseExposition(res.text) };
}

describe(`gate.metrics() on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  const clock = testClock(T0);
  const registry = new Registry();
  let gate: Consentgate;
  let app: Express;

  // 30 subjects: EU listeners who opted in (two plays each), EU listeners who did not (one play,
  // refused: GDPR is opt-in), Californians clicking ads (opt-out: allowed, but refused with GPC).
  const optedIn = Array.from({ length: 10 }, (_, i) => `eu-in-${i}`);
  const notAsked = Array.from({ length: 10 }, (_, i) => `eu-out-${i}`);
  const californians = Array.from({ length: 10 }, (_, i) => `ca-${i}`);
  const withGpc = californians.slice(0, 4);
  const subjects = [...optedIn, ...notAsked, ...californians, "erased-1"];

  before(async () => {
    gate = await testGate(suite, { now: clock.now });
    assert.equal(gate.metrics(registry), registry, "the host's registry comes back, for its /metrics route");
    app = withMetricsRoute(gate, registry, (app) => {
      app.post(
        "/api/plays",
        handled(async (req, res) => {
          await req.privacy.record("play", req.body);
          res.status(201).end();
        }),
      );
      app.post(
        "/api/ads/click",
        gate.purpose("advertising"),
        handled(async (req, res) => {
          await req.privacy.record("click", req.body);
          res.status(201).end();
        }),
      );
    });
    gate.registerDataSource({
      name: "favourites",
      export: () => [],
      erase: () => {
        throw new Error("favourites database is down");
      },
    });

    for (const id of optedIn) await grant(app, eu(id), "personalization").expect(200);
    const play = (id: string, status: number) =>
      request(app).post("/api/plays").set(eu(id)).send({ itemId: "track-1", action: "play" }).expect(status);
    await Promise.all([...optedIn.map((id) => play(id, 201)), ...notAsked.map((id) => play(id, 403))]);
    // The second plays, once the first have warmed the cache.
    await Promise.all(optedIn.map((id) => play(id, 201)));
    for (const id of californians) {
      const who = withGpc.includes(id) ? ca(id, GPC) : ca(id);
      await request(app)
        .post("/api/ads/click")
        .set(who)
        .send({ itemId: "ad-1" })
        .expect(withGpc.includes(id) ? 403 : 201);
    }
    // An erasure a data source fails stays open (partial), and goes past its deadline below.
    assert.equal((await request(app).delete("/privacy/data").set(eu("erased-1")).expect(200)).body.status, "partial");

    // Past every retention (personalization 90 days, advertising 30) and the erasure's one month.
    clock.set(T0.getTime() + 91 * DAY);
    const purged = await gate.runJob("purge");
    assert.deepEqual(purged.expired, { EU: { personalization: 20 }, "US-CA": { advertising: 6 } });
    assert.equal((await gate.runJob("deadlines")).marked, 0, "a partial erasure keeps its status");
    await gate.runJob("purge", { dryRun: true });
  });

  test("decisions, records, cache lookups, purged rows, job runs and overdue requests are served at the host's /metrics", async () => {
    const { samples } = await scrape(app);
    const decisions = (purpose: string, region: string, outcome: string) =>
      valueOf(samples, "consentgate_decisions_total", { purpose, region, outcome });
    assert.equal(decisions("personalization", "EU", "allowed"), 20);
    assert.equal(decisions("personalization", "EU", "denied"), 10);
    assert.equal(decisions("advertising", "US-CA", "allowed"), 6);
    assert.equal(decisions("advertising", "US-CA", "denied"), 4, "GPC opts out of the sale and sharing");
    assert.equal(
      samples.filter((s) => s.name === "consentgate_decisions_total").reduce((sum, s) => sum + s.value, 0),
      40,
      "every gated write decided once, and nothing else counted as a decision",
    );

    assert.equal(valueOf(samples, "consentgate_record_batch_size_sum"), 26, "every recorded row in some batch");
    const batches = valueOf(samples, "consentgate_record_batch_size_count");
    assert.ok(batches >= 1 && batches <= 26, `${batches} batches`);
    assert.equal(valueOf(samples, "consentgate_record_batch_size_bucket", { le: "+Inf" }), batches);
    assert.equal(valueOf(samples, "consentgate_record_duration_seconds_count"), 26, "one wait per record()");
    assert.ok(valueOf(samples, "consentgate_record_duration_seconds_sum") > 0);

    const hits = valueOf(samples, "consentgate_consent_cache_lookups_total", { result: "hit" });
    const misses = valueOf(samples, "consentgate_consent_cache_lookups_total", { result: "miss" });
    assert.ok(misses >= 30, `every subject's first decision reads the database (${misses} misses)`);
    assert.ok(hits >= 10, `an opted-in listener's second play finds the cache warm (${hits} hits)`);
    assert.ok(hits + misses >= 40, "at least one lookup per signed-in gated write");

    const purged = (region: string, purpose: string, reason: string) =>
      valueOf(samples, "consentgate_rows_purged_total", { region, purpose, reason });
    assert.equal(purged("EU", "personalization", "expired"), 20);
    assert.equal(purged("US-CA", "advertising", "expired"), 6);
    assert.equal(
      samples.filter((s) => s.name === "consentgate_rows_purged_total").reduce((sum, s) => sum + s.value, 0),
      26,
      "a dry run deletes, and counts, nothing",
    );

    assert.equal(valueOf(samples, "consentgate_job_runs_total", { job: "purge", outcome: "ok" }), 2);
    assert.equal(valueOf(samples, "consentgate_job_runs_total", { job: "deadlines", outcome: "ok" }), 1);
    assert.equal(valueOf(samples, "consentgate_requests_overdue"), 1, "the partial erasure, past its month");
  });

  test("a decision the store cannot make, and a job whose store fails, are counted", async () => {
    const counts = async () => {
      const { samples } = await scrape(app);
      return {
        unavailable: valueOf(samples, "consentgate_decisions_total", {
          purpose: "personalization",
          region: "EU",
          outcome: "unavailable",
        }),
        failed: valueOf(samples, "consentgate_job_runs_total", { job: "purge", outcome: "failed" }),
      };
    };
    const before = await counts();
    // A gate whose database is closed: a subject's choices cannot be read (fail closed), and its purge rejects.
    const failing = await testGate(suite, { now: clock.now });
    failing.metrics(registry);
    const failingApp = hostApp(failing, (app) => app.post("/api/plays", (_req, res) => void res.status(201).end()));
    await failing.close();
    const refused = await request(failingApp).post("/api/plays").set(eu("eu-in-0")).send({ itemId: "t" }).expect(503);
    assert.equal(refused.body.error.code, "consent_unavailable");
    await assert.rejects(failing.runJob("purge"));
    assert.deepEqual(await counts(), { unavailable: before.unavailable + 1, failed: before.failed + 1 });
  });

  test("no label carries a subject id, and every label value comes from a bounded set", async () => {
    const { samples } = await scrape(app);
    const bounded: Record<string, ReadonlySet<string>> = {
      purpose: new Set(Object.keys(gate.policy.purposes)),
      region: new Set(Object.keys(gate.policy.regions)),
      outcome: new Set(["allowed", "denied", "unavailable", "ok", "failed", "skipped"]),
      result: new Set(["hit", "miss"]),
      reason: new Set(["expired", "out_of_window"]),
      job: new Set(JOB_NAMES),
      le: new Set(samples.flatMap((s) => (s.labels["le"] === undefined ? [] : [s.labels["le"]]))),
    };
    const ours = samples.filter((s) => s.name.startsWith("consentgate_"));
    assert.ok(ours.length > 0);
    for (const sample of ours) {
      for (const [label, value] of Object.entries(sample.labels)) {
        assert.ok(!subjects.includes(value), `${sample.name}{${label}="${value}"} names a subject`);
        assert.ok(bounded[label]?.has(value), `${sample.name}{${label}="${value}"} is from a bounded set`);
      }
    }
  });

  test("a second call, and a second gate, on the same registry add to the same metrics", async () => {
    const before = valueOf((await scrape(app)).samples, "consentgate_job_runs_total", {
      job: "deadlines",
      outcome: "ok",
    });
    assert.equal(gate.metrics(registry), registry);
    const second = await testGate(suite, { now: clock.now });
    assert.equal(second.metrics(registry), registry);
    await second.runJob("deadlines");
    await gate.runJob("deadlines");
    const { text, samples } = await scrape(app);
    assert.equal(text.match(/^# TYPE consentgate_job_runs_total /gm)?.length, 1, "registered once");
    assert.equal(
      valueOf(samples, "consentgate_job_runs_total", { job: "deadlines", outcome: "ok" }),
      before + 2,
      "each run counted once, whichever gate ran it",
    );
  });

  test("a registry where someone else took one of the names is refused, and nothing is registered on it", async () => {
    const taken = new Registry();
    taken.registerMetric(
      new (await import("prom-client")).Counter({
        name: "consentgate_decisions_total",
        help: "not ours",
        registers: [],
      }),
    );
    assert.throws(
      () => gate.metrics(taken),
      (error: unknown) =>
        isConsentgateError(error) &&
        error.code === "invalid_option" &&
        /consentgate_decisions_total/.test(error.message),
    );
    assert.deepEqual(
      taken.getMetricsAsArray().map((m) => m.name),
      ["consentgate_decisions_total"],
    );
  });
});

describe(`gate.metrics() not called, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();

  test("nothing is registered, on the host's registry or prom-client's global one", async () => {
    const registry = new Registry();
    const gate = await testGate(suite);
    const app = withMetricsRoute(gate, registry, (app) =>
      app.post(
        "/api/plays",
        handled(async (req, res) => {
          await req.privacy.record("play", req.body);
          res.status(201).end();
        }),
      ),
    );
    await grant(app, eu("alice"), "personalization").expect(200);
    await request(app).post("/api/plays").set(eu("alice")).send({ itemId: "t" }).expect(201);
    await gate.runJob("purge");
    assert.equal((await scrape(app)).text.trim(), "");
    assert.ok(!(await register.metrics()).includes("consentgate_"));
  });
});

describe(`gate.metrics() and the app's own gated models on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();

  test("a gated model's writes are decisions like the HTTP gate's", async () => {
    const registry = new Registry();
    const { gate, app } = await gatedMusic(suite, {
      routes: (app) =>
        app.get(
          "/metrics",
          handled(async (_req, res) => {
            res.type(registry.contentType).send(await registry.metrics());
          }),
        ),
    });
    gate.metrics(registry);
    for (const id of ["liker-1", "liker-2", "liker-3"]) {
      await grant(app, eu(id), "personalization").expect(200);
      await request(app).post("/api/likes").set(eu(id)).send({ itemId: "track-1" }).expect(201);
    }
    for (const id of ["silent-1", "silent-2"])
      await request(app).post("/api/likes").set(eu(id)).send({ itemId: "track-1" }).expect(403);
    const { samples } = await scrape(app);
    const decisions = (outcome: string) =>
      valueOf(samples, "consentgate_decisions_total", { purpose: "personalization", region: "EU", outcome });
    assert.equal(decisions("allowed"), 3);
    assert.equal(decisions("denied"), 2);
  });

  test("a write admitted by gate.purpose() and then made through a gated model is one decision", async () => {
    const registry = new Registry();
    // The routes are mounted while the gate is made: its purpose gate is made on the first request.
    let personalization: RequestHandler | undefined;
    const { gate, app } = await gatedMusic(suite, {
      routes: (app, music) => {
        app.post(
          "/api/admitted-likes",
          (req, res, next) => (personalization ??= gate.purpose("personalization"))(req, res, next),
          handled(async (req, res) => {
            await music.like.create({ data: { listenerId: req.privacy.subject!, itemId: req.body.itemId } });
            res.status(201).end();
          }),
        );
        app.get(
          "/metrics",
          handled(async (_req, res) => {
            res.type(registry.contentType).send(await registry.metrics());
          }),
        );
      },
    });
    gate.metrics(registry);
    await grant(app, eu("liker-1"), "personalization").expect(200);
    await request(app).post("/api/admitted-likes").set(eu("liker-1")).send({ itemId: "track-1" }).expect(201);
    await request(app).post("/api/admitted-likes").set(eu("silent-1")).send({ itemId: "track-1" }).expect(403);
    const { samples } = await scrape(app);
    const decisions = (outcome: string) =>
      valueOf(samples, "consentgate_decisions_total", { purpose: "personalization", region: "EU", outcome });
    assert.deepEqual([decisions("allowed"), decisions("denied")], [1, 1]);
  });
});

/** How long a read of the overdue count answers scrapes, of the gate's clock (consentgate.ts). */
const OVERDUE_CACHE_MS = 30_000;

/** A gate with its own registry and /metrics, whose erasures stay partial while `favourites.failing`. */
async function overdueGate(suite: ReturnType<typeof suiteScope>, options: Parameters<typeof testGate>[1]) {
  const registry = new Registry();
  const gate = await testGate(suite, options);
  gate.metrics(registry);
  const favourites = { failing: true };
  gate.registerDataSource({
    name: "favourites",
    export: () => [],
    erase: () => {
      if (favourites.failing) throw new Error("favourites database is down");
      return 1;
    },
  });
  const app = withMetricsRoute(gate, registry);
  const overdue = async () => valueOf((await scrape(app)).samples, "consentgate_requests_overdue");
  return { gate, app, favourites, overdue };
}

describe(`consentgate_requests_overdue, read when scraped, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();

  test("counts a request from just after its deadline, with no deadlines run, and drops once it is completed", async () => {
    const clock = testClock(T0);
    const { gate, app, favourites, overdue } = await overdueGate(suite, { now: clock.now });
    const erasure = (await request(app).delete("/privacy/data").set(eu("erased-1")).expect(200)).body;
    assert.equal(erasure.status, "partial");
    const { dueAt } = (await request(app).get(`/privacy/requests/${erasure.requestId}`).set(eu("erased-1")).expect(200))
      .body;
    const due = new Date(dueAt).getTime();

    clock.set(due);
    assert.equal(await overdue(), 0, "at its deadline itself it is still on time");
    clock.set(due + OVERDUE_CACHE_MS);
    assert.equal(await overdue(), 1, "past it, though no deadlines job has run");

    favourites.failing = false;
    assert.deepEqual(await gate.runJob("erasure-retry"), { retried: 1, completed: 1 });
    assert.equal(await overdue(), 1, "scrapes within 30 s share one read of the database");
    clock.advance(OVERDUE_CACHE_MS);
    assert.equal(await overdue(), 0);
  });
});

describe(`consentgate_requests_overdue on two instances of one ${onPostgres ? "PostgreSQL" : "PGlite"} database`, {
  skip: !onPostgres && "PGlite has one process",
}, () => {
  const suite = suiteScope();

  test("the instance that did not run the deadlines job reports the same count, and drops it too", async () => {
    const db = await testDatabase(suite);
    const clock = testClock(T0);
    const ran = await overdueGate(suite, { database: db.option, now: clock.now });
    const other = await overdueGate(suite, { database: db.option, now: clock.now });
    const erasure = (await request(ran.app).delete("/privacy/data").set(eu("erased-1")).expect(200)).body;
    assert.equal(erasure.status, "partial");
    assert.deepEqual([await ran.overdue(), await other.overdue()], [0, 0]);

    clock.advance(40 * DAY);
    await ran.gate.runJob("deadlines");
    assert.deepEqual([await ran.overdue(), await other.overdue()], [1, 1]);

    ran.favourites.failing = false;
    assert.deepEqual(await ran.gate.runJob("erasure-retry"), { retried: 1, completed: 1 });
    clock.advance(OVERDUE_CACHE_MS);
    assert.deepEqual([await ran.overdue(), await other.overdue()], [0, 0], "neither keeps the count it once saw");
  });
});

describe(`gate.metrics() without a registry, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();

  // Last in the file: it leaves the metrics on prom-client's global registry for the rest of the process.
  test("registers on prom-client's global registry", async () => {
    const gate = await testGate(suite);
    assert.equal(gate.metrics(), register);
    await gate.runJob("deadlines");
    const samples = parseExposition(await register.metrics());
    assert.equal(valueOf(samples, "consentgate_job_runs_total", { job: "deadlines", outcome: "ok" }), 1);
  });
});
