// One caller against the daemon's resources (docs/security.md, "Resources"): an expansion's length is known
// before it is built (issue 17, item 3); a directory of a million entries lists in bounded daemon memory
// (issue 9, finding 14); environments handed to JS are not kept by
// idle threads, and a daemon out of fds fails a variant link rather than answer its fallback (the
// native-path review, C and D: "At e111b13" says what each did on the code it reviewed; E the same for a
// cached caller whose environment is read again, with test/fixtures/envgone.c in the daemon).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { OTHER_UID, T, needsRootAndPlain, plain, root } from '../helpers/hostile';
import { mount, tempDir, waitFor } from '../helpers/mount';
import { asUser, baseEnv, describeEachUser, run } from '../helpers/users';

/** A node one-liner printing the link's target length, or the error code readlink gave. */
const READLINK = `try { process.stdout.write(String(require('fs').readlinkSync(process.argv[1]).length)); } catch (e) { process.stdout.write(e.code); }`;

/** The daemon's peak resident set (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

describe('14. a directory of 1 000 000 entries lists completely, in bounded daemon memory', { skip: !root ? 'needs root (one user is enough)' : false }, () => {
  test('ls -f through the mount', { timeout: 600000 }, async (t) => {
    // Made in the directory before it is mounted over (creating them through the mount would take minutes).
    const m = await mount(t, root!, {
      setup: (d) => {
        const made = spawnSync('python3', ['-c', 'import os,sys\nd=sys.argv[1]\nos.mkdir(d)\nfor i in range(1000000): os.mknod("%s/f%07d" % (d, i))', path.join(d, 'big')], { encoding: 'utf8', timeout: 500000 });
        assert.equal(made.status, 0, made.stderr);
      },
    });
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${m.pid}/status`, 'utf8'))![1]) * 1024;
    const before = rss();
    const r = spawnSync('sh', ['-c', 'ls -f "$0" | wc -l', path.join(m.dir, 'big')], { encoding: 'utf8', timeout: 300000 });
    const after = rss();
    t.diagnostic(`daemon RSS ${(before / 1048576).toFixed(1)} MiB before listing, ${(after / 1048576).toFixed(1)} MiB after`);
    assert.equal(r.stdout.trim(), '1000002');
    assert.ok(after - before < 16 * 1048576, 'listing must not hold the directory in the daemon\'s memory');
  });
});

describe('one unprivileged user cannot exhaust the daemon for everyone', { skip: needsRootAndPlain }, () => {
  test('C. environments handed to JS are not kept by idle FUSE threads (daemon memory stays bounded)', { timeout: 600000 }, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('v-$<V:-none>', path.join(d, 'link'))) });
    // ~4.5 MB of environment; 3 rounds of 200 short-lived threads at a time, each one's first request cold
    // (so it goes to JS with the environment in its slot whatever the memo holds): one round alone, kept,
    // would be ~900 MiB.
    const py = String.raw`
import os, sys, threading
if "BIG0" not in os.environ:
    env = {"PATH": "/usr/bin:/bin", "V": "a"}
    for i in range(36): env["BIG%d" % i] = "x" * 126000
    os.execve(sys.executable, [sys.executable, "-c", sys.argv[1]] + sys.argv[1:], env)
link = sys.argv[2]
for _ in range(3):
    ts = [threading.Thread(target=os.readlink, args=(link,)) for _ in range(200)]
    [x.start() for x in ts]; [x.join() for x in ts]
print("ok")
`;
    const base = rssBytes(m.pid);
    const threads = () => fs.readdirSync(`/proc/${m.pid}/task`).length;
    const idle = threads();
    const r = await run(plain!, 'sh', ['-c', 'ulimit -s unlimited; python3 -c "$0" "$0" "$1"', py, path.join(m.dir, 'link')]);
    assert.equal(r.stdout, 'ok\n', r.stderr);
    // libfuse retires a worker thread as it finishes a request when more than 10 are idle; what they held
    // must go with them. Measured once they are gone (at most 10 more threads than before the attack).
    assert.ok(await waitFor(() => threads() <= idle + 10), `the daemon's extra FUSE threads retired (${threads()} threads, ${idle} before)`);
    const grown = rssBytes(m.pid) - base;
    t.diagnostic(`daemon RSS grew by ${(grown / 1048576).toFixed(0)} MiB`);
    // At e111b13: ~1.1-1.6 GiB (each finished thread's locals keep the last malloc'd environment block
    // in the slot until a new request runs on them; the free list of locals is never trimmed).
    assert.ok(grown < 512 * 1048576, `daemon RSS grew by ${(grown / 1048576).toFixed(0)} MiB after the attack ended`);
  });

  test('D. with the daemon out of fds, a variant link is an error, never silently its fallback', T, async (t) => {
    const store = tempDir(t, root!);
    fs.chmodSync(store, 0o777);
    fs.symlinkSync('v-$<V:-fallback>', path.join(store, 'link'));
    fs.writeFileSync(path.join(store, 'shared'), 'data', { mode: 0o644 });
    const m = await mount(t, root!, { args: ['--allow-other', '--source', store] });
    const limit = Number(/Max open files\s+(\d+)/.exec(fs.readFileSync(`/proc/${m.pid}/limits`, 'utf8'))![1]);
    // As many holders as it takes (each holds what its own limit allows) until the daemon is full.
    const holder = 'import os,sys,resource\ns,h=resource.getrlimit(resource.RLIMIT_NOFILE)\nresource.setrlimit(resource.RLIMIT_NOFILE,(h,h))\nfds=[]\ntry:\n  while True: fds.append(os.open(sys.argv[1],os.O_RDONLY))\nexcept OSError: pass\nprint(len(fds),flush=True)\nsys.stdin.read()';
    const holders: Array<ReturnType<typeof spawn>> = [];
    t.after(() => holders.forEach((h) => h.kill('SIGKILL')));
    for (let i = 0; i < 64 && fs.readdirSync(`/proc/${m.pid}/fd`).length < limit - 8; i++) {
      const [file, argv] = asUser(plain!, 'python3', ['-c', holder, path.join(m.dir, 'shared')]);
      const h = spawn(file, argv, { env: baseEnv(plain!), stdio: ['pipe', 'pipe', 'ignore'] });
      holders.push(h);
      await new Promise((res) => h.stdout!.once('data', res));
    }
    // The table is full: the holders stopped because the daemon could open no more (not their own limit).
    const open = fs.readdirSync(`/proc/${m.pid}/fd`).length;
    assert.ok(open >= limit - 2, `the daemon holds ${open} fds of ${limit}`);
    const r = spawnSync('setpriv', ['--reuid', String(OTHER_UID), '--regid', String(OTHER_UID), '--clear-groups', '--', 'readlink', path.join(m.dir, 'link')], { env: { PATH: '/usr/bin:/bin', V: 'mine' }, encoding: 'utf8' });
    holders.forEach((h) => h.kill('SIGKILL'));
    // At e111b13: "v-fallback" (open_proc fails with EMFILE, which counts as "unreadable").
    assert.equal(r.stdout, '', 'a resource failure must not be answered as "no environment"');
    assert.notEqual(r.status, 0, `readlink fails: ${r.stderr}`);
  });
});

describe('a cached caller whose environment must be read again when the daemon is out of fds', { skip: !root ? 'needs root (LD_PRELOAD into a daemon it starts)' : false }, () => {
  test('E. the answer is that error, never the fallback of "no environment"', T, async (t) => {
    // test/fixtures/envgone.c in the daemon: once `trigger` exists, a cached caller's environment reads as an
    // image that went away after the one-byte check, and opening it again fails with EMFILE.
    const dir = tempDir(t, root!, 'envgone-');
    const shim = path.join(dir, 'envgone.so');
    const cc = spawnSync('gcc', ['-O1', '-shared', '-fPIC', '-o', shim, path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'envgone.c'), '-ldl'], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `gcc: ${cc.stderr}`);
    const trigger = path.join(dir, 'trigger');
    const m = await mount(t, root!, {
      env: { LD_PRELOAD: shim, ENVGONE_TRIGGER: trigger },
      setup: (d) => (fs.symlinkSync('v-$<A:-fallback>', path.join(d, 'one')), fs.symlinkSync('w-$<A:-fallback>', path.join(d, 'two'))),
    });
    // One process: a readlink (its environment read and cached), then, once told, statx of another link
    // with AT_STATX_DONT_SYNC: one LOOKUP, whose getattr reads the cached environment (a memo miss).
    const py = String.raw`
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
print(os.readlink(sys.argv[1]), flush=True)
sys.stdin.readline()
buf = ctypes.create_string_buffer(256)
if libc.statx(-100, sys.argv[2].encode(), 0x100 | 0x4000, 0x200, buf) != 0: print(os.strerror(ctypes.get_errno()), flush=True)
else: print("size", struct.unpack_from("<Q", buf, 40)[0], flush=True)
`;
    const child = spawn('python3', ['-c', py, path.join(m.dir, 'one'), path.join(m.dir, 'two')], { env: { PATH: '/usr/bin:/bin', A: 'mine' }, stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGKILL'));
    const lines: string[] = [];
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) (lines.push(out.slice(0, nl)), (out = out.slice(nl + 1)));
    });
    assert.ok(await waitFor(() => lines.length >= 1), 'the first readlink answered');
    assert.equal(lines[0], 'v-mine');
    fs.writeFileSync(trigger, '');
    child.stdin.write('\n');
    assert.ok(await waitFor(() => lines.length >= 2), 'the statx answered');
    fs.rmSync(trigger);
    // At 04befe0: "size 10" (w-fallback: pass() went on with the caller's environment "unreadable" after
    // vsf_env_read failed with EMFILE). At 51cf762: "Too many open files".
    assert.equal(lines[1], 'Too many open files', 'a resource failure must not be answered as "no environment"');
    // Nothing was left held: the mount answers as before.
    assert.equal((await m.run('readlink', [path.join(m.dir, 'two')], { A: 'after' })).stdout, 'w-after\n');
  });
});

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
