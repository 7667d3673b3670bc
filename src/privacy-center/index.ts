/**
 * gate.privacyCenter(): a drop-in page where a signed-in user sees and
 * changes their choices, downloads their data, erases it, and follows their
 * requests. Server-rendered; the script and stylesheet are same-origin files
 * so the page runs under `default-src 'self'`, and it loads nothing from
 * anywhere else.
 */
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import { ConsentgateError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { markPassThrough } from "../route-marks.ts";
import { SCRIPT } from "./assets/script.ts";
import { STYLE } from "./assets/style.ts";
import { renderCenter, renderNotice } from "./page.ts";
import { type ViewDeps, loadView } from "./view.ts";

/** What the page needs: what it shows, a logger for what fails, and req.privacy for a page mounted without gate.middleware(). */
export interface PrivacyCenterDeps extends ViewDeps {
  readonly logger: Logger;
  /** Builds req.privacy (gate.middleware() does the same). */
  readonly privacy: (req: Request) => Request["privacy"];
}

/**
 * The options of `gate.privacyCenter()` (README: The privacy center).
 *
 * @example
 * ```ts
 * import type { PrivacyCenterOptions } from "consentgate";
 *
 * const center: PrivacyCenterOptions = { api: "/privacy", title: "Your privacy at Tunes", signIn: "/login", latest: 50 };
 * app.use("/privacy", gate.router());
 * app.use("/privacy-center", gate.privacyCenter(center));
 * ```
 */
export interface PrivacyCenterOptions {
  /** Where gate.router() is mounted (a path on this origin). Default "/privacy". */
  api?: string;
  /** The page's title and heading. Default "Your privacy choices". */
  title?: string;
  /** Where anonymous visitors are sent to sign in; without it they are only told to. */
  signIn?: string;
  /** How many of the newest receipts and requests the page lists (1-500); the download holds them all. Default 20. */
  latest?: number;
}

const DEFAULT_LATEST = 20;
const MAX_LATEST = 500;

// frame-ancestors: nobody may frame the erase button to trick a click on it.
const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function createPrivacyCenter(deps: PrivacyCenterDeps, options: PrivacyCenterOptions = {}): Router {
  const api = (options.api ?? "/privacy").replace(/\/+$/, "");
  if (!/^\/[^/\\]/.test(api)) {
    throw new ConsentgateError(
      "invalid_option",
      `privacyCenter: api must be the path gate.router() is mounted at on this origin, e.g. "/privacy", not "${options.api}"`,
    );
  }
  const latest = options.latest ?? DEFAULT_LATEST;
  if (!Number.isInteger(latest) || latest < 1 || latest > MAX_LATEST) {
    throw new ConsentgateError(
      "invalid_option",
      `privacyCenter: latest must be a whole number from 1 to ${MAX_LATEST}, not ${String(options.latest)}`,
    );
  }
  const title = options.title ?? "Your privacy choices";
  const router = express.Router();

  // Passes every request on, so the write gate's route scan looks past it to this router's (read-only) routes.
  router.use(
    markPassThrough((_req: Request, res: Response, next: NextFunction) => {
      res.set({
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
      });
      next();
    }),
  );
  router.get("/assets/center.js", (_req, res) => asset(res, "text/javascript", SCRIPT));
  router.get("/assets/center.css", (_req, res) => asset(res, "text/css", STYLE));

  router.get("/", async (req, res) => {
    // Personal data: never kept by a shared cache or the back/forward cache of another user's session.
    res.set("Cache-Control", "no-store").type("html");
    const ctx = { title, api, base: req.baseUrl };
    try {
      const privacy = (req.privacy ??= deps.privacy(req));
      if (privacy.subject === undefined) {
        const link = options.signIn === undefined ? undefined : { href: options.signIn, text: "Sign in" };
        res
          .status(401)
          .send(
            renderNotice(
              ctx,
              "Sign in to see and change your privacy choices. This page shows what we hold about you, so we need to know who you are first.",
              link,
            ),
          );
        return;
      }
      const view = await loadView(deps, privacy.subject, { region: privacy.region, gpc: privacy.signals.gpc }, latest);
      res.send(renderCenter(view, ctx));
    } catch (error) {
      deps.logger.error({ err: error }, "consentgate: the privacy center could not be rendered");
      res
        .status(503)
        .send(
          renderNotice(
            ctx,
            "Your privacy choices cannot be shown right now. Nothing was changed; please try again in a moment.",
          ),
        );
    }
  });
  return router;
}

function asset(res: Response, type: string, body: string): void {
  res.set("Cache-Control", "no-cache").type(`${type}; charset=utf-8`).send(body);
}
