// Module resolution hook for TEST_EXPRESS=4 runs: every `import "express"` (Consentgate's
// own routers, the example app, the tests) gets Express 4, as in a host whose
// express peer dependency is 4.x.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier === "express" ? "express4" : specifier, context);
}
