// Host facts and unmounting (src/system.ts, through the CLI): a busy mount, --lazy, a directory that is
// not a varsymfs mount, fusermount refusing, a daemon killed while stalled on another FUSE server, and each
// preflight failure made real in a private mount namespace (no fusermount, no /dev/fuse, no user_allow_other).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadFuse } from '../src/native';
import { readMounts } from '../src/mountinfo';
import { readlinkFrom, stallMount } from './helpers/execenv';
import { alive, isMounted, mount, onCleanup, tempDir, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser, plainUser, rootUser, run, type TestUser } from './helpers/users';

const T = { timeout: 300000 };

/** A FUSE mount that is not varsymfs: a one-directory filesystem served by this process. */
async function otherFuse(t: TestContext): Promise<{ dir: string; fsType: string }> {
  const Fuse = loadFuse();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-other-'));
  fs.chmodSync(dir, 0o755);
  const now = new Date();
  const fuse = new Fuse(dir, {
    getattr: (p: string, cb: (e: number, st?: object) => void) => (p === '/' ? cb(0, { mode: 0o40755, atime: now, mtime: now, ctime: now, nlink: 2 }) : cb(-2)),
  }, { timeout: false, options: process.geteuid?.() === 0 ? ['allow_other'] : [] });
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
  onCleanup(t, async () => {
    // Unmounted from outside already (a varsymfs command that wrongly took it for its own)? Then
    // fuse-native's unmount would wait forever; say so instead.
    const wasMounted = isMounted(dir);
    if (wasMounted) await new Promise((r) => fuse.unmount(r));
    fs.rmSync(dir, { recursive: true, force: true });
    if (!wasMounted) throw new Error(`${dir} was unmounted by someone else`);
  });
  return { dir, fsType: readMounts().find((m) => m.mountPoint === dir)!.fsType };
}

describeEachUser((user) => {
  test('unmount: a busy mount is refused with the reason; --lazy detaches it; the daemon exits when the last user leaves', T, async (t) => {
    const m = await mount(t, user, { setup: (d) => fs.writeFileSync(path.join(d, 'f'), 'x') });
    const [file, argv] = asUser(user, 'sh', ['-c', 'cd "$0" && exec sleep infinity', m.dir]);
    const holder = spawn(file, argv, { env: baseEnv(user), stdio: 'ignore' });
    t.after(() => holder.kill('SIGKILL'));
    assert.ok(await waitFor(() => { try { return fs.readlinkSync(`/proc/${holder.pid}/cwd`) === m.dir; } catch { return false; } }), 'a process works in the mount');
    const busy = await m.cli(['unmount', m.dir]);
    assert.equal(busy.code, 1);
    assert.equal(busy.stderr, `Error: ${m.dir} is busy (a process has its working directory or a file open there); close them, or use --lazy\n`);
    assert.ok(isMounted(m.dir), 'still mounted');
    const lazy = await m.cli(['unmount', '--lazy', m.dir]);
    assert.equal(lazy.code, 0, lazy.stderr);
    assert.equal(isMounted(m.dir), false, 'detached at once');
    assert.ok(alive(m.pid), 'the daemon still serves the process inside');
    holder.kill('SIGKILL');
    assert.ok(await waitFor(() => !alive(m.pid)), 'the daemon exits once nothing uses the mount');
  });

  test('a directory that is not a varsymfs mount: unmount, defaults, status and resolve say so', T, async (t) => {
    const other = await otherFuse(t);
    const plainDir = tempDir(t, user);
    const env = { XDG_STATE_HOME: path.join(plainDir, 'state') };
    for (const [args, message] of [
      [['unmount', other.dir], `Error: ${other.dir} is not a varsymfs mount (it is ${other.fsType})\n`],
      [['umount', plainDir], `Error: ${plainDir} is not mounted\n`],
      [['defaults', other.dir], `Error: ${other.dir} is not a varsymfs mount\n`],
      [['defaults', plainDir, 'A=1'], `Error: ${plainDir} is not a varsymfs mount\n`],
      [['status', other.dir], `Error: ${other.dir} is not a varsymfs mount of this user\n`],
      [['resolve', path.join(other.dir, 'x')], `Error: ${path.join(other.dir, 'x')} is not inside a varsymfs mount\n`],
    ] as const) {
      const r = await run(user, user.bin, args, env);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr, message);
    }
    assert.ok(isMounted(other.dir), 'left alone');
  });
});

const root = rootUser();
const plain = plainUser();
const both = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;

/** Runs `varsymfs args` as `user` inside a private mount namespace prepared by root's `setup` script. */
function inNamespace(setup: string, user: TestUser, args: string[], env: NodeJS.ProcessEnv) {
  const [file, argv] = asUser(user, user.bin, args);
  const quoted = [file, ...argv].map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  return run(root!, 'unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', `${setup}\nexec ${quoted}`], env);
}

