/**
 * The music service, built apart from listening so tests can drive it with
 * supertest. Read this file top to bottom: it is how an Express app mounts
 * Consentgate.
 */
import { fileURLToPath } from "node:url";
import express, { type Express } from "express";
import { type Consentgate, createConsentgate } from "consentgate";
import { TRACKS, recommend, trackById } from "./catalog.ts";
import { HOME_SCRIPT, HOME_STYLE, deviceScript, homePage, signInPage } from "./home.ts";
import { signIn } from "./sign-in.ts";

export interface MusicGateOptions {
  /** postgres://…; absent → embedded PGlite in ./.consentgate/; "memory" → in memory. */
  database?: string;
  secret?: string;
  jobs?: boolean;
}

/** Where gate.router() is mounted: the consent choices, and the learning routes the on-device mode uses. */
const PRIVACY_API = "/privacy";

// The app's own pages load scripts, styles and data from this origin only (the privacy center sets its own).
// The on-device mode imports the recommender from {router}/learning/client.js, the same origin, so no
// 'unsafe-inline', no other host and no 'wasm-unsafe-eval' are needed.
const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

export async function createMusicGate(options: MusicGateOptions): Promise<Consentgate> {
  const gate = await createConsentgate({
    // The policy shipped with the package, found from this file so any working directory will do.
    policies: fileURLToPath(new URL("../../policies", import.meta.url)),
    database: options.database,
    subject: (req) => req.user?.id,
    actor: (req) => req.user,
    region: (req) => req.user?.region,
    secret: options.secret,
    jobs: options.jobs ?? false,
  });
  try {
    // The on-device purpose's model (policies/purposes.yaml, learning: recommender) learns one vector per
    // track of the catalogue; devices download it to recommend and send back only clipped changes of it.
    await gate.learning.define("recommender", { items: () => TRACKS.map((t) => t.id) });
  } catch (error) {
    await gate.close();
    throw error;
  }
  return gate;
}

export function createMusicApp(gate: Consentgate): Express {
  const app = express();
  // What everyone plays, learned with differential privacy (policies/purposes.yaml, insights: popular).
  const popular = async () => (await gate.insights.latest("popular", { k: 50 }))?.keys.map(({ key }) => key) ?? [];
  app.use(express.urlencoded({ extended: false, limit: "2kb" }));
  app.use(signIn);
  // Only the app's own API: the privacy router parses its bodies itself, and sizes the parser of a learning
  // update by the model (a delta is items × dimensions floats), which an app-wide 8 kB limit would cut short.
  app.use("/api", express.json({ limit: "8kb" }));
  app.use(gate.middleware());

  app.get("/", async (req, res) => {
    res.set("Content-Security-Policy", CSP);
    if (!req.user) return void res.send(signInPage());
    const recent = await req.privacy.recent("personalization");
    // On-device mode is the listener's own choice (a consent receipt), never a region's default: in an
    // opt-out region the purpose is allowed for everyone, and they keep the server-side mode until they choose.
    const onDevice = await req.privacy.decide("on-device");
    res.send(
      homePage(req.user, recommend(recent, 5, await popular()), {
        personalized: await req.privacy.can("personalization"),
        onDevice: onDevice.allowed && onDevice.receiptId !== undefined,
      }),
    );
  });
  app.get("/home.js", (_req, res) => void res.type("text/javascript").send(HOME_SCRIPT));
  app.get("/device.js", (_req, res) => void res.type("text/javascript").send(deviceScript(PRIVACY_API)));
  app.get("/home.css", (_req, res) => void res.type("text/css").send(HOME_STYLE));
  // Browsers ask for it on every page; an empty answer keeps their consoles clean.
  app.get("/favicon.ico", (_req, res) => void res.status(204).end());

  // Gated in code: the handler runs only when personalization is allowed, and sees the minimized body.
  app.post("/api/plays", gate.purpose("personalization"), async (req, res) => {
    if (!trackById.has(req.body.itemId))
      return void res.status(404).json({ error: { code: "not_found", message: "no such track" } });
    await req.privacy.record("play", req.body);
    res.status(201).json({ recorded: req.body });
  });

  // Gated by the policy instead: routes.yaml maps POST /api/likes to personalization.
  app.post("/api/likes", async (req, res) => {
    if (!trackById.has(req.body.itemId))
      return void res.status(404).json({ error: { code: "not_found", message: "no such track" } });
    await req.privacy.record("like", req.body);
    res.status(201).json({ recorded: req.body });
  });

  // Reads pass the gate; recent() is empty when personalization is not allowed, so cold start and no consent look alike.
  app.get("/api/recommendations", async (req, res) => {
    res.json(recommend(await req.privacy.recent("personalization"), 5, await popular()));
  });

  app.use(PRIVACY_API, gate.router());
  app.use("/privacy-center", gate.privacyCenter({ api: PRIVACY_API, title: "Your privacy at Tunes", signIn: "/" }));
  app.use(gate.errorHandler());
  return app;
}
