// The install-directory listings (src/installs.ts): listed once, refused inside the mount or (when only
// public ones may be) when others may not list them, and dropped with a call to onChange when the
// directory changes. Real directories under the temp dir; every wait is for an event (the onChange call).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { InstallTrees, type Listing } from '../src/installs';

function tree(t: TestContext, names: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'versions-installs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const n of names) fs.mkdirSync(path.join(dir, n));
  fs.chmodSync(dir, 0o755);
  return dir;
}

// The watches do not keep the process alive (the daemon's mount does): a timer does, while a test waits.
function keepAlive(t: TestContext): void {
  const timer = setInterval(() => {}, 1000);
  t.after(() => clearInterval(timer));
}

const load = (trees: InstallTrees, dir: string) => new Promise<Listing>((resolve) => trees.load([dir], (m) => resolve(m.get(dir)!)));

test('a directory is listed once and kept; a change drops it and tells onChange', async (t) => {
  keepAlive(t);
  const dir = tree(t, ['1.21.0', '1.22.0']);
  let changed!: () => void;
  const change = new Promise<void>((resolve) => (changed = resolve));
  const trees = new InstallTrees({ mountPoint: '/nonexistent-mount', onlyPublic: false, timeoutMs: 300000, onChange: () => changed() });
  t.after(() => trees.close());
  assert.deepEqual([...((await load(trees, dir)) as Set<string>)].sort(), ['1.21.0', '1.22.0']);
  assert.deepEqual([...trees.get(dir)!].sort(), ['1.21.0', '1.22.0']);
  fs.mkdirSync(path.join(dir, '1.23.0'));
  await change;
  assert.equal(trees.get(dir), undefined);
  assert.ok(((await load(trees, dir)) as Set<string>).has('1.23.0'));
});

test('missing, not a directory, inside the mount (also through a symlink), not public: not listed', async (t) => {
  const dir = tree(t, ['a']);
  fs.writeFileSync(path.join(dir, 'file'), '');
  fs.symlinkSync(path.join(dir, 'a'), path.join(dir, 'link'));
  const trees = new InstallTrees({ mountPoint: path.join(fs.realpathSync(dir), 'a'), onlyPublic: true, timeoutMs: 300000, onChange: () => {} });
  t.after(() => trees.close());
  assert.equal(await load(trees, path.join(dir, 'nope')), 'missing');
  assert.equal(await load(trees, path.join(dir, 'file')), 'missing');
  assert.equal(await load(trees, path.join(dir, 'a')), 'refused');
  assert.equal(await load(trees, path.join(dir, 'link')), 'refused');
  fs.mkdirSync(path.join(dir, 'private'), { mode: 0o700 });
  fs.chmodSync(path.join(dir, 'private'), 0o700);
  assert.equal(await load(trees, path.join(dir, 'private')), 'refused');
  assert.ok((await load(trees, dir)) instanceof Set, 'a public directory outside the mount is listed');
});

test('the mount point and what is below it are refused, a sibling that shares its prefix is listed; without a mount point all are', async (t) => {
  const dir = tree(t, ['a', 'ab', 'a/sub']);
  const real = fs.realpathSync(dir);
  const trees = new InstallTrees({ mountPoint: path.join(real, 'a'), onlyPublic: false, timeoutMs: 5000, onChange: () => {} });
  t.after(() => trees.close());
  assert.equal(await load(trees, path.join(dir, 'a', 'sub')), 'refused');
  assert.ok((await load(trees, path.join(dir, 'ab'))) instanceof Set, 'a/ is not a prefix of ab/');
  const all = new InstallTrees({ mountPoint: '/', onlyPublic: false, timeoutMs: 5000, onChange: () => {} });
  t.after(() => all.close());
  assert.equal(await load(all, path.join(dir, 'ab')), 'refused', 'a mount on / covers every directory');
  const none = new InstallTrees({ mountPoint: '', onlyPublic: false, timeoutMs: 5000, onChange: () => {} });
  t.after(() => none.close());
  assert.ok((await load(none, path.join(dir, 'ab'))) instanceof Set, 'no mount point: nothing is inside it');
});
