/**
 * A migrated copy of an in-memory database, taken once per process, that
 * later `database: "memory"` stores start from.
 *
 * Why: test suites create a memory gate per test file or per test, and each
 * fresh one pays PGlite's initdb plus our migrations (a second or more,
 * several on a slow or busy machine). The first memory store in a process opens as
 * before and, right after its migrations and before anything of its own is
 * written (the secret's fingerprint, consents, log entries), copies its data
 * directory. Later memory stores start a new PGlite on a copy of those files:
 * no initdb, no migrations to apply. Each is still a database of its own; the
 * copy only holds the schema and the migrations record.
 *
 * The copy is keyed by the migration set (names and checksums): a store opened
 * with other migrations takes or uses its own. Stores opening at once share
 * the one being taken. When taking or starting from it fails, memory stores
 * open the normal way for the rest of the process (no retry on every start).
 * It costs the process the data directory's size in memory while it lives:
 * about 40 MB, most of it the 16 MB WAL segment and the three databases initdb
 * makes (template0, template1, and postgres, which holds our tables).
 *
 * How. `npm run bench -- memory-start` starts one migrated database each way
 * in one process (2026-11-30, a 2-core machine shared with other work, so as
 * ratios to an empty start, which runs initdb): through PGlite's own
 * `PGlite.create({ loadDataDir })` from a tar of the files, 0.32; the same
 * with MEMORY_SHARED_BUFFERS of shared buffers instead of PGlite's 128 MB,
 * 0.23 (most likely postgres zeroing its buffer pool, and 128 MB not fitting
 * PGlite's initial 128 MB of WebAssembly memory, which then grows); and as
 * memory stores do, the files made straight into the new instance's in-memory
 * file system (SnapshotFs, below: no tar to parse, no path lookups per file),
 * 0.12. Taking the snapshot costs the first store about 0.10 of it once.
 * Handing PGlite the compiled `pgliteWasmModule` or the `fsBundle` made no
 * difference we could measure: PGlite already keeps the compiled module per
 * process, and the bundle comes from the page cache. What a whole gate's start
 * costs is in `npm run bench -- startup`.
 */
import { createHash } from "node:crypto";
import { MemoryFS, PGlite } from "@electric-sql/pglite";

/**
 * postgres's buffer pool for in-memory databases. Their data lives in memory
 * anyway (PGlite's file system), so a miss costs a copy, not a disk read; a
 * test's database fits in it many times over.
 */
const MEMORY_SHARED_BUFFERS = "32MB";

/** What every in-memory PGlite starts postgres with (exported for `npm run bench -- memory-start`). */
export const MEMORY_START_PARAMS: readonly string[] = [
  ...PGlite.defaultStartParams,
  "-c",
  `shared_buffers=${MEMORY_SHARED_BUFFERS}`,
];

/** One entry of the data directory: a folder (no data) or a file. Paths are relative to the data directory. */
interface SnapshotEntry {
  readonly path: string;
  readonly mode: number;
  readonly data?: Uint8Array;
}

/** The data directory of a migrated in-memory database, as files in this process's memory. */
export interface MemorySnapshot {
  readonly entries: readonly SnapshotEntry[];
  /** The data directory's own mode (postgres checks it). */
  readonly mode: number;
}

/** The part of Emscripten's file system API this module uses (PGlite types it loosely). */
interface EmscriptenFs {
  readdir(path: string): string[];
  stat(path: string): { mode: number };
  isDir(mode: number): boolean;
  readFile(path: string): Uint8Array;
  analyzePath(path: string): { exists: boolean };
  mkdirTree(path: string): void;
  chmod(path: string, mode: number): void;
  lookupPath(path: string): { node: MemfsNode };
}

/** A node of Emscripten's MEMFS, as far as SnapshotFs makes one. */
interface MemfsNode {
  node_ops: { mknod(parent: MemfsNode, name: string, mode: number, dev: number): MemfsNode };
  contents?: Uint8Array;
  usedBytes?: number;
}

function fsOf(db: PGlite): { fs: EmscriptenFs; dataDirectory: string } {
  const module = db.Module as unknown as { FS: EmscriptenFs; ENV: { PGDATA?: string } };
  const dataDirectory = module.ENV.PGDATA;
  if (!dataDirectory) throw new Error("PGlite did not name its data directory (ENV.PGDATA)");
  return { fs: module.FS, dataDirectory };
}

/** A new in-memory PGlite: empty (initdb runs), or on a copy of `from`'s files. */
export function createMemoryPglite(from?: MemorySnapshot): Promise<PGlite> {
  const startParams = [...MEMORY_START_PARAMS];
  return PGlite.create(from === undefined ? { startParams } : { fs: new SnapshotFs(from), startParams });
}

/**
 * Copies `db`'s data directory. Call it when nothing else uses `db`: right
 * after the migrations, before the store is handed out.
 */
