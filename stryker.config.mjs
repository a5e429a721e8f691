// Mutation testing of the pure modules: `npm run test:mutation` (not part of `npm test`; see docs/testing.md).
// Each module in `modules` is src/<name>.ts, killed by its own unit test file test/<name>.test.ts; to add a
// module, add its name here. A module whose file also reaches the host (fs, /proc) is mutated only up to
// the first line of that part, named in `pureUntil`, so that a moved function cannot slip out of range.
import { readFileSync } from 'node:fs';

const modules = ['mountinfo', 'paths', 'errors', 'names', 'template', 'environ', 'project', 'pendingexec', 'completion', 'versions', 'linkwalk', 'linkfrom', 'installs'];

/** For a module that is pure only at its top: the text of the first line that is not. */
const pureUntil = {
  pendingexec: 'function readOr(',
  linkfrom: 'function listDirs(',
  installs: 'export interface InstallTreesOptions',
};

function mutateRange(name) {
  const file = `src/${name}.ts`;
  const marker = pureUntil[name];
  if (marker === undefined) return file;
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith(marker));
  if (at < 1) throw new Error(`stryker.config.mjs: no line starting with ${JSON.stringify(marker)} in ${file}`);
  return `${file}:1-${at}`; // lines 1 … at (1-based): everything before the marker
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: modules.map(mutateRange),
  // The sandbox compiles the mutated TypeScript; the TAP runner then runs the compiled unit tests.
  buildCommand: 'tsc -p tsconfig.json',
  testRunner: 'tap',
  tap: { testFiles: modules.map((m) => `dist/test/${m}.test.js`) },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  coverageAnalysis: 'perTest',
  concurrency: 2,
  ignorePatterns: ['dist', 'src/binding/build', 'bench/build', 'bench/results', 'reports'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 95, low: 90, break: 90 },
};
