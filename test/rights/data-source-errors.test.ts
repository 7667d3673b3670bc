import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import type { Express } from "express";
import { describe, test } from "node:test";
import request from "supertest";
import { testApp } from "../support/app.ts";
import { onPostgres } from "../support/database.ts";
import { asText, eu } from "../support/subjects.ts";

const SECRET_DETAIL = "postgres://admin:hunter2@db";

/** A GET over a real connection that keeps what arrived even when the server cuts it. */
async function download(
  app: Express,
  path: string,
  headers: Record<string, string>,
): Promise<{ body: string; headers: http.IncomingHttpHeaders }> {
  const server = app.listen(0);
  try {
    await new Promise((resolve) => server.once("listening", resolve));
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      http
        .get({ port, path, headers }, (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => (body += chunk));
          res.on("close", () => resolve({ body, headers: res.headers }));
        })
        // Cut before anything was flushed (PGlite answers without yielding to I/O): the client saw nothing.
        .on("error", (error: NodeJS.ErrnoException) =>
          error.code === "ECONNRESET" ? resolve({ body: "", headers: {} }) : reject(error),
        );
    });
  } finally {
    server.close();
  }
}

describe(`data-source errors stay in the logs, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  test("certificates, requests and exports carry a stable reason; the logger gets the detail", async (ctx) => {
    const logged: unknown[] = [];
    const keep = (obj: object, msg?: string) => void logged.push([obj, msg]);
    const logger = { debug: keep, info: keep, warn: keep, error: keep };
    let failing = true;
    const t = await testApp(ctx, { logger });
    t.gate.registerDataSource({
      name: "billing",
      export: async function* () {
        yield { invoice: 1 };
        if (failing) throw new Error(`could not connect to ${SECRET_DETAIL}:5432/billing`);
      },
      erase: () => {
        if (failing) throw new Error(`could not connect to ${SECRET_DETAIL}:5432/billing`);
        return 1;
      },
    });
    const as = eu("payer");
    const answers: string[] = [];
    const answer = (res: request.Response) => {
      answers.push(typeof res.body === "string" ? res.body : JSON.stringify(res.body), JSON.stringify(res.headers));
      return res;
    };

    const certificate = answer(await request(t.app).delete("/privacy/data").set(as).expect(200)).body;
    assert.equal(certificate.status, "partial");
    assert.deepEqual(
      certificate.failures.map((f: { dataSource: string; reason: string }) => [f.dataSource, f.reason]),
      [["billing", "data_source_failed"]],
    );
    answer(await request(t.app).get(`/privacy/requests/${certificate.requestId}`).set(as).expect(200));

    // The export cuts the download where the source fails, and records why in a word.
    const cut = await download(t.app, "/privacy/export", as);
    answers.push(cut.body, JSON.stringify(cut.headers));
    assert.throws(() => JSON.parse(cut.body), SyntaxError, "an incomplete document, never a complete-looking one");
    const requests = answer(await request(t.app).get("/privacy/requests").set(as).expect(200)).body.requests as {
      id: string;
      type: string;
      status: string;
      details: unknown;
    }[];
    const failed = requests.find((r) => r.type === "export")!;
    assert.equal(failed.status, "failed");
    assert.deepEqual(failed.details, {
      format: "consentgate-export/1",
      reason: "data_source_failed",
      dataSource: "billing",
    });
    answer(await request(t.app).get(`/privacy/requests/${failed.id}`).set(as).expect(200));

    // A complete export lists the earlier requests, certificate included.
    failing = false;
    const whole = answer(await asText(request(t.app).get("/privacy/export").set(as)).expect(200));
    const doc = JSON.parse(whole.body as string);
    assert.equal(doc.requests.length, 3);

    for (const body of answers)
      assert.ok(!body.includes(SECRET_DETAIL) && !body.includes("hunter2"), `leaked: ${body.slice(0, 200)}`);
    const logs = logged.map((entry) => inspect(entry, { depth: 6 }));
    assert.ok(
      logs.filter((line) => line.includes(SECRET_DETAIL)).length >= 2,
      "the erasure's and the export's errors are both logged",
    );
  });
});
