/**
 * Preloaded with `node --import` in TEST_EXPRESS=4 runs, before any module is
 * resolved: "express" then means Express 4 everywhere, as it does in a host
 * app on Express 4 (express is Consentgate's peer dependency).
 */
import { register } from "node:module";

if (process.env.TEST_EXPRESS === "4") register("./express4-hooks.mjs", import.meta.url);
