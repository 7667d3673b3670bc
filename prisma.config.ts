// Prisma CLI configuration. Offline machines cannot download Prisma's native
// engines, so the CLI runs on the JavaScript engine through the PGlite driver
// adapter. The CLI only evaluates the schema while DATABASE_URL is set; without
// it, it silently falls back to the native engine and tries a download.
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { defineConfig } from "prisma/config";

process.env.DATABASE_URL ??= "postgresql://prisma-cli@localhost/unused";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  adapter: async () => new PrismaPGlite(new PGlite()),
});
