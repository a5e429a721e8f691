// Versions matched as install trees name them (issue 21 item 1; rules in src/versions.ts), through a real
// mount: each caller is a real process with `env -i`, its own working directory in a project, and reads
// the variant link `<tool> -> <tree>/<tool>/$<<TOOL>_VERSION:-none>`; what it gets is the install
// directory its project's version matched. Installing and removing a version is seen by later resolutions.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { stallMount } from './helpers/execenv';
import { chownTree, mount, tempDir, type Mounted } from './helpers/mount';
import { plainUser, rootUser, type TestUser } from './helpers/users';

const T = { timeout: 300000 };
const user = plainUser() ?? rootUser();

/** An install tree: `<tree>/<tool>/<name>` directories, and mise-style runtime links (`lts-iron -> 20.10.0`). */
function installTree(t: TestContext, u: TestUser): string {
  const tree = tempDir(t, u, 'versions-tree-');
  const dirs: Record<string, string[]> = {
    node: ['18.2.0', '20.1.0', '20.9.0', '20.10.0'],
    go: ['1.21.0', '1.21.9', '1.21.10', '1.22.0'],
    ruby: ['3.3.0'],
    python: ['3.11.0', 'python-3.12'],
  };
  for (const [tool, names] of Object.entries(dirs)) for (const n of names) fs.mkdirSync(path.join(tree, tool, n), { recursive: true });
  fs.symlinkSync('./20.10.0', path.join(tree, 'node', 'lts-iron'));
  if (process.geteuid?.() === 0) chownTree(tree, u);
  return tree;
}

/** A project directory holding `files`, owned by the test user. */
function project(t: TestContext, u: TestUser, files: Record<string, string>): string {
  const dir = tempDir(t, u, 'versions-proj-');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  if (process.geteuid?.() === 0) chownTree(dir, u);
  return dir;
}

async function treeMount(t: TestContext, u: TestUser, tree: string, args: string[] = []): Promise<Mounted> {
  return mount(t, u, {
    dir: tempDir(t, u, 'versions-mnt-'),
    args,
    setup: (d) => {
      for (const tool of ['node', 'go', 'ruby', 'python']) fs.symlinkSync(`${tree}/${tool}/$<${tool.toUpperCase()}_VERSION:-none>`, path.join(d, tool));
    },
  });
}

/** What `tool` resolves to for a process working in `cwd` with an empty environment (its last component). */
async function seen(m: Mounted, tool: string, cwd: string): Promise<string> {
  const r = await m.run('readlink', [path.join(m.dir, tool)], {}, { cwd });
  assert.equal(r.code, 0, r.stderr);
  return path.basename(r.stdout.trim());
}

