/**
 * The write planner and the mapping checks, on a schema read by Prisma's
 * own schema engine (the same reading the extension does at $extends): what
 * each operation's arguments become, which (model, subject) pairs the gate
 * decides, and what is refused before anything runs.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import { type PrismaExtensionOptions, checkOptions, resolveSchema } from "../../src/data-layer/models.ts";
import { planWrite, type Writer } from "../../src/data-layer/plan.ts";
import { isConsentgateError } from "../../src/errors.ts";
import { compileMinimizer } from "../../src/minimize/index.ts";
import { loadPolicy } from "../../src/policy/load.ts";
import type { HostModel } from "../../src/store/host-tables.ts";
import { testPolicy } from "../support/policy.ts";

const SCHEMA = `
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}
model Listener {
  id        String     @id
  createdAt DateTime   @default(now())
  playlists Playlist[]
  profile   Profile?
}
model Profile {
  listenerId String   @id
  listener   Listener @relation(fields: [listenerId], references: [id])
  bio        String
  settings   Json?
}
model Like {
  id         Int      @id @default(autoincrement())
  listenerId String
  itemId     String
  durationMs Int?
  plays      Int      @default(0)
  createdAt  DateTime @default(now())
}
model Playlist {
  id         Int             @id @default(autoincrement())
  listenerId String
  listener   Listener        @relation(fields: [listenerId], references: [id])
  name       String
  createdAt  DateTime        @default(now())
  tracks     PlaylistTrack[]
}
model PlaylistTrack {
  id         Int      @id @default(autoincrement())
  playlistId Int
  playlist   Playlist @relation(fields: [playlistId], references: [id])
  listenerId String
  itemId     String
  position   Int
}
model Tag {
  id   Int    @id @default(autoincrement())
  name String
}`;

const require = createRequire(import.meta.url);
const engine = require("@prisma/prisma-schema-wasm") as { get_dmmf(params: string): string };
const MODELS: HostModel[] = JSON.parse(engine.get_dmmf(JSON.stringify({ prismaSchema: [["schema.prisma", SCHEMA]] })))
  .datamodel.models;

const policy = await loadPolicy(
  testPolicy({
    purposes: {
      library: {
        description: "Keep the playlists a listener makes",
        legalBasis: "contract",
        fields: { name: { maxLength: 5 }, itemId: "keep", position: "keep", bio: { maxLength: 3 }, settings: "keep" },
      },
      personalization: { fields: { itemId: "keep", durationMs: { bucket: 1000 }, plays: "keep" } },
    },
  }),
);
const minimizers = new Map(
  Object.values(policy.purposes).map((p) => [p.name, compileMinimizer(p.fields, { hashKey: "k" })]),
);
const OPTIONS: PrismaExtensionOptions = {
  models: {
    Like: { purpose: "personalization", subject: "listenerId", createdAt: "createdAt" },
    Playlist: { purpose: "library", subject: "listenerId", createdAt: "createdAt" },
    PlaylistTrack: { purpose: "library", subject: "listenerId" },
    Profile: { purpose: "library", subject: "listenerId" },
  },
};
const schema = resolveSchema(policy, checkOptions(policy, OPTIONS), MODELS);
const alice: Writer = { subject: "alice", agent: false, inRequest: true };
const agent: Writer = { subject: "agent-1", agent: true, inRequest: true };

const plan = (writer: Writer, model: string, operation: string, args: unknown) =>
  planWrite(schema, minimizers, writer, model, operation, args);
const reaches = (p: ReturnType<typeof plan>) => p?.reaches.map((r) => `${r.model.model}:${r.subject}:${r.creates}`);
const refusal = (code: string) => (error: unknown) => isConsentgateError(error) && error.code === code;

describe("planning a create", () => {
  test("the data is minimized by the purpose's rules; the subject field and structural fields pass as they are", () => {
    const at = new Date("2026-01-02T03:04:05.678Z");
    const p = plan(alice, "Like", "create", {
      data: { listenerId: "alice", itemId: "t1", durationMs: 12_345, userAgent: "x", createdAt: at, id: 7 },
      select: { id: true },
    });
    assert.deepEqual(p?.args, {
      data: { listenerId: "alice", createdAt: at, id: 7, itemId: "t1", durationMs: 12_000 },
      select: { id: true },
    });
    assert.deepEqual(reaches(p), ["Like:alice:true"]);
  });

  test("a create that does not name the subject is the writer's own", () => {
    const p = plan(alice, "Like", "create", { data: { itemId: "t1" } });
    assert.deepEqual(p?.args, { data: { itemId: "t1", listenerId: "alice" } });
  });

  test("another subject's id is forbidden; an agent may write it, decided for that subject", () => {
    assert.throws(
      () => plan(alice, "Like", "create", { data: { listenerId: "bob", itemId: "t1" } }),
      refusal("forbidden"),
    );
    assert.deepEqual(reaches(plan(agent, "Like", "create", { data: { listenerId: "bob", itemId: "t1" } })), [
      "Like:bob:true",
    ]);
  });

  test("createMany with one row of another subject's is refused whole", () => {
    const data = [
      { listenerId: "alice", itemId: "t1" },
      { listenerId: "bob", itemId: "t2" },
    ];
    assert.throws(() => plan(alice, "Like", "createMany", { data }), refusal("forbidden"));
    assert.deepEqual(reaches(plan(alice, "Like", "createManyAndReturn", { data: [data[0], data[0]] })), [
      "Like:alice:true",
    ]);
  });

  test("no subject: no_context outside a request, unauthenticated in an anonymous one", () => {
    assert.throws(
      () => plan({ subject: undefined, agent: false, inRequest: false }, "Like", "create", { data: { itemId: "t" } }),
      refusal("no_context"),
    );
    assert.throws(
      () => plan({ subject: undefined, agent: false, inRequest: true }, "Like", "create", { data: { itemId: "t" } }),
      refusal("unauthenticated"),
    );
  });

  test("a model no mapping reaches passes untouched, with no plan", () => {
    assert.equal(
      plan({ subject: undefined, agent: false, inRequest: false }, "Tag", "create", { data: { name: "x" } }),
      undefined,
    );
    assert.equal(plan(alice, "Like", "findMany", { where: { listenerId: "bob" } }), undefined);
  });
});

describe("planning nested writes", () => {
  test("tracks created inside a playlist are minimized and checked too", () => {
    const p = plan(alice, "Playlist", "create", {
      data: {
        listenerId: "alice",
        name: "Road trip",
        tracks: { create: [{ listenerId: "alice", itemId: "t1", position: 1, note: "x" }] },
      },
    });
    assert.deepEqual(p?.args, {
      data: {
        listenerId: "alice",
        name: "Road ",
        tracks: { create: [{ listenerId: "alice", itemId: "t1", position: 1 }] },
      },
    });
    assert.deepEqual(reaches(p), ["Playlist:alice:true", "PlaylistTrack:alice:true"]);
    assert.throws(
      () =>
        plan(alice, "Playlist", "create", {
          data: { listenerId: "alice", name: "x", tracks: { create: { listenerId: "bob", itemId: "t", position: 1 } } },
        }),
      refusal("forbidden"),
    );
  });

  test("through an ungated parent: the subject the relation fills in is the parent's key", () => {
    const own = plan(alice, "Listener", "create", { data: { id: "alice", playlists: { create: { name: "Mine" } } } });
    assert.deepEqual(reaches(own), ["Playlist:alice:true"]);
    assert.throws(
      () => plan(alice, "Listener", "create", { data: { id: "bob", playlists: { create: { name: "Not mine" } } } }),
      refusal("forbidden"),
    );
    const update = plan(alice, "Listener", "update", {
      where: { id: "alice" },
      data: { playlists: { create: { name: "Two" } } },
    });
    assert.deepEqual(reaches(update), ["Playlist:alice:true"]);
    // The parent's key is not known before the write: refused rather than guessed.
    assert.throws(
      () =>
        plan(alice, "Listener", "updateMany", {
          where: { createdAt: { lt: new Date() } },
          data: { playlists: { create: { name: "x" } } },
        }),
      refusal("forbidden"),
    );
  });

  test("a foreign key set through connect must point at the writer's own row", () => {
    const p = plan(alice, "Profile", "create", { data: { bio: "hello", listener: { connect: { id: "alice" } } } });
    assert.deepEqual(p?.args, { data: { bio: "hel", listener: { connect: { id: "alice" } } } });
    assert.throws(
      () => plan(alice, "Profile", "create", { data: { bio: "hi", listener: { connect: { id: "bob" } } } }),
      refusal("forbidden"),
    );
  });

  test("filters of nested updates, deletes and connects of gated rows are cut to the subject", () => {
    const p = plan(alice, "Playlist", "update", {
      where: { id: 1 },
      data: {
        tracks: {
          updateMany: { where: { position: { gt: 3 } }, data: { position: 4 } },
          deleteMany: { itemId: "t9" },
          connect: { id: 5 },
        },
      },
    });
    assert.deepEqual(p?.args, {
      where: { id: 1, listenerId: "alice" },
      data: {
        tracks: {
          updateMany: { where: { position: { gt: 3 }, listenerId: "alice" }, data: { position: 4 } },
          deleteMany: { itemId: "t9", listenerId: "alice" },
          connect: { id: 5, listenerId: "alice" },
        },
      },
    });
  });
});

describe("planning updates and deletes", () => {
  test("filters are cut to the writer's subject; naming another subject is forbidden", () => {
    assert.deepEqual(plan(alice, "Like", "updateMany", { where: { itemId: "t1" }, data: { plays: 2 } })?.args, {
      where: { itemId: "t1", listenerId: "alice" },
      data: { plays: 2 },
    });
    assert.deepEqual(plan(alice, "Like", "deleteMany", {})?.args, { where: { listenerId: "alice" } });
    assert.deepEqual(plan(alice, "Like", "delete", { where: { id: 3 } })?.args, {
      where: { id: 3, listenerId: "alice" },
    });
    assert.throws(() => plan(alice, "Like", "deleteMany", { where: { listenerId: "bob" } }), refusal("forbidden"));
    const filtered = plan(alice, "Like", "deleteMany", { where: { listenerId: { in: ["alice", "bob"] } } });
    assert.deepEqual(filtered?.args, {
      where: { listenerId: "alice", AND: [{ listenerId: { in: ["alice", "bob"] } }] },
    });
  });

  test("an agent names the subject in the filter", () => {
    assert.throws(() => plan(agent, "Like", "deleteMany", { where: { itemId: "t1" } }), refusal("forbidden"));
    assert.deepEqual(reaches(plan(agent, "Like", "updateMany", { where: { listenerId: "bob" }, data: { plays: 1 } })), [
      "Like:bob:false",
    ]);
  });

  test("set values are minimized; arithmetic only on fields kept as they are", () => {
    assert.deepEqual(plan(alice, "Like", "update", { where: { id: 1 }, data: { durationMs: { set: 1999 } } })?.args, {
      where: { id: 1, listenerId: "alice" },
      data: { durationMs: 1000 },
    });
    assert.deepEqual(plan(alice, "Like", "update", { where: { id: 1 }, data: { plays: { increment: 1 } } })?.args, {
      where: { id: 1, listenerId: "alice" },
      data: { plays: { increment: 1 } },
    });
    assert.throws(
      () => plan(alice, "Like", "update", { where: { id: 1 }, data: { durationMs: { increment: 1 } } }),
      refusal("invalid_body"),
    );
  });

  test("null clears a kept field; moving a row to another subject is forbidden", () => {
    assert.deepEqual(plan(alice, "Like", "update", { where: { id: 1 }, data: { durationMs: null } })?.args, {
      where: { id: 1, listenerId: "alice" },
      data: { durationMs: null },
    });
    assert.throws(
      () => plan(alice, "Like", "update", { where: { id: 1 }, data: { listenerId: "bob" } }),
      refusal("forbidden"),
    );
  });

  test("upsert: the filter is cut, both branches minimized", () => {
    const p = plan(alice, "Like", "upsert", {
      where: { id: 1 },
      create: { itemId: "t1", durationMs: 2500 },
      update: { durationMs: 3500 },
    });
    assert.deepEqual(p?.args, {
      where: { id: 1, listenerId: "alice" },
      create: { itemId: "t1", durationMs: 2000, listenerId: "alice" },
      update: { durationMs: 3000 },
    });
    assert.deepEqual(reaches(p), ["Like:alice:true"]);
  });
});

describe("checking the mapping", () => {
  const problems = (run: () => unknown): string[] => {
    try {
      run();
    } catch (error) {
      if (isConsentgateError(error) && error.code === "invalid_option") return error.details.problems ?? [];
      throw error;
    }
    assert.fail("expected invalid_option");
  };

  test("every problem is listed at once", () => {
    const listed = problems(() =>
      resolveSchema(
        policy,
        {
          models: {
            Lyke: { purpose: "personalization", subject: "listenerId" },
            Like: { purpose: "personalization", subject: "listener", createdAt: "itemId", structural: ["idd"] },
            PlaylistTrack: { purpose: "personalization", subject: "position" },
          },
        },
        MODELS,
      ),
    );
    assert.deepEqual(listed, [
      'models.Lyke: no model "Lyke" in the client\'s schema (models: Listener, Profile, Like, Playlist, PlaylistTrack, Tag)',
      'models.Like.subject: no scalar field "listener" in model Like',
      'models.Like.createdAt: field "itemId" of model Like is String, not DateTime',
      'models.Like.structural: no scalar field "idd" in model Like',
      'models.PlaylistTrack.subject: field "position" of model PlaylistTrack is Int, not String',
    ]);
  });

  test("a required field the purpose drops is a problem; an unknown purpose is caught first", () => {
    assert.deepEqual(
      problems(() =>
        resolveSchema(policy, { models: { Playlist: { purpose: "personalization", subject: "listenerId" } } }, MODELS),
      ),
      [
        'models.Playlist: required field "name" has no default and purpose "personalization" drops it, so every create would fail; list it in the purpose\'s fields or in structural',
      ],
    );
    assert.deepEqual(
      problems(() => checkOptions(policy, { models: { Like: { purpose: "marketing", subject: "listenerId" } } })),
      [
        'models.Like.purpose: no purpose "marketing" in the policy (known: service, personalization, advertising, analytics, library)',
      ],
    );
    assert.deepEqual(
      problems(() => checkOptions(policy, { models: { Like: { purpose: "library", subjectt: "listenerId" } } })),
      [
        "options.models.Like.subject: Invalid input: expected string, received undefined",
        'options.models.Like: Unrecognized key: "subjectt"',
      ],
    );
  });
});
