// Mutation testing of the pure modules: `npm run test:mutation` (not part of `npm test`; see docs/testing.md).
// Each module in `modules` is src/<name>.ts, killed by its own unit test file test/<name>.test.ts; to add a
// module, add its name here.
const modules = ['mountinfo', 'paths', 'errors'];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: modules.map((m) => `src/${m}.ts`),
  // The sandbox compiles the mutated TypeScript; the TAP runner then runs the compiled unit tests.
  buildCommand: 'tsc -p tsconfig.json',
  testRunner: 'tap',
  tap: { testFiles: modules.map((m) => `dist/test/${m}.test.js`) },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  coverageAnalysis: 'perTest',
  concurrency: 2,
  ignorePatterns: ['dist', 'src/binding/build', 'bench/build', 'bench/results', 'reports'],
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  thresholds: { high: 95, low: 90, break: 90 },
};