describe('versions as install trees name them', { skip: user === undefined ? 'no test user' : false }, () => {
  test('each form a version manager writes reaches the directory the tree has', T, async (t) => {
    const tree = installTree(t, user!);
    const m = await treeMount(t, user!, tree);
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ '.nvmrc': 'v20.1.0\n' }, 'node', '20.1.0'],
      [{ '.nvmrc': '20\n' }, 'node', '20.10.0'],
      [{ '.nvmrc': 'lts/iron\n' }, 'node', 'lts-iron'],
      [{ '.ruby-version': 'ruby-3.3.0\n' }, 'ruby', '3.3.0'],
      [{ '.python-version': '3.12\n' }, 'python', 'python-3.12'],
      [{ '.python-version': '3.13\n3.11.0\n' }, 'python', '3.11.0'],
      [{ '.tool-versions': 'go 1.99.0 1.21.0\n' }, 'go', '1.21.0'],
      [{ '.tool-versions': 'go 1.21\n' }, 'go', '1.21.10'],
      [{ '.tool-versions': 'go prefix:1.21\n' }, 'go', '1.21.10'],
      [{ '.tool-versions': 'golang 1.22.0\ngo 1.21.0\n' }, 'go', '1.21.0'],
      [{ 'mise.toml': '[tools]\ngo = "1.22"\n' }, 'go', '1.22.0'],
      [{ 'mise.toml': '[tools]\ngo = ["1.99", "1.21.9"]\n', '.tool-versions': 'go 1.22.0\n' }, 'go', '1.21.9'],
      [{ '.nvmrc': '21\n' }, 'node', '21'],
    ];
    for (const [files, tool, want] of cases) assert.equal(await seen(m, tool, project(t, user!, files)), want, JSON.stringify(files));
  });

  test('a mount default is matched too; an environment value is taken as written', T, async (t) => {
    const tree = installTree(t, user!);
    const m = await treeMount(t, user!, tree, ['--default', 'NODE_VERSION=20']);
    const empty = project(t, user!, {});
    assert.equal(await seen(m, 'node', empty), '20.10.0');
    const r = await m.run('readlink', [path.join(m.dir, 'node')], { NODE_VERSION: '20' }, { cwd: empty });
    assert.equal(path.basename(r.stdout.trim()), '20');
  });

  test('installing and removing a version is seen by the next resolutions', T, async (t) => {
    const tree = installTree(t, user!);
    const m = await treeMount(t, user!, tree);
    const dir = project(t, user!, { '.nvmrc': '20\n' });
    assert.equal(await seen(m, 'node', dir), '20.10.0');
    // The daemon learns of the change from inotify: wait for the answer to change (an event), not for a time.
    const until = async (want: string) => {
      for (let i = 0; i < 400 && (await seen(m, 'node', dir)) !== want; i++);
      assert.equal(await seen(m, 'node', dir), want);
    };
    fs.mkdirSync(path.join(tree, 'node', '20.11.0'));
    await until('20.11.0');
    fs.rmdirSync(path.join(tree, 'node', '20.11.0'));
    await until('20.10.0');
  });

  test('an install directory created after one program asked is seen by that program\'s next resolutions', T, async (t) => {
    // While the directory is missing its value is taken as written, an answer from a listing nothing
    // watches: never kept, so that the same program (its environment cached) sees the install.
    const tree = tempDir(t, user!, 'versions-tree-');
    const m = await treeMount(t, user!, tree);
    const dir = project(t, user!, { '.nvmrc': '20\n' });
    const py = String.raw`
import os, sys
link, tree = sys.argv[1:3]
first = os.path.basename(os.readlink(link))
os.makedirs(os.path.join(tree, "node", "20.10.0"))
last = first
for i in range(400):
    last = os.path.basename(os.readlink(link))
    if last == "20.10.0": break
print(first, last)
`;
    // Started from a shell of the user, so that the daemon's caller cache does work for it.
    const r = await m.run('sh', ['-c', 'python3 -c "$0" "$1" "$2"; true', py, path.join(m.dir, 'node'), tree], {}, { cwd: dir });
    assert.equal(r.stdout, '20 20.10.0\n', r.stderr);
  });

  test('resolve --explain says which candidate matched and which were tried', T, async (t) => {
    const tree = installTree(t, user!);
    const m = await treeMount(t, user!, tree);
    const dir = project(t, user!, { '.tool-versions': 'go 1.99.0 1.21\n' });
    const r = await m.run(user!.bin, ['resolve', '--explain', path.join(m.dir, 'go')], m.env, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /resolves to +\S+\/go\/1\.21\.10\n/);
    assert.match(r.stdout, /matched +1\.21\.10 \(newest with prefix\); tried 1\.99\.0, v1\.99\.0, go-1\.99\.0, 1\.99\.0\.\*, 1\.21, v1\.21, go-1\.21, 1\.21\.\* in \S+\/go\n/);
    const j = JSON.parse((await m.run(user!.bin, ['resolve', '--json', path.join(m.dir, 'go')], m.env, { cwd: dir })).stdout);
    assert.deepEqual(j.refs[0].match, { matched: '1.21.10', rule: 'newest with prefix', tried: ['1.99.0', 'v1.99.0', 'go-1.99.0', '1.99.0.*', '1.21', 'v1.21', 'go-1.21', '1.21.*'], dir: `${tree}/go` });
  });

  test('an install directory on a hung filesystem: the value is used as written after --project-timeout, and nobody hangs', { ...T, skip: process.geteuid?.() !== 0 ? 'needs root (the stalling FUSE mount)' : false }, async (t) => {
    const stall = await stallMount(t);
    const tree = installTree(t, user!);
    const hung = `${stall.dir}/hold/d/installs/go`;
    const m = await mount(t, user!, {
      dir: tempDir(t, user!, 'versions-mnt-'),
      setup: (d) => {
        fs.symlinkSync(`${hung}/$<GO_VERSION:-none>`, path.join(d, 'hung'));
        fs.symlinkSync(`${tree}/go/$<GO_VERSION:-none>`, path.join(d, 'go'));
      },
    });
    const a = project(t, user!, { '.tool-versions': 'go 1.21\n' });
    const read = (link: string, cwd: string) => m.run('readlink', [path.join(m.dir, link)], {}, { cwd, timeoutMs: 120000 });
    const first = await read('hung', a);
    assert.equal(first.stdout, `${hung}/1.21\n`, `the listing hangs: the value as written (${first.signal ?? first.code})`);
    await stall.held();
    // While that listing still hangs: another resolution of it, and another tree, answer.
    assert.equal((await read('hung', project(t, user!, { '.tool-versions': 'go 1.22.0\n' }))).stdout, `${hung}/1.22.0\n`);
    assert.equal(path.basename((await read('go', a)).stdout.trim()), '1.21.10');
    stall.release();
  });
});
