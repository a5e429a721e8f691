// The daemon's start-up failures through the CLI (src/daemon.ts, src/cli.ts): each documented reason is
// one line and exit 1, and nothing stays mounted.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isMounted, tempDir } from './helpers/mount';
import { describeEachUser, plainUser, rootUser, run } from './helpers/users';
import { logFile } from '../src/paths';

const T = { timeout: 300000 };

describeEachUser((user) => {
  test('mount point and source that cannot be used: one line naming which and why', T, async (t) => {
    const base = tempDir(t, user);
    const loop = path.join(base, 'loop');
    fs.symlinkSync('loop', loop);
    const file = path.join(base, 'file');
    fs.writeFileSync(file, '');
    const outside = tempDir(t, user);
    const env = { XDG_STATE_HOME: path.join(outside, 'state') };
    for (const [args, message] of [
      [['mount', loop], `Error: mount point ${loop}: ELOOP: too many symbolic links encountered, stat '${loop}'\n`],
      [['mount', outside, '--source', loop], `Error: source ${loop}: ELOOP: too many symbolic links encountered, stat '${loop}'\n`],
      [['mount', outside, '--source', file], `Error: source ${file} is not a directory\n`],
    ] as const) {
      const r = await run(user, user.bin, args, env);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr, message);
    }
    assert.equal(isMounted(outside), false);
  });

  test('a daemon that dies before mounting: the CLI says so and names the log', T, async (t) => {
    const dir = tempDir(t, user);
    const state = tempDir(t, user, 'varsymfs-state-');
    // Loaded by every node process started with it: the CLI carries on, the daemon it starts (the only
    // one given --ready-fd) exits at once, before it can say anything.
    const hook = path.join(state, 'die.js');
    fs.writeFileSync(hook, "if (process.argv.includes('--ready-fd')) process.exit(3);\n", { mode: 0o644 });
    const r = await run(user, user.bin, ['mount', dir], { XDG_STATE_HOME: state, NODE_OPTIONS: `--require ${hook}` });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `Error: the daemon exited before mounting ${dir} (see ${logFile(dir, { XDG_STATE_HOME: state })})\n`);
    assert.equal(isMounted(dir), false);
  });
});

const root = rootUser();
const plain = plainUser();

test('a directory the user cannot enter: one line with the reason', { ...T, skip: !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false }, async (t) => {
  const closed = tempDir(t, root!);
  fs.chmodSync(closed, 0o700);
  const inside = path.join(closed, 'inside');
  fs.mkdirSync(inside);
  const mine = tempDir(t, plain!);
  const env = { XDG_STATE_HOME: path.join(mine, '.state') };
  const denied = await run(plain!, plain!.bin, ['mount', inside], env);
  assert.equal(denied.code, 1);
  assert.equal(denied.stderr, `Error: mount point ${inside} is not accessible to this user\n`);
  const deniedSource = await run(plain!, plain!.bin, ['mount', mine, '--source', inside], env);
  assert.equal(deniedSource.stderr, `Error: source ${inside} is not accessible to this user\n`);
});

test('fusermount refusing to mount: its reason follows the dash', { ...T, skip: !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false }, async (t) => {
  // Root's directory, open to all: the user may look, but fusermount refuses to mount there.
  const roots = tempDir(t, root!);
  const env = { XDG_STATE_HOME: path.join(tempDir(t, plain!), '.state') };
  const refused = await run(plain!, plain!.bin, ['mount', roots], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^Error: mounting ${roots} failed: .+ — (fuse|fusermount\\d?): .+\n$`));
  assert.equal(isMounted(roots), false);
});

test('another filesystem mounted exactly there: fuse-native\'s "Mountpoint in use"', { ...T, skip: !root ? 'needs root (mounts a tmpfs)' : false }, async (t) => {
  const dir = tempDir(t, root!);
  const tmpfs = await run(root!, 'mount', ['-t', 'tmpfs', 'varsymfs-test', dir]);
  assert.equal(tmpfs.code, 0, tmpfs.stderr);
  const r = await run(root!, root!.bin, ['mount', dir], { XDG_STATE_HOME: tempDir(t, root!, 'varsymfs-state-') });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `Error: mounting ${dir} failed: Mountpoint in use\n`);
});
