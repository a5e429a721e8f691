import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compareVersions, exactCandidates, matchVersions, newestWithPrefix, partialPrefix, toolOfVariable } from '../src/versions';

const names = (written: string, tool?: string) => exactCandidates(written, tool).map((c) => c.name);
const match = (versions: string[], installed: string[], tool?: string) => matchVersions(versions, new Set(installed), tool)?.value;

describe('toolOfVariable', () => {
  test('<TOOL>_VERSION back to the tool, _ as -', () => {
    assert.equal(toolOfVariable('GO_VERSION'), 'go');
    assert.equal(toolOfVariable('DOTNET_CORE_VERSION'), 'dotnet-core');
    assert.equal(toolOfVariable('GOROOT'), undefined);
    assert.equal(toolOfVariable('_VERSION'), undefined);
  });
});

describe('exactCandidates: the names tried, in order', () => {
  test('as written, then without or with v', () => {
    assert.deepEqual(names('v20.1.0', 'node'), ['v20.1.0', '20.1.0']);
    assert.deepEqual(names('20.1.0', 'node'), ['20.1.0', 'v20.1.0', 'node-20.1.0']);
    assert.deepEqual(names('stable'), ['stable']);
  });
  test('tool-prefixed forms both ways', () => {
    assert.deepEqual(names('ruby-3.3.0', 'ruby'), ['ruby-3.3.0', '3.3.0', 'v3.3.0']);
    assert.deepEqual(names('3.12', 'python'), ['3.12', 'v3.12', 'python-3.12']);
  });
  test('lts/NAME as lts-NAME; prefix:X as X; nothing that is not one component', () => {
    assert.deepEqual(names('lts/iron', 'node'), ['lts-iron']);
    assert.deepEqual(names('lts/*', 'node'), ['lts']);
    assert.deepEqual(names('prefix:1.21', 'go'), ['1.21', 'v1.21', 'go-1.21']);
    assert.deepEqual(names('path:/opt/go'), []);
    assert.deepEqual(names('..'), []);
  });
});

describe('compareVersions: version order, not text order', () => {
  test('examples', () => {
    assert.ok(compareVersions('20.10.0', '20.9.0') > 0);
    assert.ok(compareVersions('1.2', '1.2.1') < 0);
    assert.ok(compareVersions('3.12.0rc1', '3.12.0') < 0);
    assert.ok(compareVersions('1.21.10', '1.21.9') > 0);
    assert.ok(compareVersions('010', '9') > 0);
    assert.equal(compareVersions('1.0', '1.0'), 0);
  });
  const version = fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 5 }).map((a) => a.join('.'));
  const anyName = fc.oneof(version, fc.string({ maxLength: 12 }));
  test('numeric versions order as their numbers, component by component', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 5 }), fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 5 }), (a, b) => {
      let want = 0;
      for (let i = 0; i < Math.max(a.length, b.length) && want === 0; i++) want = (a[i] ?? -1) - (b[i] ?? -1);
      const got = compareVersions(a.join('.'), b.join('.'));
      assert.equal(Math.sign(got), Math.sign(want));
    }));
  });
  test('a total order: antisymmetric, 0 only for equal names, transitive', () => {
    fc.assert(fc.property(anyName, anyName, anyName, (a, b, c) => {
      assert.equal(Math.sign(compareVersions(a, b)), 0 - Math.sign(compareVersions(b, a)) || 0);
      assert.equal(compareVersions(a, b) === 0, a === b);
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0);
    }));
  });
});

describe('partial versions', () => {
  test('the newest installed with that prefix, by version order', () => {
    const node = ['18.2.0', '20.1.0', '20.9.0', '20.10.0', '200.0.0'];
    assert.equal(match(['20'], node, 'node'), '20.10.0');
    assert.equal(match(['v20'], node, 'node'), '20.10.0');
    assert.equal(match(['prefix:1.21'], ['1.21.9', '1.21.10', '1.22.0'], 'go'), '1.21.10');
    assert.equal(match(['1.2'], ['1.21.0'], 'go'), '1.2');  // 1.2 is not a prefix of 1.21: mise agrees
    assert.equal(partialPrefix('stable'), undefined);
  });
  test('the result has the prefix and no installed name with it is newer', () => {
    const name = fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 4 }).map((a) => a.join('.'));
    fc.assert(fc.property(fc.array(name, { maxLength: 12 }), name, (installed, prefix) => {
      const best = newestWithPrefix(prefix, installed);
      const fits = installed.filter((n) => n === prefix || n.startsWith(prefix + '.'));
      assert.equal(best === undefined, fits.length === 0);
      for (const n of fits) assert.ok(compareVersions(n, best!) <= 0);
    }));
  });
});

