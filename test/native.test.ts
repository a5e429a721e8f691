// Loading the two compiled bindings (src/native.ts): each documented failure made real in a private
// mount namespace (the library or the binding covered by an empty file) gives its one line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers/mount';
import { PROJECT_BIN, rootUser, run } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const project = path.resolve(path.dirname(PROJECT_BIN), '..');
const skip = !root ? 'needs root (a private mount namespace)' : false;

/** `varsymfs mount <dir>` as root with `file` covered by `by` in a private mount namespace. */
async function mountWith(t: import('node:test').TestContext, file: string, by: string) {
  const dir = tempDir(t, root!);
  const r = await run(root!, 'unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', `mount --bind "$1" "$2"; exec "$3" mount "$4"`, 'sh', by, file, PROJECT_BIN, dir], { XDG_STATE_HOME: path.join(dir, '.state') });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  return r.stderr;
}

test('libfuse2 missing, and either binding not built: one line that says what to install or run', { ...T, skip }, async (t) => {
  const empty = path.join(tempDir(t, root!, 'varsymfs-stub-'), 'empty.so');
  fs.writeFileSync(empty, '');
  const known = /libfuse\.so\.2 \(.*\) => (\S+)/.exec(spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout);
  assert.ok(known, 'ldconfig knows libfuse.so.2');
  const libfuse = fs.realpathSync(known[1]!);
  assert.equal(await mountWith(t, libfuse, empty), 'Error: libfuse2 is not installed (libfuse.so.2 not found): install it with `apt-get install libfuse2` (`libfuse2t64` on Ubuntu 24.04 and Debian 13)\n');
  assert.match(await mountWith(t, path.join(project, 'src', 'binding', 'build', 'Release', 'varsymfs_native.node'), empty), /^Error: the varsymfs_native binding is not built \(.+\): run `npm ci` in the varsymfs directory\n$/);
  assert.match(await mountWith(t, path.join(project, 'node_modules', 'fuse-native', 'build', 'Release', 'fuse.node'), empty), /^Error: the fuse-native binding is not built \(.+\): run `npm ci` in the varsymfs directory\n$/);
});

test('fuse-native not patched: the documented line', { ...T, skip }, async (t) => {
  const unpatched = path.join(tempDir(t, root!, 'varsymfs-stub-'), 'index.js');
  fs.writeFileSync(unpatched, 'module.exports = class Fuse {}\n'); // the class without the patch's context()
  assert.equal(await mountWith(t, path.join(project, 'node_modules', 'fuse-native', 'index.js'), unpatched), 'Error: fuse-native is not patched (run npm ci, which applies src/binding/fuse-native+2.2.6.patch)\n');
});
