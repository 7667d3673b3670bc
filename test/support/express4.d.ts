/** The `express4` alias (npm:express@4) has no types of its own; test/support/express.ts casts it. */
declare module "express4" {
  const express: unknown;
  export default express;
}