describe('matchVersions', () => {
  test('nvm, rbenv, pyenv and mise trees', () => {
    assert.equal(match(['v20.1.0'], ['20.1.0'], 'node'), '20.1.0');
    assert.equal(match(['20.1.0'], ['v20.1.0'], 'node'), 'v20.1.0');
    assert.equal(match(['ruby-3.3.0'], ['3.3.0'], 'ruby'), '3.3.0');
    assert.equal(match(['3.12'], ['python-3.12'], 'python'), 'python-3.12');
    assert.equal(match(['lts/iron'], ['20.10.0', 'lts-iron'], 'node'), 'lts-iron');
    assert.equal(match(['latest'], ['1.2.0', '1.10.0'], 'go'), '1.10.0');
    assert.equal(match(['latest'], ['1.2.0', 'latest'], 'go'), 'latest');
  });
  test('several versions: the first one installed; none: the first as written, with every name tried', () => {
    assert.equal(match(['1.99.0', '1.21.0'], ['1.21.0'], 'go'), '1.21.0');
    assert.equal(match(['3.13', '3.11.0'], ['3.11.0', '3.13.1'], 'python'), '3.13.1');
    const none = matchVersions(['1.99.0', '1.98'], new Set(['1.21.0']), 'go')!;
    assert.equal(none.value, '1.99.0');
    assert.equal(none.matched, undefined);
    assert.deepEqual(none.tried, ['1.99.0', 'v1.99.0', 'go-1.99.0', '1.99.0.*', '1.98', 'v1.98', 'go-1.98', '1.98.*']);
    assert.equal(matchVersions(['path:/x'], new Set(), 'go'), undefined);
  });
  test('what is written and installed is always the answer; a match is always installed', () => {
    fc.assert(fc.property(fc.array(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 8 }), fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }), (installed, versions) => {
      const set = new Set(installed);
      const m = matchVersions(versions, set, 'go');
      if (m?.matched !== undefined) assert.ok(set.has(m.value));
      const first = exactCandidates(versions[0]!, 'go')[0];
      if (first !== undefined && set.has(first.name)) assert.equal(m!.value, first.name);
    }));
  });
});

// Mutants that survived a run of `npm run test:mutation` (docs/testing.md), each killed by the rule it broke.
describe('the edges a mutation run found untested', () => {
  test('a variable that only contains _VERSION names no tool', () => {
    assert.equal(toolOfVariable('GO_VERSIONS'), undefined);
    assert.equal(toolOfVariable('GO_VERSION_FILE'), undefined);
  });

  test('exact candidates: never an empty name, . or .., nor a path; no tool prefix without a tool; a v inside is kept', () => {
    assert.deepEqual(names(''), []);
    assert.deepEqual(names('.'), []);
    assert.deepEqual(names('..'), []);
    assert.deepEqual(names('1/2'), []);
    assert.deepEqual(names('1.2'), ['1.2', 'v1.2']);
    assert.deepEqual(names('1.0v2'), ['1.0v2', 'v1.0v2']);
  });

  test('partial prefixes: the tool prefix with its dash only; a v inside is kept', () => {
    assert.equal(partialPrefix('go-1.21', 'go'), '1.21');
    assert.equal(partialPrefix('go11.2', 'go'), undefined);
    assert.equal(partialPrefix('1.0v2'), '1.0v2');
  });

  test('version order: pre-release words before the release and in text order, leading zeros, one-letter words, text ties', () => {
    assert.equal(compareVersions('3.12.0rc1', '3.12.0'), -1);
    assert.equal(compareVersions('3.12.0', '3.12.0rc1'), 1);
    assert.equal(compareVersions('3.12.0beta1', '3.12.0rc1'), -1);
    assert.equal(compareVersions('3.12.0rc1', '3.12.0beta1'), 1);
    assert.equal(compareVersions('1.0rc1', '1.0r'), 1, 'rc is one word, after r');
    assert.equal(compareVersions('1.0010', '1.10'), -1, 'same numbers: the text decides');
    assert.equal(compareVersions('1.10', '1.0010'), 1);
    assert.equal(compareVersions('1.0', '1-0'), 1, 'same tokens: the text decides');
    assert.equal(compareVersions('1-0', '1.0'), -1);
    assert.equal(compareVersions('1.0', '1.0'), 0);
  });

  test('version order: only leading zeros are dropped, not zeros inside a number (100 after 20)', () => {
    assert.equal(compareVersions('1.100', '1.20'), 1);
    assert.equal(compareVersions('1.20', '1.100'), -1);
  });

  test('latest: the newest installed version (names that start with a digit); nothing else means the newest', () => {
    assert.deepEqual(matchVersions(['latest'], new Set(['1.21.0', '1.22.0', 'lts'])), { value: '1.22.0', matched: { name: '1.22.0', rule: 'newest installed' }, tried: ['latest', '*'] });
    assert.deepEqual(matchVersions(['latest'], new Set(['lts'])), { value: 'latest', matched: undefined, tried: ['latest', '*'] });
    assert.deepEqual(matchVersions(['stable'], new Set(['1.22.0'])), { value: 'stable', matched: undefined, tried: ['stable'] });
    assert.equal(newestWithPrefix('', ['1.2', '1.3']), '1.3');
  });

  test('the newest wins wherever the directory lists it: first, last or between', () => {
    assert.equal(newestWithPrefix('20', ['20.10.0', '20.9.0', '20.1.0']), '20.10.0');
    assert.equal(newestWithPrefix('20', ['20.9.0', '20.10.0', '20.1.0']), '20.10.0');
    assert.equal(newestWithPrefix('', ['1.3', '1.2']), '1.3');
  });

  test('a partial version is a prefix of itself: the name equal to it counts, and loses to a longer one', () => {
    assert.equal(newestWithPrefix('20', ['20', '19.1']), '20');
    assert.equal(newestWithPrefix('1.21', ['1.21.0', '1.21']), '1.21.0');
  });
});
