/**
 * The example app's own database (examples/music-app/database.ts): its
 * migrations apply once, however many instances open it and however often,
 * an applied migration that was edited stops start-up, and the generated
 * client reads and writes its tables.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { appendFile, cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { type MusicDatabase, type MusicDatabaseOptions, openMusicDatabase } from "../../examples/music-app/database.ts";
import { CONSENTGATE_TABLES, onPostgres, scratchFolder, testDatabase, testStore } from "../support/database.ts";
import { type PrismaClient, hostDatabase } from "../support/host.ts";
import { onCleanup, type Scope, suiteScope } from "../support/scope.ts";

const MIGRATIONS = fileURLToPath(new URL("../../examples/music-app/prisma/migrations", import.meta.url));
const MUSIC_TABLES = ["likes", "music_app_migrations", "music_listeners", "playlist_tracks", "playlists"];

/** The tables in the database, in code point order. (`name` columns are cast: Prisma cannot read that type.) */
async function tables(client: PrismaClient): Promise<string[]> {
  const rows = await client.$queryRaw<{ tablename: string }[]>`
    SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'`;
  return rows.map((row) => row.tablename).sort();
}

async function columns(client: PrismaClient, table: string): Promise<string[]> {
  const rows = await client.$queryRaw<{ column_name: string }[]>`
    SELECT column_name::text FROM information_schema.columns WHERE table_name = ${table}`;
  return rows.map((row) => row.column_name).sort();
}

async function applied(music: MusicDatabase): Promise<{ name: string; checksum: string }[]> {
  return music.client.$queryRaw`SELECT name, checksum FROM music_app_migrations ORDER BY name`;
}

async function checksum(file: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(file, "utf8"))
    .digest("hex");
}

/** A copy of the example's migrations that a test may edit. */
async function migrationsCopy(scope: Scope): Promise<string> {
  const copy = path.join(await scratchFolder(scope, "music-migrations-"), "migrations");
  await cp(MIGRATIONS, copy, { recursive: true });
  return copy;
}

