/**
 * The GPC support resource: `/.well-known/gpc.json`, where a site states
 * that it honours Global Privacy Control (W3C Global Privacy Control,
 * section "GPC Support Resource" and its "GPC Support Representation":
 * served as `application/json`, a JSON object whose `gpc` member is `true`
 * and whose `lastUpdate` member is an RFC 3339 `full-date`, the day the
 * statement was made). Served only when the policy gives GPC a meaning in
 * some region: a site whose rules ignore the signal must not claim it.
 */
import express, { type Router } from "express";
import { ConsentgateError, sendError } from "../errors.ts";
import { isFullDate } from "../policy/schema.ts";
import type { Policy } from "../policy/types.ts";
import { markPassThrough } from "../route-marks.ts";

export const GPC_SUPPORT_PATH = "/.well-known/gpc.json";

/** What /.well-known/gpc.json holds; exactly these two members. */
export interface GpcSupport {
  gpc: true;
  lastUpdate: string;
}

/** A day: the statement need not be fetched more than daily, and a policy change reaches readers within one. */
const CACHE_CONTROL = "public, max-age=86400";

/**
 * The statement the policy supports, or undefined when no region gives GPC
 * a meaning. `lastUpdate` is the policy's `gpcLastUpdate`, else its
 * `version` when that is a date.
 *
 * @throws {ConsentgateError} `policy_invalid` when a region honours GPC and
 * neither gives a date: the day the statement was made is part of it (what
 * the site claimed, and since when), so a day made up here (the start-up
 * time, say) would misstate it on every restart.
 */
export function gpcSupport(policy: Policy): GpcSupport | undefined {
  const honouring = Object.values(policy.regions).filter((region) => region.gpc === "opt-out-of-sale-or-share");
  if (honouring.length === 0) return undefined;
  const lastUpdate = policy.gpcLastUpdate ?? (isFullDate(policy.version) ? policy.version : undefined);
  if (lastUpdate === undefined) {
    const regions = honouring.map((region) => region.name).join(", ");
    const problem = `gpcLastUpdate: is missing; the policy's version ${JSON.stringify(policy.version)} is not a date, and ${regions} honour${honouring.length === 1 ? "s" : ""} GPC: give the day the site last stated it honours GPC, e.g. gpcLastUpdate: "2026-11-01"`;
    throw new ConsentgateError("policy_invalid", `policy is invalid:\n${problem}`, { problems: [problem] });
  }
  return { gpc: true, lastUpdate };
}

/** GET and HEAD /.well-known/gpc.json: the statement, or 404 not_found when the policy gives none. */
export function createWellKnownRouter(policy: Policy): Router {
  const support = gpcSupport(policy);
  const router = express.Router();
  router.get(GPC_SUPPORT_PATH, (_req, res) => {
    if (support === undefined) {
      return sendError(
        res,
        new ConsentgateError("not_found", "this site's policy gives Global Privacy Control no meaning in any region"),
      );
    }
    res.set("Cache-Control", CACHE_CONTROL).json(support);
  });
  // Mounted at the app's root, it sees every request: writes, which it never answers, go on as they came.
  return markPassThrough(router);
}
