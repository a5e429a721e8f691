// The differential test against mise itself (issue 21 item 7): many project layouts, each resolved by the
// real mise (the npm package @jdxcode/mise-linux-x64, offline, over fake installs in a temporary
// MISE_DATA_DIR whose runtime links `mise install` builds) and by varsymfs through a real mount, with an
// empty environment (`env -i`) and the layout's working directory. Every disagreement is either fixed or
// listed in DELIBERATE below and in docs/project-files.md ("Where varsymfs and mise differ").
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { chownTree, mount, tempDir } from './helpers/mount';
import { plainUser, rootUser, run, type TestUser } from './helpers/users';

const user = plainUser() ?? rootUser();

function miseBinary(): string | undefined {
  try {
    return path.join(path.dirname(require.resolve('@jdxcode/mise-linux-x64/package.json')), 'bin', 'mise');
  } catch {
    return undefined;
  }
}
const MISE = miseBinary();

const TOOLS = ['node', 'go', 'python', 'ruby'] as const;
/** Variables of mise's `[env]` compared (`mise env --json`), through links `<NAME> -> $<NAME:-none>`. */
const ENV_VARS = ['DB_HOST', 'APP_MODE'] as const;
const INSTALLED: Record<(typeof TOOLS)[number], string[]> = {
  node: ['18.2.0', '20.1.0', '20.9.0', '20.10.0'],
  go: ['1.21.0', '1.21.9', '1.21.10', '1.22.0'],
  python: ['3.11.0', '3.12.1'],
  ruby: ['3.3.0'],
};

interface Layout {
  readonly files: Record<string, string>;
  /** The working directory, relative to the layout (default: the layout itself). */
  readonly cwd?: string;
}

const toml = (tools: string) => `[tools]\n${tools}\n`;

