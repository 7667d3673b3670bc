/**
 * The layer order of src/, checked by `npm run check:layers` (in CI).
 *
 * A module imports only from its own layer's group or from layers below it;
 * siblings on one line (layer 2, layer 5) do not import each other, and the
 * leaves of layer 0 import nothing of ours (noise/ and metrics/ take
 * errors.ts's ConsentgateError, nothing else). So a change low in the stack
 * never needs to know what is built on it, and each consumer says what it
 * uses through a narrow dependency interface that createConsentgate fills.
 *
 *   0  errors.ts, logger.ts, route-marks.ts, html.ts, signatures/, client/, noise/, metrics/   leaves
 *   1  policy/                                            load, validate, compile policies
 *   2  decision/ | minimize/ | telemetry/ | aggregation/  pure: policy + inputs -> answers
 *   3  store/ (and generated/, the Prisma client)         the database
 *   4  audit/                                             the compliance log's meaning
 *   5  middleware/ | rights/ | jobs/ | insights/ | learning/   the gate, the rights endpoints, the jobs, DP releases, federated rounds
 *   6  privacy-center/ | privacy-console/ | openapi/    the subject's page, the DPO's page, the router's OpenAPI description
 *   7  options.ts, consentgate.ts, store-access.ts, index.ts   the composition root
 *   8  cli/
 *
 * client/ is what `consentgate/client` ships to browsers: besides being a
 * leaf, it imports nothing outside itself, not even Node's modules or a
 * package (client-is-web-only).
 *
 * Type-only imports count (tsPreCompilationDeps): a type from a higher layer
 * ties a lower one to it as much as a value does. The database rules see
 * imports only; scripts/check-sql-owners.mjs (run with them) fails on SQL
 * text outside store/, and no module above store/ but the option parser and
 * the CLI may even hold the store's Connection.
 */

/** Each layer as a path pattern, lowest first. */
const LAYERS = [
  "^src/(errors\\.ts|logger\\.ts|route-marks\\.ts|html\\.ts|signatures/|client/|noise/|metrics/)",
  "^src/policy/",
  "^src/(decision|minimize|telemetry|aggregation)/",
  "^src/(store|generated)/",
  "^src/audit/",
  "^src/(middleware|rights|jobs|insights|learning|data-layer)/",
  "^src/(privacy-center|privacy-console|openapi)/",
  "^src/(options|consentgate|store-access|index)\\.ts$",
  "^src/cli/",
];

const NAMES = [
  "leaves (errors, logger, route marks, html, signatures, client, noise, metrics)",
  "policy",
  "decision, minimize, telemetry and aggregation",
  "store",
  "audit",
  "middleware, rights, jobs, insights, learning and data-layer",
  "privacy-center, privacy-console and openapi",
  "the composition root",
  "cli",
];

/** One rule per boundary: layer n imports nothing from the layers above it. */
const upward = LAYERS.slice(0, -1).map((from, n) => ({
  name: `layer-${n}-not-upward`,
  comment: `Layer ${n} (${NAMES[n]}) imports only from layers 0-${n}; move the shared piece down, or take it through a dependency interface.`,
  severity: "error",
  from: { path: from },
  to: { path: LAYERS.slice(n + 1) },
}));

/** Drivers and the generated client: everything that talks to the database directly. */
const DATABASE_DRIVERS = "(^|/)node_modules/(pg|@types/pg|@electric-sql/pglite|@prisma/[^/]+|pglite-prisma-adapter)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    {
      name: "leaves-import-nothing",
      comment:
        "errors.ts, logger.ts, route-marks.ts, html.ts, signatures/ and client/ import nothing else of src/: everything may import them.",
      severity: "error",
      from: { path: "^src/(errors\\.ts|logger\\.ts|route-marks\\.ts|html\\.ts|signatures/|client/)" },
      to: { path: "^src/", pathNot: "^src/$1" },
    },
    {
      name: "noise-imports-only-errors",
      comment:
        "noise/ (the differential-privacy samplers) is a leaf: of src/ it imports only errors.ts, for the ConsentgateError its parameter checks raise.",
      severity: "error",
      from: { path: "^src/noise/" },
      to: { path: "^src/", pathNot: ["^src/noise/", "^src/errors\\.ts$"] },
    },
    {
      name: "metrics-imports-only-errors",
      comment:
        "metrics/ (the gate's observations and their Prometheus form) is a leaf: of src/ it imports only errors.ts, for the ConsentgateError a taken metric name raises.",
      severity: "error",
      from: { path: "^src/metrics/" },
      to: { path: "^src/", pathNot: ["^src/metrics/", "^src/errors\\.ts$"] },
    },
    {
      name: "client-is-web-only",
      comment:
        "client/ runs in browsers (consentgate/client): it imports only its own files, no Node module (node:crypto, node:buffer, …) and no package; use globalThis.crypto and TextEncoder.",
      severity: "error",
      from: { path: "^src/client/" },
      to: { pathNot: "^src/client/" },
    },
    {
      name: "layer-2-siblings",
      comment: "decision/, minimize/, telemetry/ and aggregation/ do not import each other.",
      severity: "error",
      from: { path: "^src/(decision|minimize|telemetry|aggregation)/" },
      to: { path: "^src/(decision|minimize|telemetry|aggregation)/", pathNot: "^src/$1/" },
    },
    {
      name: "layer-5-siblings",
      comment:
        "middleware/, rights/, jobs/, insights/ and learning/ do not import each other: what two of them share moves down; what one needs of another is wired in by createConsentgate.",
      severity: "error",
      from: { path: "^src/(middleware|rights|jobs|insights|learning)/" },
      to: { path: "^src/(middleware|rights|jobs|insights|learning|data-layer)/", pathNot: "^src/$1/" },
    },
    {
      name: "layer-6-siblings",
      comment:
        "privacy-center/, privacy-console/ and openapi/ do not import each other: each is built on the layers below; what two share moves down (html.ts).",
      severity: "error",
      from: { path: "^src/(privacy-center|privacy-console|openapi)/" },
      to: { path: "^src/(privacy-center|privacy-console|openapi)/", pathNot: "^src/$1/" },
    },
    {
      name: "in-a-layer",
      comment:
        "Every module of src/ belongs to a layer: add a new folder or file to LAYERS in .dependency-cruiser.cjs.",
      severity: "error",
      from: { path: "^src/", pathNot: LAYERS },
      to: {},
    },
    {
      name: "into-a-layer",
      comment: "Nothing imports a module of src/ that belongs to no layer (see in-a-layer).",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/", pathNot: LAYERS },
    },
    {
      name: "no-circular",
      comment:
        "No import cycles, within a layer either (the generated Prisma client has its own, and is not ours to change).",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/generated/" },
      to: { circular: true },
    },
    {
      name: "src-not-tests",
      comment: "The package never imports its tests, benchmarks or examples.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench|examples)/" },
    },
    {
      name: "connection-stays-in-store",
      comment:
        "Above store/, code is handed store modules bound to a connection (ConsentStore, Requests, …), never the connection: only the option parser (which parses the database option) and the CLI (which opens a store) import it.",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/store/", "^src/options\\.ts$", "^src/cli/"] },
      to: { path: "^src/store/connection\\.ts$" },
    },
    {
      name: "database-only-in-store",
      comment:
        "Only src/store/ talks to the database: the generated Prisma client and the drivers are imported there and nowhere else.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(store|generated)/" },
      to: { path: ["^src/generated/", DATABASE_DRIVERS] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
  },
};
