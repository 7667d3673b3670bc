/**
 * The music app's own models behind the gate, for the tests of the data
 * layer's rights and retention: a test gate under a policy where `library`
 * (contract, no window) holds listeners and playlists and `personalization`
 * (consent, a window of 3 for 90 days) holds likes, the host's client
 * (host.ts) extended with gate.prismaExtension(), and a host app whose routes
 * write through it.
 */
import type { Express } from "express";
import type { Consentgate, ConsentgateOptions, PrismaExtensionOptions } from "../../src/index.ts";
import { handled, hostApp, testGate } from "./app.ts";
import { type TestDatabase, testDatabase } from "./database.ts";
import { hostDatabase, type PrismaClient } from "./host.ts";
import { testPolicy } from "./policy.ts";
import type { Scope } from "./scope.ts";

/** The mapping every test gates the music app's models with. */
export const MUSIC_MODELS = {
  Listener: { purpose: "library", subject: "id" },
  Playlist: { purpose: "library", subject: "listenerId", createdAt: "createdAt" },
  PlaylistTrack: { purpose: "library", subject: "listenerId", createdAt: "createdAt" },
  Like: { purpose: "personalization", subject: "listenerId", createdAt: "createdAt" },
} satisfies PrismaExtensionOptions["models"];

/**
 * The test policy with `library` and personalization's window at 3. Writes
 * no purpose maps pass the HTTP gate (`unmappedWrites: allow`), so the
 * music routes meet the gate in the data layer only.
 */
export function musicPolicy(overrides: { personalization?: Record<string, unknown> } = {}): Record<string, unknown> {
  return testPolicy({
    purposes: {
      library: {
        description: "Keep the playlists the listener made",
        legalBasis: "contract",
        fields: { name: { maxLength: 100 }, itemId: "keep", position: "keep" },
      },
      personalization: { window: 3, ...overrides.personalization },
    },
    defaults: { region: "EU", unmappedWrites: "allow" },
  });
}

const extend = (host: PrismaClient, gate: Consentgate) => host.$extends(gate.prismaExtension({ models: MUSIC_MODELS }));

/** The host's client, extended: every write to a mapped model meets the gate. */
export type GatedClient = ReturnType<typeof extend>;

export interface GatedMusic {
  gate: Consentgate;
  app: Express;
  /** The extended client the app writes through. */
  music: GatedClient;
  /** The same database through the plain client: what is really there. */
  host: PrismaClient;
}

/**
 * A gate (on `database`, else a fresh test database) and the music app's
 * database (the same one on PostgreSQL), closed when `scope` ends. Routes:
 * POST /api/likes {itemId} likes an item as the signed-in listener; POST
 * /api/playlists {name, tracks: [itemId…]} makes a playlist (and the
 * listener, the first time).
 */
export async function gatedMusic(
  scope: Scope,
  {
    database,
    options = {},
    routes,
  }: {
    database?: TestDatabase;
    options?: ConsentgateOptions;
    /** More of the host's routes, mounted after these two, writing through `music`. */
    routes?: (app: Express, music: GatedClient) => void;
  } = {},
): Promise<GatedMusic> {
  const db = database ?? (await testDatabase(scope));
  const gate = await testGate(scope, { policies: musicPolicy(), ...options, database: db.option });
  const host = await hostDatabase(scope, db);
  const music = extend(host, gate);
  const app = hostApp(gate, (app) => {
    app.post(
      "/api/likes",
      handled(async (req, res) => {
        const like = await music.like.create({ data: { listenerId: req.privacy.subject!, itemId: req.body.itemId } });
        res.status(201).json(like);
      }),
    );
    app.post(
      "/api/playlists",
      handled(async (req, res) => {
        const listenerId = req.privacy.subject!;
        await music.listener.upsert({ where: { id: listenerId }, create: { id: listenerId }, update: {} });
        const tracks = (req.body.tracks as string[]).map((itemId, position) => ({ listenerId, itemId, position }));
        const playlist = await music.playlist.create({
          data: { listenerId, name: req.body.name, tracks: { create: tracks } },
          include: { tracks: true },
        });
        res.status(201).json(playlist);
      }),
    );
    routes?.(app, music);
  });
  return { gate, app, music, host };
}
