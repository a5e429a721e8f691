// Bounds on what one caller can make the daemon do (issue 17, items 3 and 4): an expansion's length is known
// before it is built; one user holds at most its share of the daemon's resolutions. Through real mounts, as
// root and as the unprivileged test user, and across users on a root --allow-other mount.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { stallMount } from './helpers/execenv';
import { alive, isMounted, mount, onCleanup, tempDir, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser, plainUser, rootUser, run } from './helpers/users';

const T = { timeout: 300000 };

/** A node one-liner printing the link's target length, or the error code readlink gave. */
const READLINK = `try { process.stdout.write(String(require('fs').readlinkSync(process.argv[1]).length)); } catch (e) { process.stdout.write(e.code); }`;

/** The daemon's peak resident set (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

describeEachUser((user) => {
  test('an expansion over PATH_MAX is ENAMETOOLONG, and the daemon never builds it', T, async (t) => {
    // 1023 references in a 4 092-byte target, each naming a 127 KiB value: naively a 133 MB expansion.
    const target = '$<A>'.repeat(1023);
    const m = await mount(t, user, { dir: tempDir(t, user, 'bounds-'), setup: (d) => fs.symlinkSync(target, path.join(d, 'huge')) });
    const big = 'x'.repeat(130000);
    const before = peakRss(m.pid);
    const link = path.join(m.dir, 'huge');
    // Several fresh callers: each a new environment, so each a memo miss resolved in JS.
    for (let i = 0; i < 4; i++) {
      const r = await m.run(process.execPath, ['-e', READLINK, link], { A: big, I: String(i) });
      assert.equal(r.stdout, 'ENAMETOOLONG', r.stderr);
    }
    const st = await m.run('stat', ['-c', '%s', link], { A: big });
    assert.equal(st.stdout.trim(), String(1023 * big.length), 'lstat tells the length it would have');
    const grew = peakRss(m.pid) - before;
    assert.ok(grew < 32 * 1024 * 1024, `the daemon's peak memory grew by ${grew} bytes resolving a link it must refuse`);
  });

  test('the boundary: an expansion of 4 095 bytes is answered, 4 096 is ENAMETOOLONG', T, async (t) => {
    const m = await mount(t, user, { dir: tempDir(t, user, 'bounds-'), setup: (d) => fs.symlinkSync('/$<A>', path.join(d, 'edge')) });
    const link = path.join(m.dir, 'edge');
    for (const [len, want] of [[4095, '4095'], [4096, 'ENAMETOOLONG'], [4094, '4094']] as const) {
      const value = 'y'.repeat(len - 1);
      const r = await m.run(process.execPath, ['-e', READLINK, link], { A: value });
      assert.equal(r.stdout, want, `${len} bytes: ${r.stderr}`);
      const st = await m.run('stat', ['-c', '%s', link], { A: value });
      assert.equal(st.stdout.trim(), String(len), `${len} bytes: lstat's size`);
    }
  });
});

const root = rootUser();
const plain = plainUser();
const crossUser = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;

/** Python: chdir to argv[1], readlink argv[2]; prints the target, or `errno N`. */
const READLINK_IN = `import os, sys
os.chdir(sys.argv[1])
try:
    print(os.readlink(sys.argv[2]))
except OSError as e:
    print('errno', e.errno)
`;
const EAGAIN = 11;

/** A process of `user` that readlinks `link` from `cwd`; resolves with what it printed once it exits. */
function readlinkFrom(t: Parameters<typeof onCleanup>[0], user: NonNullable<ReturnType<typeof plainUser>>, cwd: string, link: string): { child: ChildProcess; done: Promise<string> } {
  const [cmd, argv] = asUser(user, 'python3', ['-c', READLINK_IN, cwd, link]);
  const child = spawn(cmd, argv, { env: baseEnv(user), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(t, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, done: new Promise((resolve) => child.on('close', () => resolve(out.trim()))) };
}

describe('one user\'s share of the daemon', { skip: crossUser }, () => {
  test('a user whose resolutions are held pins at most 16; its next are refused (EAGAIN), counted, and another user\'s resolution and a plain stat complete', T, async (t) => {
    const SHARE = 16;
    const CALLERS = SHARE + 8;
    // The attacker works in directories of a hung FUSE filesystem: each of its walks for project files
    // stays there (given a long --project-timeout), holding its resolution in the daemon.
    const stall = await stallMount(t);
    const m = await mount(t, root!, {
      dir: tempDir(t, root!, 'bounds-'),
      args: ['--allow-other', '--project-timeout', '600'],
      setup: (d) => {
        // A directory per caller: the kernel serializes lookups within one directory of a FUSE mount.
        for (let i = 0; i < CALLERS; i++) {
          fs.mkdirSync(path.join(d, `a${i}`));
          fs.symlinkSync('$<NOPE:-fallback>', path.join(d, `a${i}`, 'v'));
        }
        fs.mkdirSync(path.join(d, 'b'));
        fs.symlinkSync('$<B_VAR>', path.join(d, 'b', 'v'));
        fs.writeFileSync(path.join(d, 'plain'), 'plain\n');
      },
    });
    const callers = Array.from({ length: CALLERS }, (_, i) => readlinkFrom(t, plain!, path.join(stall.dir, 'hold', `d${i}`), path.join(m.dir, `a${i}`, 'v')));
    // The first CALLERS - SHARE to finish are the ones past the share: each refused after a bounded wait.
    const early: string[] = [];
    await new Promise<void>((resolve) => {
      for (const c of callers) {
        void c.done.then((out) => {
          early.push(out);
          if (early.length === CALLERS - SHARE) resolve();
        });
      }
    });
    assert.deepEqual(early, Array(CALLERS - SHARE).fill(`errno ${EAGAIN}`), 'the callers past the share are refused');
    // Another user, meanwhile: a cold resolution (a new process, a new environment) and a plain stat.
    const b = await run(root!, 'python3', ['-c', READLINK_IN, '/', path.join(m.dir, 'b', 'v')], { B_VAR: 'bee' });
    assert.equal(b.stdout.trim(), 'bee', b.stderr);
    const st = await run(root!, 'stat', ['-c', '%s', path.join(m.dir, 'plain')]);
    assert.equal(st.stdout.trim(), '6', st.stderr);
    const status = await m.cli(['status', m.dir, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const cache = (JSON.parse(status.stdout) as Array<{ cache: { shareRefused?: number } }>)[0]!.cache;
    assert.ok((cache.shareRefused ?? 0) >= CALLERS - SHARE, `status counts the refusals: ${JSON.stringify(cache)}`);
    // Released, the held ones get their answer (each walk's next lookup is held again: answered in turn).
    let finished = false;
    const all = Promise.all(callers.map((c) => c.done)).finally(() => (finished = true));
    while (!finished) {
      stall.release();
      await Promise.race([stall.held(), all]);
    }
    const late = await all;
    assert.equal(late.filter((o) => o === 'fallback').length, SHARE, late.join(', '));
  });
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
