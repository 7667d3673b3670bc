import assert from "node:assert/strict";
import { before, beforeEach, describe, test } from "node:test";
import type { Express } from "express";
import request from "supertest";
import { type Consentgate, isConsentgateError } from "../../src/index.ts";
import { hostApp, testApp, testGate } from "../support/app.ts";
import { DAY, testClock } from "../support/clock.ts";
import { onPostgres } from "../support/database.ts";
import { express } from "../support/express.ts";
import { testPolicy } from "../support/policy.ts";
import { suiteScope } from "../support/scope.ts";
import { ca, subject } from "../support/subjects.ts";

const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The test policy plus a sensitive purpose, to show the rule that it needs an explicit opt-in everywhere. */
const policy = () =>
  testPolicy({
    purposes: {
      health: {
        description: "Suggest calm music from your heart rate",
        legalBasis: "consent",
        sensitive: true,
        fields: { bpm: "keep" },
        window: 5,
        retention: "1mo",
      },
    },
  });

describe(`the privacy center page on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  let gate: Consentgate;
  let app: Express;
  let n = 0;
  let user: string;

  before(async () => {
    gate = await testGate(suite, { policies: policy() });
    app = hostApp(gate, (host) => {
      host.use("/center", gate.privacyCenter());
      host.use(
        "/custom",
        gate.privacyCenter({ api: "/rights/", title: "Privacy at Example", signIn: "/login?next=/custom" }),
      );
      host.use("/short", gate.privacyCenter({ latest: 3 }));
    });
  });
  beforeEach(() => {
    user = `center-${++n}`;
  });

  const page = (headers: Record<string, string> = {}, path = "/center") =>
    request(app).get(path).set(subject(user, headers));
  const choose = (purpose: string, body: object, headers: Record<string, string> = {}) =>
    request(app).put(`/privacy/consents/${purpose}`).set(subject(user, headers)).send(body).expect(200);
  /** The text of the element with this id, tags stripped. */
  const textOf = (html: string, id: string) => {
    const found = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</`).exec(html);
    assert.ok(found, `no element #${id}`);
    const entities: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'" };
    return found[1]!
      .replace(/<[^>]+>/g, "")
      .replace(/&(amp|lt|gt|quot|#39);/g, (e) => entities[e]!)
      .trim();
  };
  const switchOf = (html: string, purpose: string) => {
    const found = new RegExp(`<input[^>]*id="switch-${purpose}"[^>]*>`).exec(html);
    assert.ok(found, `no switch for ${purpose}`);
    return found[0];
  };

  test("anonymous visitors are told to sign in, with 401", async () => {
    const res = await request(app).get("/center").expect(401);
    assert.match(res.type, /html/);
    assert.match(res.text, /Sign in to see and change your privacy choices/);
    assert.doesNotMatch(res.text, /<a class="button primary"/, "no sign-in link unless the host gives one");
    const custom = await request(app).get("/custom").expect(401);
    assert.match(custom.text, /<a class="button primary" href="\/login\?next=\/custom">Sign in<\/a>/);
    assert.match(custom.text, /<title>Privacy at Example<\/title>/);
  });

  test("a strict CSP, no caching, and nothing inline that it would block", async () => {
    const res = await page().expect(200);
    assert.equal(res.headers["content-security-policy"], CSP);
    assert.equal(res.headers["cache-control"], "no-store");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.doesNotMatch(res.text, /<script(?![^>]*\ssrc=)/, "every script is a file");
    assert.doesNotMatch(res.text, /<style|\sstyle=|\son[a-z]+=|javascript:/i);
    assert.doesNotMatch(res.text, /https?:\/\//, "nothing from another origin");
    const ids = [...res.text.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, "ids are unique");
    for (const [path, type] of [
      ["/center/assets/center.js", /^text\/javascript/],
      ["/center/assets/center.css", /^text\/css/],
    ] as const) {
      assert.ok(res.text.includes(`"${path}"`), `the page links ${path}`);
      const asset = await request(app).get(path).expect(200);
      assert.match(asset.headers["content-type"]!, type);
      assert.equal(asset.headers["content-security-policy"], CSP);
    }
  });

  test("each purpose in plain words, with its legal basis, retention, window, sale/share flag and choice", async () => {
    const res = await page({ "x-region": "DE" }).expect(200);
    assert.match(
      res.text,
      /The rules of EU \(GDPR\) apply to you: anything that needs your permission stays off until you turn it on/,
    );
    assert.match(textOf(res.text, "title-personalization"), /^Recommend music from recent listening$/);
    assert.match(res.text, /<strong>Your consent\.<\/strong> We rely on your permission/);
    assert.match(res.text, /<strong>Legitimate interest\.<\/strong>/);
    assert.match(res.text, /Each record at most 90 days/);
    assert.match(res.text, /Each record at most 1 month/);
    assert.match(res.text, /Only your 5 most recent records/);
    assert.match(res.text, /Yes: this counts as selling or sharing your data/);
    assert.doesNotMatch(switchOf(res.text, "personalization"), /checked/, "EU is opt-in");
    assert.match(
      textOf(res.text, "explain-personalization"),
      /^Off until you allow it: under the rules of EU this needs your permission\.$/,
    );
    assert.match(switchOf(res.text, "analytics"), /checked/, "a legitimate interest allows until the user objects");
    assert.match(
      textOf(res.text, "explain-analytics"),
      /^On: we rely on a legitimate interest\. Turn it off to object\.$/,
    );
    assert.match(switchOf(res.text, "personalization"), /role="switch"[\s\S]*disabled/, "controls wait for the script");
    assert.match(res.text, /<label for="switch-personalization">Allow: Recommend music from recent listening<\/label>/);
  });

  test("sensitive purposes stay off without an explicit grant, even where the model is opt-out", async () => {
    const res = await page({ "x-region": "US-CA" }).expect(200);
    assert.match(switchOf(res.text, "personalization"), /checked/, "US-CA is opt-out");
    assert.doesNotMatch(switchOf(res.text, "health"), /checked/);
    assert.match(
      textOf(res.text, "explain-health"),
      /sensitive, so it needs your explicit permission wherever you are/,
    );
  });

  test("a choice shows with its date, and its receipt is listed", async () => {
    const receipt = (await choose("personalization", { granted: true }, { "x-region": "DE" })).body;
    const res = await page({ "x-region": "DE" }).expect(200);
    assert.match(switchOf(res.text, "personalization"), /checked/);
    assert.match(
      textOf(res.text, "explain-personalization"),
      /^On: you allowed this on \d{1,2} \w{3} \d{4}, \d\d:\d\d UTC\.$/,
    );
    assert.ok(res.text.includes(`<summary>Receipt ${receipt.id}</summary>`));
    assert.ok(res.text.includes(receipt.signature));
    assert.match(textOf(res.text, "held-summary"), /We hold nothing and 1 privacy choice about you/);
  });

  test("GPC in US-CA: the conflict is shown, and a confirmed grant wins over it", async () => {
    const gpc = { "x-region": "US-CA", "sec-gpc": "1" };
    await choose("advertising", { granted: true }, { "x-region": "US-CA" });
    let res = await page(gpc).expect(200);
    assert.match(textOf(res.text, "gpc-state"), /opts you out of any selling or sharing/);
    assert.match(switchOf(res.text, "advertising"), /data-gpc/);
    assert.doesNotMatch(switchOf(res.text, "advertising"), /checked/, "GPC wins over the earlier grant");
    assert.match(
      textOf(res.text, "explain-advertising"),
      /you allowed this on .*, but your browser now sends Global Privacy Control/,
    );
    assert.doesNotMatch(switchOf(res.text, "personalization"), /data-gpc/, "GPC only concerns sales and sharing");

    await choose("advertising", { granted: true, overrideGpc: true }, gpc);
    res = await page(gpc).expect(200);
    assert.match(switchOf(res.text, "advertising"), /checked/);
    assert.doesNotMatch(switchOf(res.text, "advertising"), /data-gpc/);
    assert.match(
      textOf(res.text, "explain-advertising"),
      /confirming it over your browser's Global Privacy Control signal/,
    );
    assert.match(res.text, /\(over Global Privacy Control\)/);
  });

  test("GPC outside a region that gives it meaning changes nothing on the page", async () => {
    const res = await page({ "x-region": "DE", "sec-gpc": "1" }).expect(200);
    assert.match(textOf(res.text, "gpc-state"), /give it no separate effect/);
    assert.doesNotMatch(switchOf(res.text, "advertising"), /data-gpc/);
  });

  test("requests and what is held follow export and erasure", async () => {
    await choose("personalization", { granted: true });
    await request(app).get("/privacy/export").set(subject(user)).expect(200);
    let res = await page().expect(200);
    assert.match(res.text, /<th scope="row">Copy of your data<\/th>\s*<td>Done<\/td>/);

    await request(app).delete("/privacy/data").set(subject(user)).expect(200);
    res = await page().expect(200);
    assert.equal(textOf(res.text, "held-summary"), "We hold no personal data about you.");
    assert.match(res.text, /<th scope="row">Erasure of your data<\/th>\s*<td>Done<\/td>/);
    assert.doesNotMatch(res.text, /Copy of your data/, "the erasure took the earlier request with it");
    assert.match(res.text, /You have not made any choices yet\./);
  });

  test("what is held counts each purpose's unexpired records, not those the purge has yet to delete", async (ctx) => {
    const clock = testClock("2026-11-28T12:00:00Z");
    const t = await testApp(ctx, { policies: policy(), now: clock.now });
    t.app.use("/center", t.gate.privacyCenter());
    const who = ca("holding"); // US-CA, opt-out: plays are kept without a grant
    const send = (path: string, itemId: string) => request(t.app).post(path).set(who).send({ itemId }).expect(201);
    const held = async () => {
      const res = await request(t.app).get("/center").set(who).expect(200);
      return {
        personalization: textOf(res.text, "held-personalization"),
        analytics: textOf(res.text, "held-analytics"),
        advertising: textOf(res.text, "held-advertising"),
        summary: textOf(res.text, "held-summary"),
      };
    };
    for (let i = 0; i < 3; i++) await send("/api/plays", `play-${i}`);
    for (let i = 0; i < 4; i++) await send("/api/stats", `count-${i}`); // a window of 3
    assert.deepEqual(await held(), {
      personalization: "3 records",
      analytics: "3 records",
      advertising: "nothing",
      summary: "We hold 6 records and 0 privacy choices about you.",
    });
    // Analytics keeps its records 30 days, personalization 90.
    clock.advance(31 * DAY);
    await send("/api/plays", "play-3");
    assert.deepEqual(await held(), {
      personalization: "4 records",
      analytics: "nothing",
      advertising: "nothing",
      summary: "We hold 4 records and 0 privacy choices about you.",
    });
    assert.deepEqual(
      await t.gate.store.interactions.countByPurpose("holding"),
      { personalization: 4, analytics: 3 },
      "the expired records are still in the table until the purge",
    );
  });

  test("the export link and the script's API follow the api option", async () => {
    const res = await page({}, "/custom").expect(200);
    assert.match(res.text, /<body data-api="\/rights">/);
    assert.match(res.text, /href="\/rights\/export"/);
    assert.match(res.text, /<h1>Privacy at Example<\/h1>/);
    assert.match(res.text, /href="\/custom\/assets\/center\.css"/);
  });

  test("what a subject id contains is shown, never run", async () => {
    const res = await page(subject(`<img src=x onerror="alert(1)">`)).expect(200);
    assert.ok(res.text.includes("Signed in as <strong>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</strong>"));
    assert.doesNotMatch(res.text, /<img/);
  });

  test("a long history shows only its newest receipts and requests, and points to the download for the rest", async () => {
    const receipts: string[] = [];
    for (const granted of [true, false, true, false, true])
      receipts.push((await choose("personalization", { granted })).body.id);
    for (let i = 0; i < 4; i++) await request(app).get("/privacy/export").set(subject(user)).expect(200);
    const res = await page({}, "/short").expect(200);
    const listed = [...res.text.matchAll(/<summary>Receipt ([0-9a-f-]+)<\/summary>/g)].map((m) => m[1]);
    assert.deepEqual(listed, receipts.slice(-3).reverse(), "the three newest, newest first");
    const more = (what: string, shown: number, total: number) =>
      new RegExp(
        `id="${what}-more">Only your ${shown} most recent ${what} of ${total} are listed here\\. <a href="/privacy/export" download>Download a copy of your data</a> for all of them\\.</p>`,
      );
    assert.match(res.text, more("receipts", 3, 5));
    assert.equal([...res.text.matchAll(/<th scope="row">Copy of your data<\/th>/g)].length, 3);
    assert.match(res.text, more("requests", 3, 4));
    assert.match(
      textOf(res.text, "held-summary"),
      /and 5 privacy choices about you/,
      "the count covers the whole history",
    );

    const full = await page().expect(200);
    assert.equal(
      [...full.text.matchAll(/<summary>Receipt /g)].length,
      5,
      "under the default of 20 everything is listed",
    );
    assert.doesNotMatch(full.text, /id="receipts-more"|id="requests-more"/);
  });

  test("a latest option that is not a count from 1 to 500 is refused at start-up", () => {
    for (const latest of [0, -1, 2.5, 501, Number.NaN]) {
      assert.throws(
        () => gate.privacyCenter({ latest }),
        (e) => isConsentgateError(e, "invalid_option"),
        String(latest),
      );
    }
  });

  test("an api option that is not a path on this origin is refused at start-up", () => {
    for (const api of ["https://elsewhere.example/privacy", "//elsewhere.example", "privacy", "/"]) {
      assert.throws(
        () => gate.privacyCenter({ api }),
        (e) => isConsentgateError(e, "invalid_option"),
        api,
      );
    }
  });
});

describe("the privacy center when the store is gone", () => {
  test("answers 503 with a page, not a stack trace", async (ctx) => {
    const gate = await testGate(ctx, { database: "memory", subject: () => "someone" });
    const app = express().use("/center", gate.privacyCenter());
    await gate.close();
    const res = await request(app).get("/center").expect(503);
    assert.match(res.text, /cannot be shown right now\. Nothing was changed/);
  });
});