export async function takeMemorySnapshot(db: PGlite): Promise<MemorySnapshot> {
  // Every committed change into the data files, so that a database started from the copy replays no WAL.
  await db.exec("CHECKPOINT");
  return db.runExclusive(async () => {
    const { fs, dataDirectory } = fsOf(db);
    if (!fs.analyzePath(`${dataDirectory}/PG_VERSION`).exists) {
      throw new Error(`no database in PGlite's ${dataDirectory}`);
    }
    const entries: SnapshotEntry[] = [];
    // Folders before what they hold, so that a restore creates them in order.
    const walk = (relative: string) => {
      for (const name of fs.readdir(`${dataDirectory}${relative}`)) {
        if (name === "." || name === "..") continue;
        const path = `${relative}/${name}`;
        const { mode } = fs.stat(`${dataDirectory}${path}`);
        if (fs.isDir(mode)) {
          entries.push({ path, mode });
          walk(path);
        } else {
          // readFile returns a copy: the first database's later writes do not reach it.
          entries.push({ path, mode, data: fs.readFile(`${dataDirectory}${path}`) });
        }
      }
    };
    walk("");
    return { entries, mode: fs.stat(dataDirectory).mode };
  });
}

/**
 * PGlite's in-memory file system, filled with a snapshot's files before
 * postgres starts: PGlite then finds a database and skips initdb.
 *
 * The nodes are made the way Emscripten's MEMFS makes them for a new file
 * (its `mknod`, then `contents` and `usedBytes` set as its `write` sets them
 * on an empty file), with each parent folder's node at hand, because through
 * `FS.writeFile` each of the thousand-odd files costs several path lookups, which was
 * the larger part of filling it. Each file's bytes are copied, so the snapshot
 * stays as it was taken whatever the new database writes. Should MEMFS ever
 * change shape, postgres finds no readable database, PGlite.create fails, and
 * the store opens the normal way (store.ts).
 */
class SnapshotFs extends MemoryFS {
  readonly #snapshot: MemorySnapshot;

  constructor(snapshot: MemorySnapshot) {
    super();
    this.#snapshot = snapshot;
  }

  override async initialSyncFs(): Promise<void> {
    if (this.pg === undefined) throw new Error("SnapshotFs used before PGlite initialised it");
    const { fs, dataDirectory } = fsOf(this.pg);
    fs.mkdirTree(dataDirectory);
    fs.chmod(dataDirectory, this.#snapshot.mode);
    const folders = new Map<string, MemfsNode>([["", fs.lookupPath(dataDirectory).node]]);
    for (const { path, mode, data } of this.#snapshot.entries) {
      const cut = path.lastIndexOf("/");
      const parent = folders.get(path.slice(0, cut));
      if (parent === undefined) throw new Error(`snapshot entry ${path} comes before its folder`);
      const node = parent.node_ops.mknod(parent, path.slice(cut + 1), mode, 0);
      if (data === undefined) {
        folders.set(path, node);
      } else {
        node.contents = data.slice();
        node.usedBytes = data.length;
      }
    }
  }
}

/** A snapshot and the migrations its database had applied. */
export interface TakenSnapshot {
  readonly snapshot: MemorySnapshot;
  readonly migrated: readonly string[];
}

/** What a memory store opening now does about the snapshot of its migration set. */
export type SnapshotClaim =
  /** One is taken, being taken (wait for it), or failed (undefined: open the normal way). */
  | { readonly turn: undefined; readonly taken: Promise<TakenSnapshot | undefined> }
  /** None yet: this store opens the normal way and reports, through `turn`, how taking it went. */
  | { readonly turn: SnapshotTurn };

export interface SnapshotTurn {
  /** Taken: stores opening later (and those waiting now) start from it. */
  keep(taken: TakenSnapshot): void;
  /** Taking it failed: memory stores open the normal way from now on. */
  fail(): void;
  /** The store did not open, so nothing was tried: those waiting open the normal way, the next store takes a turn. */
  abandon(): void;
}

/** Migration set key → its snapshot (or the promise of it; undefined once it failed). */
const snapshots = new Map<string, Promise<TakenSnapshot | undefined>>();

/** The key of a migration set: its names and checksums, in order. */
export function snapshotKey(migrations: readonly { name: string; checksum: string }[]): string {
  const hash = createHash("sha256");
  for (const { name, checksum } of migrations) hash.update(`${name}\0${checksum}\n`);
  return hash.digest("hex");
}

/**
 * The snapshot for `key`, or the turn to take it. Synchronous, so that of the
 * stores opening at once exactly one gets the turn and the others wait for it.
 */
export function claimMemorySnapshot(key: string): SnapshotClaim {
  const existing = snapshots.get(key);
  if (existing !== undefined) return { turn: undefined, taken: existing };
  let settle!: (taken: TakenSnapshot | undefined) => void;
  snapshots.set(key, new Promise((resolve) => (settle = resolve)));
  return {
    turn: {
      keep: (taken) => settle(taken),
      fail: () => {
        snapshots.set(key, Promise.resolve(undefined));
        settle(undefined);
      },
      abandon: () => {
        snapshots.delete(key);
        settle(undefined);
      },
    },
  };
}

/** Starting from `key`'s snapshot failed: drop it, and open memory stores the normal way from now on. */
export function giveUpMemorySnapshot(key: string): void {
  snapshots.set(key, Promise.resolve(undefined));
}