/** Every rule of docs/project-files.md, as layouts: name → files. */
const LAYOUTS: Record<string, Layout> = {
  'tool-versions, exact': { files: { '.tool-versions': 'node 20.1.0\ngo 1.21.0\npython 3.11.0\nruby 3.3.0\n' } },
  'tool-versions, partial': { files: { '.tool-versions': 'node 20\ngo 1.21\npython 3\n' } },
  'tool-versions, prefix:': { files: { '.tool-versions': 'go prefix:1.21\nnode prefix:18\n' } },
  'tool-versions, v': { files: { '.tool-versions': 'node v20.1.0\ngo v1.22.0\n' } },
  'tool-versions, several on a line': { files: { '.tool-versions': 'go 1.99.0 1.21.0\npython 3.13 3.12.1\nnode 19 20\n' } },
  'tool-versions, duplicates: the last': { files: { '.tool-versions': 'go 1.21.0\ngolang 1.22.0\nnodejs 18.2.0\nnode 20.9.0\n' } },
  'tool-versions, latest': { files: { '.tool-versions': 'go latest\nnode latest\n' } },
  'tool-versions, lts/iron': { files: { '.tool-versions': 'node lts/iron\n' } },
  'tool-versions, not installed': { files: { '.tool-versions': 'go 1.99.0\nnode 21\n' } },
  'tool-versions, CRLF, tabs, comments': { files: { '.tool-versions': '# pins\r\n\tgo\t1.21.9 # old\r\nnode  18.2.0\r\n' } },
  'tool-versions, tool prefix': { files: { '.tool-versions': 'go go-1.21.0\n' } },
  '.nvmrc v': { files: { '.nvmrc': 'v20.1.0\n' } },
  '.nvmrc partial': { files: { '.nvmrc': '20\n' } },
  '.nvmrc lts/iron': { files: { '.nvmrc': 'lts/iron\n' } },
  '.node-version': { files: { '.node-version': '18\n' } },
  '.ruby-version ruby-': { files: { '.ruby-version': 'ruby-3.3.0\n' } },
  '.python-version lines': { files: { '.python-version': '3.13\n3.11.0\n' } },
  '.python-version partial': { files: { '.python-version': '3.12\n' } },
  '.go-version partial': { files: { '.go-version': '1.21\n' } },
  'mise.toml string': { files: { 'mise.toml': toml('go = "1.21.9"\nnode = "20.9.0"') } },
  'mise.toml array': { files: { 'mise.toml': toml('node = ["19", "20.1.0"]\ngo = ["1.22", "1.21"]') } },
  'mise.toml table': { files: { 'mise.toml': toml('python = { version = "3.12.1" }\nruby = { version = "3.3" }') } },
  'mise.toml partial and prefix:': { files: { 'mise.toml': toml('go = "prefix:1.21"\nnode = "20"') } },
  'mise.toml over .tool-versions': { files: { 'mise.toml': toml('go = "1.21.0"'), '.tool-versions': 'go 1.22.0\nnode 18.2.0\n' } },
  '.mise.toml over mise.toml': { files: { '.mise.toml': toml('go = "1.21.9"'), 'mise.toml': toml('go = "1.21.0"\nnode = "18.2.0"') } },
  'mise.local.toml over .mise.toml': { files: { 'mise.local.toml': toml('go = "1.22.0"'), '.mise.toml': toml('go = "1.21.0"') } },
  '.mise.local.toml over mise.local.toml': { files: { '.mise.local.toml': toml('go = "1.21.10"'), 'mise.local.toml': toml('go = "1.22.0"') } },
  '.tool-versions over .nvmrc': { files: { '.tool-versions': 'node 18.2.0\n', '.nvmrc': '20.1.0\n' } },
  'nested: nearest per tool': { files: { '.tool-versions': 'go 1.21.0\nnode 18.2.0\n', 'sub/.nvmrc': '20.1.0\n' }, cwd: 'sub/deep' },
  'nested: mise.toml above, .tool-versions below': { files: { 'mise.toml': toml('node = "18.2.0"\ngo = "1.21.0"'), 'sub/.tool-versions': 'go 1.22.0\n' }, cwd: 'sub' },
  'nested: .tool-versions above, mise.toml below': { files: { '.tool-versions': 'node 18.2.0\ngo 1.21.0\n', 'sub/mise.toml': toml('go = "1.22.0"') }, cwd: 'sub' },
  '[env] strings': { files: { 'mise.toml': '[env]\nDB_HOST = "db1"\nAPP_MODE = "dev"\nPORT = 5432\n' } },
  '[env] .mise.toml over mise.toml': { files: { '.mise.toml': '[env]\nDB_HOST = "db2"\n', 'mise.toml': '[env]\nDB_HOST = "db1"\nAPP_MODE = "dev"\n' } },
  '[env] nested: nearest per variable': { files: { 'mise.toml': '[env]\nDB_HOST = "top"\nAPP_MODE = "dev"\n', 'sub/mise.local.toml': '[env]\nDB_HOST = "sub"\n' }, cwd: 'sub/deep' },
  '[env] beside [tools]': { files: { 'mise.toml': '[tools]\ngo = "1.21"\n[env]\nAPP_MODE = "ci"\n' } },
  '.config/mise.toml': { files: { '.config/mise.toml': toml('go = "1.21.9"') } },
  '.config/mise/config.toml': { files: { '.config/mise/config.toml': toml('go = "1.21.0"\nnode = "18.2.0"') } },
  'mise/config.toml': { files: { 'mise/config.toml': toml('go = "1.22.0"') } },
  '.mise/config.toml': { files: { '.mise/config.toml': toml('go = "1.21.10"') } },
  'subdirectory forms: precedence': {
    files: {
      '.config/mise/config.toml': toml('go = "1.21.0"\nnode = "18.2.0"\npython = "3.11.0"\nruby = "3.3.0"'),
      '.config/mise.toml': toml('go = "1.21.9"\nnode = "19"\npython = "3.12.1"'),
      'mise/config.toml': toml('go = "1.22.0"\nnode = "20.1.0"'),
      'mise.toml': toml('go = "1.21.10"'),
    },
  },
  'subdirectory forms below .mise.toml': {
    files: { '.mise/config.toml': toml('go = "1.22.0"\nnode = "20.9.0"'), 'mise.toml': toml('go = "1.21.0"\nnode = "18.2.0"'), '.mise.toml': toml('node = "19"') },
  },
  'mise/config.toml over .mise/config.toml': { files: { 'mise/config.toml': toml('go = "1.22.0"'), '.mise/config.toml': toml('go = "1.21.0"\nnode = "18.2.0"') } },
  '.mise/config.toml over .config/mise.toml': { files: { '.mise/config.toml': toml('go = "1.21.9"'), '.config/mise.toml': toml('go = "1.21.0"\nnode = "18.2.0"') } },
  '.config/mise/mise.toml over .config/mise/config.toml': { files: { '.config/mise/mise.toml': toml('go = "1.21.9"'), '.config/mise/config.toml': toml('go = "1.21.0"\nnode = "20.1.0"') } },
  'locals over every plain form': { files: { '.mise/config.local.toml': toml('go = "1.21.9"'), '.mise.toml': toml('go = "1.21.0"\nnode = "18.2.0"') } },
  'local forms, in order': {
    files: {
      'mise.local.toml': toml('go = "1.22.0"'),
      '.mise/config.local.toml': toml('go = "1.21.9"\nnode = "20.1.0"'),
      '.config/mise.local.toml': toml('go = "1.21.0"\nnode = "18.2.0"\npython = "3.11.0"'),
      '.config/mise/mise.local.toml': toml('python = "3.12.1"\nruby = "3.3.0"'),
      '.config/mise/config.local.toml': toml('ruby = "3.2.0"'),
      'mise.toml': toml('go = "1.21.10"\nnode = "20.9.0"'),
    },
  },
  '.config/mise.local.toml': { files: { '.config/mise.local.toml': toml('go = "1.21.0"'), '.config/mise.toml': toml('go = "1.22.0"\nnode = "18.2.0"') } },
  '[env] .config/mise/config.toml': { files: { '.config/mise/config.toml': '[env]\nDB_HOST = "cfg"\nAPP_MODE = "dev"\n', 'mise.toml': '[env]\nDB_HOST = "top"\n' } },
  'nested: .config/mise.toml above': { files: { '.config/mise.toml': toml('go = "1.21.0"\nnode = "18.2.0"'), 'sub/.tool-versions': 'go 1.22.0\n' }, cwd: 'sub' },
};

