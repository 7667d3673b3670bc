/**
 * `npm run bench`: every benchmark, printed as Markdown tables. Figures are
 * ratios against a baseline measured in the same run (these machines are
 * shared and noisy, so absolute numbers drift between runs).
 */
import { benchInserts, benchStartup } from "./store.ts";

const suites: Record<string, () => Promise<void>> = {
  startup: benchStartup,
  inserts: benchInserts,
};

const only = process.argv.slice(2);
for (const [name, suite] of Object.entries(suites)) {
  if (only.length === 0 || only.includes(name)) await suite();
}
