// Mutation testing of the pure core: the decision rules, minimization, the
// compliance log's chain check and the signatures. Run with `npm run mutate`.
// The tests are node:test files in TypeScript: the TAP runner starts each one
// under tsx and reads its TAP output. Only the unit tests of these folders
// run (no database, no app), so a full run stays within minutes on two cores.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "tap",
  plugins: ["@stryker-mutator/tap-runner"],
  tap: {
    testFiles: [
      "test/decision/*.test.ts",
      // The minimizer's unit tests, not its HTTP tests (those need a database and an app per run).
      "test/minimize/minimize.test.ts",
      "test/minimize/mutants.test.ts",
      "test/audit/verify.test.ts",
      "test/signatures/*.test.ts",
    ],
    nodeArgs: ["--import", "tsx", "--test-reporter=tap", "{{testFile}}"],
  },
  mutate: ["src/decision/**/*.ts", "src/minimize/**/*.ts", "src/audit/verify.ts", "src/signatures/**/*.ts"],
  // The sandbox is a copy of the project; built output and benchmarks are not needed in it.
  ignorePatterns: ["dist", ".bench", ".consentgate", "test-artifacts", "reports", "bench", "examples"],
  // The TAP runner reports coverage per test file: a mutant runs only the files that reach it.
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  thresholds: { high: 90, low: 80, break: null },
};
