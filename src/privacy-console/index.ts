/**
 * gate.console(): the privacy officer's page. Per region and period, the
 * consents given and withdrawn, the requests and their deadlines, the writes
 * blocked, the rows purged, the compliance log's check and the privacy
 * budget spent, as server-drawn SVG charts with their tables. No script:
 * a GET form picks the region and the days. Only the role `dpo` sees it.
 */
import express, { type Request, type Response, type Router } from "express";
import { ConsentgateError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { markPassThrough } from "../route-marks.ts";
import { type ConsolePageContext, renderConsole, renderConsoleNotice, renderRequest } from "./page.ts";
import { STYLE } from "./style.ts";
import { type ConsoleViewDeps, loadConsole, loadRequest, parsePeriod } from "./view.ts";

/** What the console needs: what it shows, a logger for what fails, and req.privacy for a console mounted without gate.middleware(). */
export interface PrivacyConsoleDeps extends ConsoleViewDeps {
  readonly logger: Logger;
  readonly privacy: (req: Request) => Request["privacy"];
}

/**
 * The options of `gate.console()` (README: The privacy officer's console).
 *
 * @example
 * ```ts
 * import type { PrivacyConsoleOptions } from "consentgate";
 *
 * const console: PrivacyConsoleOptions = { title: "Tunes: privacy console" };
 * app.use("/privacy-console", gate.console(console));
 * ```
 */
export interface PrivacyConsoleOptions {
  /** The page's title and heading. Default "Privacy console". */
  title?: string;
}

// Nothing but our own stylesheet loads (the charts are inline SVG, styled by it; no script, image or
// font), the form goes only to the console, and nobody may frame it.
const CSP = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function createPrivacyConsole(deps: PrivacyConsoleDeps, options: PrivacyConsoleOptions = {}): Router {
  const title = options.title ?? "Privacy console";
  if (typeof title !== "string" || title.trim() === "")
    throw new ConsentgateError("invalid_option", "console: title must be a non-empty string");
  const router = express.Router();

  // Passes every request on, so the write gate's route scan looks past it to this router's (read-only) routes.
  router.use(
    markPassThrough((_req: Request, res: Response, next) => {
      res.set({
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
      });
      next();
    }),
  );
  router.get("/assets/console.css", (_req, res) => {
    res.set("Cache-Control", "no-cache").type("text/css; charset=utf-8").send(STYLE);
  });

  const page =
    (render: (req: Request, ctx: ConsolePageContext, region: string) => Promise<[number, string]>) =>
    (req: Request, res: Response) => {
      // Compliance data of everyone: never kept by a shared cache.
      res.set("Cache-Control", "no-store").type("html");
      const ctx = { title, base: req.baseUrl };
      (async () => {
        const privacy = (req.privacy ??= deps.privacy(req));
        if (privacy.actor === undefined) {
          res
            .status(401)
            .send(
              renderConsoleNotice(ctx, "Sign in", "Sign in as a data protection officer to see the privacy console."),
            );
          return;
        }
        if (!privacy.actor.roles.includes("dpo")) {
          res
            .status(403)
            .send(
              renderConsoleNotice(
                ctx,
                "Not for you",
                "The privacy console is for the role dpo (the data protection officer).",
              ),
            );
          return;
        }
        const [status, body] = await render(req, ctx, privacy.region);
        res.status(status).send(body);
      })().catch((error: unknown) => {
        if (error instanceof ConsentgateError && error.code === "invalid_body") {
          res.status(400).send(renderConsoleNotice(ctx, "Check the period", `${error.message}.`, `${ctx.base}/`));
          return;
        }
        deps.logger.error({ err: error }, "consentgate: the privacy console could not be rendered");
        res
          .status(503)
          .send(
            renderConsoleNotice(
              ctx,
              "Not available",
              "The console cannot be shown right now; please try again in a moment.",
            ),
          );
      });
    };

  router.get(
    "/",
    page(async (req, ctx, region) => {
      // The signed-in officer's own region first, when the policy has it by that name.
      const fallback = Object.hasOwn(deps.policy.regions, region) ? region : deps.policy.defaults.region;
      const period = parsePeriod(req.query, deps.policy, fallback, deps.now());
      return [200, renderConsole(await loadConsole(deps, period), ctx)];
    }),
  );

  router.get(
    "/requests/:id",
    page(async (req, ctx) => {
      const details = await loadRequest(deps, String(req.params.id));
      if (details === undefined)
        return [404, renderConsoleNotice(ctx, "No such request", "No request has this id.", `${ctx.base}/`)];
      // Back to the period the officer came from, when the link said which.
      let back = `?region=${encodeURIComponent(details.request.region)}`;
      try {
        const period = parsePeriod(req.query, deps.policy, details.request.region, deps.now());
        back = `?region=${encodeURIComponent(period.region)}&from=${period.firstDay}&to=${period.lastDay}`;
      } catch {
        // A hand-made link with a bad period still shows the request; back goes to the default period.
      }
      return [200, renderRequest(details, ctx, back)];
    }),
  );
  return router;
}
