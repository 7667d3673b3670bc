/**
 * Fake sign-in, so several listeners in several regions can try the example:
 * pick a name and a region, and a cookie remembers them. A real app has its
 * own authentication; Consentgate only asks it who the user is (the
 * `subject` option) and where they are (the `region` option).
 *
 * DEMO ONLY: anyone may tick "privacy officer" and get the role `dpo`, which
 * opens the privacy console (every region's compliance data). A real app
 * gives that role to the people it has made its data protection officers.
 */
import type { RequestHandler } from "express";

export interface Listener {
  id: string;
  /** An ISO 3166 code such as DE or US-CA; a real app would take it from a header such as cf-ipcountry. */
  region: string;
  roles: string[];
}

declare global {
  namespace Express {
    interface Request {
      user?: Listener;
    }
  }
}

/** The regions offered on the sign-in form; the last two fall back to the policy's default (strictest) region. */
export const REGIONS: readonly { code: string; label: string }[] = [
  { code: "DE", label: "Germany (EU, GDPR)" },
  { code: "FR", label: "France (EU, GDPR)" },
  { code: "GB", label: "United Kingdom (UK GDPR)" },
  { code: "US-CA", label: "California (CCPA)" },
  { code: "US-CO", label: "Colorado (CPA)" },
  { code: "US-NY", label: "New York (no region in the policy)" },
  { code: "JP", label: "Japan (no region in the policy)" },
];

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const COOKIE = "listener";
/** The role gate.console() opens to. */
const DPO = "dpo";

function parse(value: string | undefined): Listener | undefined {
  let text: string;
  try {
    text = decodeURIComponent(value ?? "");
  } catch {
    return undefined;
  }
  const [id, region, role, ...rest] = text.split("|");
  if (id === undefined || !NAME.test(id) || !REGIONS.some((r) => r.code === region)) return undefined;
  if (rest.length > 0 || (role !== undefined && role !== "" && role !== DPO)) return undefined;
  return { id, region: region!, roles: role === DPO ? [DPO] : [] };
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

/**
 * Sets req.user from the cookie, and answers POST /signin and POST /signout.
 * Mounted before gate.middleware(): signing in is the app's own business,
 * not data collected for one of the policy's purposes.
 */
export const signIn: RequestHandler = (req, res, next) => {
  req.user = parse(cookie(req.headers.cookie, COOKIE));
  if (req.method === "POST" && req.path === "/signin") {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const listener = parse(
      `${String(body["name"] ?? "")
        .trim()
        .toLowerCase()}|${String(body["region"] ?? "")}|${body["dpo"] === "on" ? DPO : ""}`,
    );
    if (!listener) {
      res.status(400).type("text").send("Pick a name (letters, digits, - or _, starting with a letter) and a region.");
      return;
    }
    res
      .cookie(COOKIE, `${listener.id}|${listener.region}|${listener.roles.join("")}`, {
        httpOnly: true,
        sameSite: "lax",
        path: "/",
      })
      .redirect(303, "/");
    return;
  }
  if (req.method === "POST" && req.path === "/signout") {
    res.clearCookie(COOKIE, { path: "/" }).redirect(303, "/");
    return;
  }
  next();
};
