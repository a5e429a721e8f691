// The links `link --from` plans for each manager's install tree, and mise's global versions (src/linkfrom.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { miseGlobals, plannedLinks } from '../src/linkfrom';

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
