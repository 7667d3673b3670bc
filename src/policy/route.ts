/**
 * Route keys of the `routes:` map ("POST /api/plays/:id"), compiled with the
 * same pattern syntax Express 5 uses (path-to-regexp 8), so a route matches in
 * the policy exactly when it matches in the host app.
 */
import { METHODS } from "node:http";
import { pathToRegexp } from "path-to-regexp";
import type { Route, WriteMethod } from "./types.ts";

/** Every method Node accepts except the reads: what the gate treats as a write. */
const READ_METHODS: readonly string[] = ["GET", "HEAD", "OPTIONS"];
const WRITE_METHODS: readonly string[] = METHODS.filter((method) => !READ_METHODS.includes(method));
const FORMAT = `write routes as "METHOD /path" with METHOD one of POST, PUT, PATCH, DELETE or another write method (any but GET, HEAD, OPTIONS), e.g. "POST /api/plays/:id"`;

/** The compiled route, or a message saying why the key is not one. */
export function parseRoute(key: string, purpose: string): Route | string {
  const parts = key.trim().split(/\s+/);
  const [method = "", path = ""] = parts;
  if (parts.length !== 2) return FORMAT;
  if (!WRITE_METHODS.includes(method)) {
    if (WRITE_METHODS.includes(method.toUpperCase()))
      return `write the method in capitals: "${method.toUpperCase()} ${path}"`;
    if (READ_METHODS.includes(method.toUpperCase()))
      return `"${method}" is not a write method: GET, HEAD and OPTIONS requests are reads and always pass; every other method is gated`;
    return `"${method}" is not an HTTP method Node accepts; write methods are POST, PUT, PATCH, DELETE and the others but GET, HEAD, OPTIONS`;
  }
  if (!path.startsWith("/")) return `the path must start with "/"; ${FORMAT}`;
  let pattern: RegExp;
  try {
    // The regular expression path-to-regexp's match() runs: matching is all the gate needs (no parameters to decode),
    // and test() allocates nothing per request. Never global or sticky, so test() keeps no state between calls.
    pattern = pathToRegexp(path).regexp;
  } catch (error) {
    // path-to-regexp appends a link to its docs after ";", which is noise in a policy check.
    const reason = (error as Error).message.split("; visit")[0];
    return `the path pattern is not valid: ${reason} (patterns use Express 5 syntax: /plays/:id, /files/*path, /items{/:id})`;
  }
  return { method: method as WriteMethod, path, purpose, matches: (candidate) => pattern.test(candidate) };
}
