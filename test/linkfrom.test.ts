// The links `link --from` plans for each manager's install tree, and mise's global versions (src/linkfrom.ts).
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { installRoot, miseGlobals, plannedLinks, type Manager } from '../src/linkfrom';

const TREE: Record<string, string[]> = {
  '/h/.local/share/mise/installs': ['go', 'node', '.cache', 'empty', 'bad name'],
  '/h/.local/share/mise/installs/go': ['1.22.3', '1.21.0'],
  '/h/.local/share/mise/installs/node': ['20.11.1'],
  '/h/.local/share/mise/installs/bad name': ['1'],
  '/h/.asdf/installs': ['golang', 'terraform'],
  '/h/.asdf/installs/golang': ['1.22.3'],
  '/h/.asdf/installs/terraform': ['1.7.5'],
  '/n/versions/node': ['v20.11.1'],
};
const list = (dir: string) => TREE[dir] ?? [];

test('plannedLinks: one link per tool that has a version, named as the tool, into its own tree', () => {
  assert.deepEqual(plannedLinks('mise', { HOME: '/h' }, list), [
    { name: 'go', target: '/h/.local/share/mise/installs/go/$<GO_VERSION>' },
    { name: 'node', target: '/h/.local/share/mise/installs/node/$<NODE_VERSION>' },
  ]);
  assert.deepEqual(plannedLinks('asdf', { HOME: '/h' }, list).map((l) => [l.name, l.target]), [['go', '/h/.asdf/installs/golang/$<GO_VERSION>'], ['terraform', '/h/.asdf/installs/terraform/$<TERRAFORM_VERSION>']]);
  assert.deepEqual(plannedLinks('nvm', { HOME: '/h', NVM_DIR: '/n' }, list), [{ name: 'node', target: '/n/versions/node/$<NODE_VERSION>' }]);
  assert.deepEqual(plannedLinks('pyenv', { HOME: '/h' }, list), [], 'nothing installed');
});

test('miseGlobals: config.toml [tools] (string, array, { version }), ~/.tool-versions over it, deferring values skipped', () => {
  const toml = '[tools]\ngo = "1.21.0"\nnode = ["20.11.1", "18"]\npython = { version = "3.12.2" }\nruby = "system"\n';
  const g = miseGlobals(toml, Buffer.from('golang 1.22.3\n'));
  assert.deepEqual(Object.fromEntries(g.set), { GO_VERSION: '1.22.3', NODE_VERSION: '20.11.1', PYTHON_VERSION: '3.12.2' });
  assert.deepEqual(g.skipped, ['ruby in config.toml: "system" names no install directory']);
  assert.throws(() => miseGlobals('[tools\n', undefined), /config\.toml is not valid TOML/);
});

test('installRoot: each manager\'s own variable moves its tree; without it, under HOME (or the user\'s home)', () => {
  const cases: Array<[Manager, NodeJS.ProcessEnv, string, string | undefined]> = [
    ['mise', { HOME: '/h' }, '/h/.local/share/mise/installs', undefined],
    ['mise', { HOME: '/h', XDG_DATA_HOME: '/x' }, '/x/mise/installs', undefined],
    ['mise', { HOME: '/h', XDG_DATA_HOME: '/x', MISE_DATA_DIR: '/m' }, '/m/installs', undefined],
    ['asdf', { HOME: '/h' }, '/h/.asdf/installs', undefined],
    ['asdf', { HOME: '/h', ASDF_DATA_DIR: '/a' }, '/a/installs', undefined],
    ['nvm', { HOME: '/h' }, '/h/.nvm/versions/node', 'node'],
    ['nvm', { HOME: '/h', NVM_DIR: '/n' }, '/n/versions/node', 'node'],
    ['pyenv', { HOME: '/h' }, '/h/.pyenv/versions', 'python'],
    ['pyenv', { HOME: '/h', PYENV_ROOT: '/p' }, '/p/versions', 'python'],
    ['rbenv', { HOME: '/h' }, '/h/.rbenv/versions', 'ruby'],
    ['rbenv', { HOME: '/h', RBENV_ROOT: '/r' }, '/r/versions', 'ruby'],
    ['goenv', { HOME: '/h' }, '/h/.goenv/versions', 'go'],
    ['goenv', { HOME: '/h', GOENV_ROOT: '/g' }, '/g/versions', 'go'],
    ['asdf', { HOME: '' }, path.join(os.homedir(), '.asdf', 'installs'), undefined],
    ['asdf', {}, path.join(os.homedir(), '.asdf', 'installs'), undefined],
  ];
  for (const [manager, env, dir, tool] of cases) assert.deepEqual(installRoot(manager, env), tool === undefined ? { dir } : { dir, tool }, `${manager} ${JSON.stringify(env)}`);
});

test('plannedLinks: sorted by tool whatever the listing order; a tree of hidden entries only has no version', () => {
  const tree: Record<string, string[]> = {
    '/h/.asdf/installs': ['terraform', 'golang', 'deno', 'node'],
    '/h/.asdf/installs/terraform': ['1.7.5'],
    '/h/.asdf/installs/golang': ['1.22.3'],
    '/h/.asdf/installs/deno': ['.downloads'],
    '/h/.asdf/installs/node': ['.tmp', '20.11.1'],
    '/h/.goenv/versions': ['.cache'],
    '/h/.rbenv/versions': ['3.3.0'],
  };
  const listing = (dir: string) => tree[dir] ?? [];
  assert.deepEqual(plannedLinks('asdf', { HOME: '/h' }, listing).map((l) => l.name), ['go', 'node', 'terraform']);
  assert.deepEqual(plannedLinks('goenv', { HOME: '/h' }, listing), []);
  assert.deepEqual(plannedLinks('rbenv', { HOME: '/h' }, listing), [{ name: 'ruby', target: '/h/.rbenv/versions/$<RUBY_VERSION>' }]);
});

test('miseGlobals: no files, a [tools] that is not a table, values that name no directory, the TOML error on one line', () => {
  assert.deepEqual(miseGlobals(undefined, undefined), { set: new Map(), skipped: [] });
  assert.deepEqual(miseGlobals('tools = "go"\n', undefined), { set: new Map(), skipped: [] });
  assert.deepEqual(miseGlobals('[settings]\nexperimental = true\n', undefined), { set: new Map(), skipped: [] });
  const odd = miseGlobals('[tools]\n"bad name" = "1"\ngo = { path = "/opt/go" }\nnode = []\n', Buffer.from('ruby system\n'));
  assert.deepEqual(odd.set, new Map());
  assert.deepEqual(odd.skipped, [
    'bad name in config.toml: "1" names no install directory',
    'go in config.toml: {"path":"/opt/go"} names no install directory',
    'node in config.toml: undefined names no install directory',
    'RUBY_VERSION in ~/.tool-versions:1: "system" names no install directory',
  ]);
  // The parser's first line only (its code frame follows on the next), the whole error kept as the cause.
  assert.throws(() => miseGlobals('[tools]\ngo = \n', undefined), (err: Error) => err.message === '~/.config/mise/config.toml is not valid TOML: Invalid TOML document: invalid value' && err.cause instanceof Error);
});
