/**
 * The OpenAPI 3.1 description of gate.router() (`gate.openapi()`, and
 * `GET /openapi.json` on the router), rendered by zod-openapi from the route
 * table (routes.ts) and the schemas the code validates and answers with.
 *
 * Paths are relative to where the host mounts the router; the mount is the
 * document's one server (`servers: [{ url: basePath }]`), so a client
 * generator joins them as the router does.
 */
import { createDocument } from "zod-openapi";
import { ConsentgateError, HTTP_STATUS, type HttpErrorCode } from "../errors.ts";
import { BODY_ERRORS, type Caller, ROUTES, type RouteDescription } from "./routes.ts";
import { errorBody } from "./schemas.ts";

/**
 * What `gate.openapi()` takes.
 *
 * @example
 * ```ts
 * import type { OpenApiOptions } from "consentgate";
 *
 * const options: OpenApiOptions = { basePath: "/privacy" };
 * const document = gate.openapi(options);
 * ```
 */
export interface OpenApiOptions {
  /**
   * Where the host mounts `gate.router()` (a path, or an absolute URL), written as the document's
   * server; the paths are relative to it. Default "/": a client joins the paths to its own base URL.
   */
  basePath?: string;
}

/**
 * An OpenAPI 3.1 document, as plain JSON-ready data.
 *
 * @example
 * ```ts
 * import type { OpenApiDocument } from "consentgate";
 *
 * const document: OpenApiDocument = gate.openapi({ basePath: "/privacy" });
 * console.log(Object.keys(document.paths));
 * ```
 */
export interface OpenApiDocument {
  /** "3.1.0". */
  openapi: string;
  /** What the document describes. */
  info: {
    /** "Consentgate privacy endpoints". */
    title: string;
    /** The version of the HTTP contract described (not of the package). */
    version: string;
    /** Where the error codes and the catch-all 404 are explained. */
    description?: string;
  };
  /** One: where the router is mounted (OpenApiOptions.basePath, or the mount GET /openapi.json was reached through). */
  servers: { url: string }[];
  /** Each route's path template, relative to the server, and its operations. */
  paths: Record<string, Record<string, unknown>>;
  /** The named schemas (Receipt, Error, …) the operations refer to. */
  components?: Record<string, unknown>;
  [extension: string]: unknown;
}

/** The version of the HTTP contract this document describes (info.version). */
const CONTRACT_VERSION = "1.0.0";

const WHO: Record<Caller, string> = {
  anyone: "Anyone: no sign-in.",
  subject:
    "The signed-in subject, or an actor with the role agent acting for one with ?subject=. Rate limited per caller.",
  device: "The signed-in subject itself (?subject= is not read): a report stands for the device that made it.",
  dpo: "An actor with the role dpo. Not rate limited.",
};

/** Every code a route can answer: its own, the body parser's, and `internal` for what nobody planned for. */
export function errorCodesOf(route: RouteDescription): ReadonlySet<HttpErrorCode | "internal"> {
  return new Set([...BODY_ERRORS, ...route.errors, "internal"]);
}

function statusOf(code: HttpErrorCode | "internal"): number {
  return code === "internal" ? 500 : HTTP_STATUS[code];
}

/** The error answers of a route, one per status, each naming the codes it carries. */
function errorResponses(route: RouteDescription) {
  const byStatus = new Map<number, string[]>();
  for (const code of errorCodesOf(route)) {
    const status = statusOf(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, codes]) => [
      String(status),
      {
        description: codes.join(", "),
        "x-error-codes": codes,
        content: { "application/json": { schema: errorBody } },
      },
    ]),
  );
}

function operation(route: RouteDescription) {
  const { ok } = route;
  const type = ok.type ?? "application/json";
  const success = {
    description: ok.description,
    ...(ok.headers ? { headers: Object.fromEntries(ok.headers.map((h) => [h, { schema: { type: "string" } }])) } : {}),
    ...(ok.schema || ok.type ? { content: { [type]: ok.schema ? { schema: ok.schema } : {} } } : {}),
  };
  return {
    summary: route.summary,
    description: WHO[route.who],
    operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`,
    ...(route.params || route.query
      ? {
          requestParams: {
            ...(route.params ? { path: route.params } : {}),
            ...(route.query ? { query: route.query } : {}),
          },
        }
      : {}),
    ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: route.body } } } } : {}),
    responses: {
      [String(ok.status)]: success,
      ...Object.fromEntries(Object.entries(route.also ?? {}).map(([status, description]) => [status, { description }])),
      ...errorResponses(route),
    },
    "x-consentgate-caller": route.who,
  };
}

/** Rendered once: the document differs between mounts only in its server. */
let rendered: OpenApiDocument | undefined;

function render(): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method] = operation(route);
  const document = createDocument({
    openapi: "3.1.0",
    info: {
      title: "Consentgate privacy endpoints",
      version: CONTRACT_VERSION,
      description:
        "The rights endpoints of gate.router() (docs/http-api.md). Every error is the Error body; its code is stable " +
        "(docs/error-codes.md). Any other method or path under the router answers 404 not_found.",
    },
    servers: [],
    paths,
  });
  // As JSON carries it (no undefined members), so that the served document and gate.openapi() are the same data.
  return JSON.parse(JSON.stringify(document)) as OpenApiDocument;
}

/** The document for a router mounted at `basePath` (default "/"); invalid_option for a basePath that is neither a path nor a URL. */
export function openApiDocument(options: OpenApiOptions = {}): OpenApiDocument {
  const basePath = options.basePath ?? "/";
  if (typeof basePath !== "string" || !(basePath.startsWith("/") || URL.canParse(basePath))) {
    throw new ConsentgateError("invalid_option", `openapi: basePath must be a path starting with "/" or a URL`, {
      problems: [`basePath: ${JSON.stringify(basePath)} is neither a path nor a URL`],
    });
  }
  rendered ??= render();
  // A copy per call: the caller may change it. The server goes where readers look for it, after info.
  const { openapi, info, servers: _, ...rest } = structuredClone(rendered);
  return { openapi, info, servers: [{ url: basePath }], ...rest };
}