/** Layouts where varsymfs deliberately answers otherwise, with the reason (also in docs/project-files.md). */
const DELIBERATE: Record<string, string> = {
  'tool-versions, tool prefix': 'varsymfs strips a tool prefix in every file; mise only in idiomatic files',
};

/** A tool's answer: the real install directory it reaches, or `missing:<name>`, or `none`. */
function reached(data: string, tool: string, name: string | undefined): string {
  if (name === undefined) return 'none';
  const p = path.join(data, 'installs', tool, name);
  try {
    return fs.realpathSync(p);
  } catch {
    return `missing:${name}`;
  }
}

describe('varsymfs and mise resolve the same layouts alike', { skip: user === undefined ? 'no test user' : MISE === undefined ? 'npm package @jdxcode/mise-linux-x64 not installed' : false }, () => {
  test('every layout, every tool', { timeout: 600000 }, async (t: TestContext) => {
    const u: TestUser = user!;
    const base = tempDir(t, u, 'versions-mise-');
    fs.chmodSync(base, 0o755);
    const home = path.join(base, 'home');
    const data = path.join(base, 'data');
    const layouts = path.join(base, 'layouts');
    const mise = path.join(base, 'mise');
    fs.copyFileSync(MISE!, mise);
    fs.chmodSync(mise, 0o755);
    for (const [tool, versions] of Object.entries(INSTALLED)) for (const v of versions) fs.mkdirSync(path.join(data, 'installs', tool, v, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(home, '.config', 'mise'), { recursive: true });
    for (const [name, layout] of Object.entries(LAYOUTS)) {
      const dir = path.join(layouts, name);
      fs.mkdirSync(path.join(dir, layout.cwd ?? '.'), { recursive: true });
      for (const [file, text] of Object.entries(layout.files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      }
    }
    if (process.geteuid?.() === 0) chownTree(base, u);
    const miseEnv = {
      HOME: home,
      MISE_DATA_DIR: data,
      MISE_CONFIG_DIR: path.join(home, '.config', 'mise'),
      MISE_CACHE_DIR: path.join(base, 'cache'),
      MISE_STATE_DIR: path.join(base, 'state'),
      MISE_OFFLINE: '1',
      MISE_YES: '1',
      MISE_TRUSTED_CONFIG_PATHS: layouts,
      MISE_IDIOMATIC_VERSION_FILE_ENABLE_TOOLS: TOOLS.join(','),
    };
    // mise's runtime links (20 -> 20.10.0, latest, lts-iron, …), built as `mise install` builds them.
    await run(u, mise, ['install', ...TOOLS.map((tool) => `${tool}@${INSTALLED[tool][0]}`)], miseEnv, { cwd: base, timeoutMs: 120000 });
    assert.ok(fs.existsSync(path.join(data, 'installs', 'node', 'latest')), 'mise install made its runtime links');

    const m = await mount(t, u, {
      dir: tempDir(t, u, 'versions-mnt-'),
      setup: (d) => {
        for (const tool of TOOLS) fs.symlinkSync(`${data}/installs/${tool}/$<${tool.toUpperCase()}_VERSION:-none>`, path.join(d, tool));
        for (const name of ENV_VARS) fs.symlinkSync(`$<${name}:-none>`, path.join(d, name));
      },
    });

    const disagreements: string[] = [];
    let agreed = 0;
    let named = 0;
    for (const [name, layout] of Object.entries(LAYOUTS)) {
      const cwd = path.join(layouts, name, layout.cwd ?? '.');
      const current = await run(u, mise, ['current'], miseEnv, { cwd, timeoutMs: 60000 });
      // mise also warns on stderr (a version not installed); only its answer on stdout is compared.
      assert.equal(current.code, 0, `${name}: mise current: ${current.stderr}`);
      const byMise = new Map(current.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => {
        const [tool, ...versions] = l.trim().split(/\s+/);
        // The first installed version of the tool's list, as mise's shims and `mise exec` run it.
        return [tool!, versions.find((v) => fs.existsSync(path.join(data, 'installs', tool!, v))) ?? versions[0]];
      }));
      for (const tool of TOOLS) {
        const r = await m.run('readlink', [path.join(m.dir, tool)], {}, { cwd });
        assert.equal(r.code, 0, r.stderr);
        const target = r.stdout.trim();
        const ours = path.basename(target) === 'none' ? 'none' : fs.existsSync(target) ? fs.realpathSync(target) : `missing:${path.basename(target)}`;
        const theirs = reached(data, tool, byMise.get(tool));
        if (ours !== theirs) disagreements.push(`${name}: ${tool}: mise ${theirs}, varsymfs ${ours}`);
        else {
          agreed++;
          if (ours !== 'none') named++;
        }
      }
      const env = await run(u, mise, ['env', '--json'], miseEnv, { cwd, timeoutMs: 60000 });
      assert.equal(env.code, 0, `${name}: mise env: ${env.stderr}`);
      const theirEnv = JSON.parse(env.stdout) as Record<string, string>;
      for (const variable of ENV_VARS) {
        const ours = (await m.run('readlink', [path.join(m.dir, variable)], {}, { cwd })).stdout.trim();
        const theirs = theirEnv[variable] ?? 'none';
        if (ours !== theirs) disagreements.push(`${name}: ${variable}: mise ${theirs}, varsymfs ${ours}`);
        else {
          agreed++;
          if (ours !== 'none') named++;
        }
      }
    }
    t.diagnostic(`${Object.keys(LAYOUTS).length} layouts x ${TOOLS.length + ENV_VARS.length} tools and variables; ${agreed} answers agree (${named} name a value); differences: ${disagreements.join('; ') || 'none'}`);
    const undocumented = disagreements.filter((d) => DELIBERATE[d.slice(0, d.indexOf(':'))] === undefined);
    assert.deepEqual(undocumented, [], `disagreements with mise:\n${disagreements.join('\n')}`);
    // Each deliberate difference still shows (else it is fixed and must leave the list).
    for (const name of Object.keys(DELIBERATE)) assert.ok(disagreements.some((d) => d.startsWith(`${name}:`)), `${name} now agrees: remove it from DELIBERATE and the docs`);
  });
});