describe(`the music app's database, on ${onPostgres ? "PostgreSQL" : "PGlite"}`, () => {
  const suite = suiteScope();
  // An empty PGlite data folder, made once (initdb takes seconds) and copied for each test that opens
  // embedded files: each copy is a database of its own.
  let emptyFiles: string;
  before(async () => {
    if (onPostgres) return;
    emptyFiles = path.join(await scratchFolder(suite, "music-db-empty-"), "files");
    await (await PGlite.create(emptyFiles)).close();
  });

  /**
   * A fresh database that can be opened more than once: a new PostgreSQL
   * database, or PGlite files in a scratch folder (in memory, a second open
   * would be a second database). What a test leaves open closes when `scope`
   * ends; on PGlite a test closes one open before the next, as one process
   * at a time may hold the files.
   */
  async function reopenable(scope: Scope): Promise<(options?: MusicDatabaseOptions) => Promise<MusicDatabase>> {
    const url = onPostgres ? (await testDatabase(scope)).option : undefined;
    const directory = path.join(await scratchFolder(scope, "music-db-"), "files");
    if (!onPostgres) await cp(emptyFiles, directory, { recursive: true });
    return async (options = {}) => {
      const music = await openMusicDatabase(url, { directory, ...options });
      let closed: Promise<void> | undefined;
      const close = () => (closed ??= music.close());
      onCleanup(scope, close);
      return { client: music.client, close };
    };
  }

  test("a fresh database gets the app's tables and a record of the migration with its checksum", async (t) => {
    const music = await (await reopenable(t))();
    assert.deepEqual(await tables(music.client), MUSIC_TABLES);
    assert.deepEqual(await applied(music), [
      { name: "0001_init", checksum: await checksum(path.join(MIGRATIONS, "0001_init", "migration.sql")) },
    ]);
  });

  test("opening it again applies nothing again and keeps its rows", async (t) => {
    const open = await reopenable(t);
    const first = await open();
    await first.client.like.create({ data: { listenerId: "ada", itemId: "t1" } });
    const recorded = await applied(first);
    await first.close();

    const second = await open();
    assert.deepEqual(await applied(second), recorded);
    assert.equal(await second.client.like.count(), 1);
  });

  test("a migration added later is applied after the ones before it", async (t) => {
    const open = await reopenable(t);
    const migrations = await migrationsCopy(t);
    await (await open({ migrations })).close();

    await mkdir(path.join(migrations, "0002_playlist_note"));
    await writeFile(
      path.join(migrations, "0002_playlist_note", "migration.sql"),
      'ALTER TABLE "playlists" ADD COLUMN "note" TEXT;\n',
    );
    const music = await open({ migrations });
    assert.deepEqual(
      (await applied(music)).map((row) => row.name),
      ["0001_init", "0002_playlist_note"],
    );
    assert.deepEqual(await columns(music.client, "playlists"), ["createdAt", "id", "listenerId", "name", "note"]);
  });

  test("a migration that fails leaves nothing of itself and no record, and stops the open", async (t) => {
    const open = await reopenable(t);
    const migrations = await migrationsCopy(t);
    await (await open({ migrations })).close();

    await mkdir(path.join(migrations, "0002_broken"));
    await writeFile(
      path.join(migrations, "0002_broken", "migration.sql"),
      'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT 1 / 0;\n',
    );
    await assert.rejects(open({ migrations }), /music app: migration 0002_broken failed: division by zero/);

    const music = await open();
    assert.deepEqual(await tables(music.client), MUSIC_TABLES);
    assert.deepEqual(
      (await applied(music)).map((row) => row.name),
      ["0001_init"],
    );
  });

  test("a migration edited after it was applied is refused, naming it", async (t) => {
    const open = await reopenable(t);
    const migrations = await migrationsCopy(t);
    await (await open({ migrations })).close();

    const edited = path.join(migrations, "0001_init", "migration.sql");
    const original = await checksum(edited);
    await appendFile(edited, 'ALTER TABLE "likes" ADD COLUMN "rating" INTEGER;\n');
    await assert.rejects(open({ migrations }), {
      message:
        `music app: migration 0001_init changed after it was applied to this database ` +
        `(sha256 ${original} then, ${await checksum(edited)} now); put changes in a new migration instead`,
    });
    // Nothing of the edit ran.
    const music = await open();
    assert.deepEqual(await columns(music.client, "likes"), ["createdAt", "id", "itemId", "listenerId"]);
  });

  test("in memory it opens migrated tables", { skip: onPostgres && "PGlite only" }, async (t) => {
    const music = await openMusicDatabase("memory");
    onCleanup(t, () => music.close());
    assert.deepEqual(await tables(music.client), MUSIC_TABLES);
  });

  test("a database it cannot open is refused, saying what it takes", async () => {
    await assert.rejects(openMusicDatabase("mysql://root@localhost/music"), {
      message: 'music app: database must be "memory", a postgres:// URL, or absent (embedded files)',
    });
  });

  test("the client writes and reads the app's rows; a listener's deletion takes their playlists and tracks", async (t) => {
    const client = await hostDatabase(t);
    await client.listener.create({ data: { id: "ada" } });
    const playlist = await client.playlist.create({
      data: {
        listenerId: "ada",
        name: "Morning",
        tracks: {
          create: [
            { listenerId: "ada", itemId: "t1", position: 0 },
            { listenerId: "ada", itemId: "t2", position: 1 },
          ],
        },
      },
    });
    await client.like.create({ data: { listenerId: "ada", itemId: "t2" } });

    const read = await client.playlist.findUniqueOrThrow({
      where: { id: playlist.id },
      include: { tracks: { orderBy: { position: "asc" } } },
    });
    assert.equal(read.name, "Morning");
    assert.deepEqual(
      read.tracks.map((track) => [track.itemId, track.position]),
      [
        ["t1", 0],
        ["t2", 1],
      ],
    );
    assert.ok(read.createdAt instanceof Date);
    assert.deepEqual(
      (await client.like.findMany({ where: { listenerId: "ada" } })).map((like) => like.itemId),
      ["t2"],
    );

    await client.listener.delete({ where: { id: "ada" } });
    assert.equal(await client.playlist.count(), 0);
    assert.equal(await client.playlistTrack.count(), 0);
    // Likes hold no relation to a listener row, so no cascade reaches them (a subject's erasure does).
    assert.equal(await client.like.count(), 1);
  });

  test("two instances opening one fresh database at once both start, and the migration is applied once", {
    skip: !onPostgres && "one process at a time opens PGlite",
  }, async (t) => {
    const db = await testDatabase(t);
    const opens = await Promise.allSettled([openMusicDatabase(db.option), openMusicDatabase(db.option)]);
    for (const open of opens) if (open.status === "fulfilled") onCleanup(t, () => open.value.close());
    const [first, second] = opens;
    assert.ok(
      first.status === "fulfilled" && second.status === "fulfilled",
      `both open: ${opens.map((open) => (open.status === "rejected" ? String(open.reason) : "opened")).join(", ")}`,
    );
    assert.deepEqual(
      (await applied(first.value)).map((row) => row.name),
      ["0001_init"],
    );
    assert.deepEqual(await tables(second.value.client), MUSIC_TABLES);
  });

  test("its tables sit beside Consentgate's in one database", { skip: !onPostgres && "PostgreSQL only" }, async (t) => {
    const db = await testDatabase(t);
    await testStore(t, db);
    const client = await hostDatabase(t, db);
    assert.deepEqual(await tables(client), [...CONSENTGATE_TABLES, ...MUSIC_TABLES].sort());
  });
});
