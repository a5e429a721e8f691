// Loading the two compiled bindings (src/native.ts): each documented failure made real in a private
// mount namespace (the library or the binding covered by an empty file) gives its one line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { VarsymfsError } from '../src/errors';
import { checkLayout, decodeSlot, loadHelpers, type Layout } from '../src/native';
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

test('decodeSlot reads the caller\'s pid where the layout puts it, not at a fixed offset', () => {
  const real = loadHelpers().layout;
  // A layout with the context's fields in another order: the pid then sits at 8.
  const layout: Layout = { ...real, caller: { ...real.caller, pid: 8, gid: 0 } };
  const locals = Buffer.alloc(real.slot.offset + real.slot.bytes);
  locals.writeUInt32LE(1111, 0);
  locals.writeUInt32LE(4242, 8);
  locals.writeInt32LE(real.status.resolve, real.slot.offset + real.slot.status);
  locals.writeInt32LE(real.source.fresh, real.slot.offset + real.slot.source);
  locals.writeInt32LE(real.project.off, real.slot.offset + real.slot.projectStatus);
  assert.equal(decodeSlot(layout, locals)?.pid, 4242);
  assert.equal(decodeSlot(real, locals)?.pid, 1111);
});

test('a binding built from another varsymfs.h (a layout field missing): one line that says to rebuild', () => {
  const real = loadHelpers().layout;
  const line = (l: unknown) => {
    try {
      checkLayout(l);
    } catch (err) {
      assert.ok(err instanceof VarsymfsError);
      return err.message;
    }
    return 'accepted';
  };
  assert.equal(line(real), 'accepted');
  const noStat: Record<string, unknown> = { ...real };
  delete noStat.stat;
  assert.equal(line(noStat), 'the varsymfs_native binding is out of date (its layout has no stat): run `npm ci` in the varsymfs directory');
  assert.equal(line({ ...real, caller: { ...real.caller, pid: undefined } }), 'the varsymfs_native binding is out of date (its layout has no caller.pid): run `npm ci` in the varsymfs directory');
});