test('preflight failures, made real in a private mount namespace: one line each, exit 1', { ...T, skip: both }, async (t) => {
  const dir = tempDir(t, plain!);
  const stub = path.join(tempDir(t, root!, 'varsymfs-stub-'), 'stub');
  fs.writeFileSync(stub, ''); // not executable, not a config
  const env = { XDG_STATE_HOME: path.join(dir, '.state') };
  const cases: Array<[string, TestUser, string[], string]> = [
    [`mount --bind ${stub} /usr/bin/fusermount3`, plain!, ['mount', dir], 'Error: fusermount is not installed (a normal user needs it to mount): install it with `apt-get install fuse3`\n'],
    [`mount --bind ${stub} /etc/fuse.conf`, plain!, ['mount', dir, '--allow-other'], "Error: --allow-other needs 'user_allow_other' in /etc/fuse.conf (ask root to add that line)\n"],
    ['mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3', plain!, ['mount', dir], 'Error: /dev/fuse does not exist: load the module with `modprobe fuse` (in a container, pass the device in with --device /dev/fuse)\n'],
    ['mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3', root!, ['mount', dir], 'Error: /dev/fuse does not exist: load the module with `modprobe fuse` (in a container, pass the device in with --device /dev/fuse)\n'],
  ];
  for (const [setup, user, args, message] of cases) {
    const r = await inNamespace(setup, user, args, env);
    assert.equal(r.code, 1, `${setup}: ${r.stderr}`);
    assert.equal(r.stderr, message, setup);
    assert.equal(isMounted(dir), false);
  }
});

test('fusermount refusing: unmounting another user\'s mount, and a stale mount the user cannot clear', { ...T, skip: both }, async (t) => {
  const m = await mount(t, root!, { args: ['--allow-other'] });
  const un = await run(plain!, plain!.bin, ['unmount', m.dir], { XDG_STATE_HOME: tempDir(t, plain!, 'varsymfs-state-') });
  assert.equal(un.code, 1);
  assert.match(un.stderr, new RegExp(`^Error: unmounting ${m.dir} failed: (\\S*/)?fusermount3: .+\n$`));
  assert.ok(isMounted(m.dir));
  // The root daemon dies: its mount is stale, and a normal user may not unmount root's mount.
  process.kill(m.pid, 'SIGKILL');
  assert.ok(await waitFor(() => !alive(m.pid)));
  const again = await run(plain!, plain!.bin, ['mount', m.dir], { XDG_STATE_HOME: tempDir(t, plain!, 'varsymfs-state-') });
  assert.equal(again.code, 1);
  assert.match(again.stderr, new RegExp(`^Error: ${m.dir} is a stale mount and could not be unmounted: (\\S*/)?fusermount3: .+\n$`));
});

/** The daemon's state letter in /proc/<pid>/stat (Z: a zombie), or undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    return /\) (\S) /.exec(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

describeEachUser((user) => {
  test('`varsymfs unmount` works after the daemon stalled on another FUSE server and was killed -9', T, async (t) => {
    if (root !== undefined && !fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' - fusectl ')) {
      // As on most distributions (systemd mounts it at boot): a normal user's unmount needs it to abort.
      fs.mkdirSync('/sys/fs/fuse/connections', { recursive: true });
      await run(root, 'mount', ['-t', 'fusectl', 'fusectl', '/sys/fs/fuse/connections']);
    }
    const stall = await stallMount(t);
    const m = await mount(t, user, {
      dir: tempDir(t, user, 'bounds-'),
      args: ['--project-timeout', '600'],
      setup: (d) => fs.symlinkSync('$<NOPE:-fallback>', path.join(d, 'v')),
    });
    // A caller of the mount whose project walk the hung server holds: its request stays in the daemon.
    const caller = readlinkFrom(t, user, path.join(stall.dir, 'hold', 'k0'), path.join(m.dir, 'v'));
    await stall.held();
    process.kill(m.pid, 'SIGKILL');
    // Its thread waiting on the hung server cannot die: the daemon stays a zombie and holds the connection.
    assert.ok(await waitFor(() => procState(m.pid) === 'Z' || procState(m.pid) === 'D' || !alive(m.pid)), 'the daemon was killed');
    const r = await m.cli(['unmount', m.dir]);
    assert.equal(r.code, 0, `unmount: ${r.stderr}`);
    assert.equal(isMounted(m.dir), false, 'the mount is gone');
    assert.match(await caller.done, /^errno \d+$/, 'the caller blocked in the mount got an error');
    // Released, the zombie's last thread exits.
    let finished = false;
    const gone = waitFor(() => !alive(m.pid) || procState(m.pid) === 'Z', 60000).finally(() => (finished = true));
    while (!finished) {
      stall.release();
      await Promise.race([stall.held(), gone]);
    }
  });
});
