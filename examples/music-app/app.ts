/**
 * The music service, built apart from listening so tests can drive it with
 * supertest. Read this file top to bottom: it is how an Express app mounts
 * Consentgate, and gates the writes it makes to its own tables.
 */
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import express, { type Express, type Request, type RequestHandler, type Response } from "express";
import { type Consentgate, type PrismaExtensionOptions, createConsentgate } from "consentgate";
import { type Heard, TRACKS, recommend, trackById } from "./catalog.ts";
import { type MusicDatabase, openMusicDatabase } from "./database.ts";
import type { Playlist, PlaylistTrack, PrismaClient } from "./generated/prisma/client.ts";
import {
  HOME_SCRIPT,
  HOME_STYLE,
  PLAYLISTS_SCRIPT,
  type PlaylistView,
  deviceScript,
  homePage,
  signInPage,
} from "./home.ts";
import { signIn } from "./sign-in.ts";

export interface MusicGateOptions {
  /**
   * postgres://…; absent → embedded PGlite (Consentgate's in ./.consentgate/, the app's own tables in
   * ./.music-app/); "memory" → in memory.
   */
  database?: string;
  /**
   * Where the app's own tables are, when not where `database` says (a PostgreSQL database they share
   * with Consentgate, or PGlite beside it): a value of the same kind, or an open PGlite its caller
   * closes after close() (tests pass one that holds the migrated tables already).
   */
  music?: string | PGlite;
  secret?: string;
  jobs?: boolean;
  /** The gate's clock (default: the system's); tests move it to show a request's deadline passing. */
  now?: () => Date;
}

/**
 * The app's own models and the purpose each row is collected for (policies/purposes.yaml). Every write
 * to them through the extended client is decided for the listener it names, minimized by the purpose's
 * field rules, and refused for anyone but the listener signed in.
 */
const GATED_MODELS = {
  // A like feeds recommendations, like a play: personalization, kept to its window and retention by createdAt.
  Like: { purpose: "personalization", subject: "listenerId", createdAt: "createdAt" },
  // Playlists, their tracks and the listener's row they hang off are the listener's library.
  Playlist: { purpose: "library", subject: "listenerId", createdAt: "createdAt" },
  PlaylistTrack: { purpose: "library", subject: "listenerId", createdAt: "createdAt" },
  Listener: { purpose: "library", subject: "id" },
} satisfies PrismaExtensionOptions["models"];

const gated = (client: PrismaClient, gate: Consentgate) =>
  client.$extends(gate.prismaExtension({ models: GATED_MODELS }));

/** The app's Prisma client with its writes to the gated models passing the gate. */
export type MusicClient = ReturnType<typeof gated>;

/** What the server starts: the gate, and the app's own database behind it. */
export interface MusicService {
  gate: Consentgate;
  /** The app's client, extended by the gate: every write the app makes to its tables goes through it. */
  db: MusicClient;
  /** The app's database as opened, its client not extended: what tests read to see what is really stored. */
  music: MusicDatabase;
  /** Closes the app's database, then the gate. */
  close(): Promise<void>;
}

/** Where gate.router() is mounted: the consent choices, and the learning routes the on-device mode uses. */
const PRIVACY_API = "/privacy";

// The app's own pages load scripts, styles and data from this origin only (the privacy center sets its own).
// The on-device mode imports the recommender from {router}/learning/client.js, the same origin, so no
// 'unsafe-inline', no other host and no 'wasm-unsafe-eval' are needed.
const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/** A playlist holds 1 to this many tracks. */
const MAX_PLAYLIST_TRACKS = 50;

export async function createMusicGate(options: MusicGateOptions): Promise<MusicService> {
  const gate = await createConsentgate({
    // The policy shipped with the package, found from this file so any working directory will do.
    policies: fileURLToPath(new URL("../../policies", import.meta.url)),
    database: options.database,
    subject: (req) => req.user?.id,
    actor: (req) => req.user,
    region: (req) => req.user?.region,
    secret: options.secret,
    jobs: options.jobs ?? false,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  let music: MusicDatabase | undefined;
  try {
    // The on-device purpose's model (policies/purposes.yaml, learning: recommender) learns one vector per
    // track of the catalogue; devices download it to recommend and send back only clipped changes of it.
    await gate.learning.define("recommender", { items: () => TRACKS.map((t) => t.id) });
    // After the gate: its lock on ./.consentgate/ keeps a second app in this folder off the embedded files.
    music = await openMusicDatabase(options.music ?? options.database);
    // Checked against the app's schema here, at start-up: a model or field the mapping names wrongly stops it.
    const db = gated(music.client, gate);
    const opened = music;
    return {
      gate,
      db,
      music: opened,
      close: async () => {
        // The app's client calls into the gate on every write: it closes first, so none reaches a closed gate.
        try {
          await opened.close();
        } finally {
          await gate.close();
        }
      },
    };
  } catch (error) {
    try {
      await music?.close();
    } finally {
      await gate.close();
    }
    throw error;
  }
}

/**
 * An async handler whose rejection reaches the error handlers below (gate.errorHandler() answers a
 * refused write with its 403). Express 5 passes a rejected handler's error on by itself; Express 4
 * would leave it unhandled and the request without an answer.
 */
const handle =
  (handler: (req: Request, res: Response) => Promise<void>): RequestHandler =>
  (req, res, next) => {
    handler(req, res).catch(next);
  };

/** The app's own JSON error, in the gate's shape, so the page shows both alike. */
const fail = (res: Response, status: number, code: string, message: string) =>
  void res.status(status).json({ error: { code, message } });

/** Likes and playlists belong to someone: anonymous callers are answered 401 before anything is read or written. */
const signedIn: RequestHandler = (req, res, next) =>
  req.user ? next() : fail(res, 401, "unauthenticated", "sign in first");

export function createMusicApp({ gate, db }: Pick<MusicService, "gate" | "db">): Express {
  const app = express();
  // What everyone plays, learned with differential privacy (policies/purposes.yaml, insights: popular).
  const popular = async () => (await gate.insights.latest("popular", { k: 50 }))?.keys.map(({ key }) => key) ?? [];
  // The purge job trims each listener's likes to this many (policies/purposes.yaml); reads never see more.
  const likesWindow = gate.policy.purposes["personalization"]?.window ?? 0;

  /** The listener's likes, newest first: none when personalization is not allowed now, as recent() does for plays. */
  async function likedBy(req: Request): Promise<string[]> {
    if (!req.user || !(await req.privacy.can("personalization"))) return [];
    const likes = await db.like.findMany({
      where: { listenerId: req.user.id },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: likesWindow,
      select: { itemId: true },
    });
    return likes.map(({ itemId }) => itemId);
  }

  /** What recommendations read: the plays Consentgate keeps, and the likes in the app's own table. */
  async function listening(req: Request, liked: readonly string[]): Promise<Heard[]> {
    const plays = await req.privacy.recent("personalization");
    return [...plays, ...liked.map((itemId) => ({ kind: "like", data: { itemId } }))];
  }

  async function playlistsOf(listenerId: string): Promise<PlaylistView[]> {
    const playlists = await db.playlist.findMany({
      where: { listenerId },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      include: { tracks: { orderBy: { position: "asc" } } },
    });
    return playlists.map(playlistView);
  }

  // /.well-known/gpc.json: Tunes states that it honours GPC (the US-CA region gives the signal its meaning),
  // dated by the policy's version. At the root, before sign-in: the statement is the same for everyone.
  app.use(gate.wellKnown());
  app.use(express.urlencoded({ extended: false, limit: "2kb" }));
  app.use(signIn);
  // Only the app's own API: the privacy router parses its bodies itself, and sizes the parser of a learning
  // update by the model (a delta is items × dimensions floats), which an app-wide 8 kB limit would cut short.
  app.use("/api", express.json({ limit: "8kb" }));
  app.use(gate.middleware());

  app.get(
    "/",
    handle(async (req, res) => {
      res.set("Content-Security-Policy", CSP);
      if (!req.user) return void res.send(signInPage());
      const liked = await likedBy(req);
      // On-device mode is the listener's own choice (a consent receipt), never a region's default: in an
      // opt-out region the purpose is allowed for everyone, and they keep the server-side mode until they choose.
      const onDevice = await req.privacy.decide("on-device");
      res.send(
        homePage(
          req.user,
          recommend(await listening(req, liked), 5, await popular()),
          {
            personalized: await req.privacy.can("personalization"),
            onDevice: onDevice.allowed && onDevice.receiptId !== undefined,
          },
          { playlists: await playlistsOf(req.user.id), liked: new Set(liked) },
        ),
      );
    }),
  );
  app.get("/home.js", (_req, res) => void res.type("text/javascript").send(HOME_SCRIPT));
  app.get("/device.js", (_req, res) => void res.type("text/javascript").send(deviceScript(PRIVACY_API)));
  app.get("/playlists.js", (_req, res) => void res.type("text/javascript").send(PLAYLISTS_SCRIPT));
  app.get("/home.css", (_req, res) => void res.type("text/css").send(HOME_STYLE));
  // Browsers ask for it on every page; an empty answer keeps their consoles clean.
  app.get("/favicon.ico", (_req, res) => void res.status(204).end());

  // Gated in code: the handler runs only when personalization is allowed, and sees the minimized body.
  app.post(
    "/api/plays",
    gate.purpose("personalization"),
    handle(async (req, res) => {
      if (!trackById.has(req.body.itemId)) return fail(res, 404, "not_found", "no such track");
      await req.privacy.record("play", req.body);
      res.status(201).json({ recorded: req.body });
    }),
  );

  // Gated by the policy (routes.yaml maps POST /api/likes to personalization), and kept in the app's own
  // likes table: the extension decides the write again for the listener it names, and minimizes it.
  app.post(
    "/api/likes",
    signedIn,
    handle(async (req, res) => {
      if (!trackById.has(req.body.itemId)) return fail(res, 404, "not_found", "no such track");
      const like = await db.like.create({ data: { listenerId: req.user!.id, itemId: req.body.itemId } });
      res.status(201).json({ like });
    }),
  );

  // Reads pass the gate; they are empty when personalization is not allowed, so cold start and no consent look alike.
  app.get(
    "/api/recommendations",
    handle(async (req, res) => {
      res.json(recommend(await listening(req, await likedBy(req)), 5, await popular()));
    }),
  );

  // routes.yaml maps POST /api/playlists to library: the body arrives minimized (the name cut to 100
  // characters), and the writes below are decided and minimized again, row by row, by the extension.
  app.post(
    "/api/playlists",
    signedIn,
    handle(async (req, res) => {
      const { name, tracks } = req.body as { name?: unknown; tracks?: unknown };
      const problem = playlistProblem(name, tracks);
      if (problem) return fail(res, 400, "invalid_body", problem);
      const listenerId = req.user!.id;
      // A playlist hangs off its listener's row (deleting the listener deletes their playlists): made with the first.
      await db.listener.upsert({ where: { id: listenerId }, create: { id: listenerId }, update: {} });
      const playlist = await db.playlist.create({
        data: {
          listenerId,
          name: name as string,
          tracks: { create: (tracks as string[]).map((itemId, position) => ({ listenerId, itemId, position })) },
        },
        include: { tracks: { orderBy: { position: "asc" } } },
      });
      res.status(201).json({ playlist: playlistView(playlist) });
    }),
  );

  app.get(
    "/api/playlists",
    signedIn,
    handle(async (req, res) => {
      res.json({ playlists: await playlistsOf(req.user!.id) });
    }),
  );

  app.use(PRIVACY_API, gate.router());
  app.use("/privacy-center", gate.privacyCenter({ api: PRIVACY_API, title: "Your privacy at Tunes", signIn: "/" }));
  // For the role dpo (the sign-in's demo-only "privacy officer" box): every region's compliance data.
  app.use("/privacy-console", gate.console({ title: "Tunes: privacy console" }));
  app.use(gate.errorHandler());
  return app;
}

/** A playlist as the API and the page show it: its tracks as track ids, in order. */
const playlistView = (playlist: Playlist & { tracks: PlaylistTrack[] }): PlaylistView => ({
  id: playlist.id,
  name: playlist.name,
  createdAt: playlist.createdAt,
  tracks: playlist.tracks.map((track) => track.itemId),
});

/** Why a playlist cannot be made from this body, or undefined when it can. */
function playlistProblem(name: unknown, tracks: unknown): string | undefined {
  // A longer name never gets here: the gate cut it to the library purpose's 100 characters.
  if (typeof name !== "string" || name.trim() === "") return "name: 1-100 characters";
  if (!Array.isArray(tracks) || tracks.length === 0 || tracks.length > MAX_PLAYLIST_TRACKS)
    return `tracks: a list of 1-${MAX_PLAYLIST_TRACKS} track ids`;
  const unknown = tracks.find((id) => typeof id !== "string" || !trackById.has(id));
  if (unknown !== undefined) return `tracks: no such track ${JSON.stringify(unknown)}`;
  return undefined;
}
