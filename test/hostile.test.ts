// Hostile and unusual callers (issue #9): each finding of the security review, reproduced through a real
// mount. A caller controls names (any bytes but '/' and NUL), link targets, its environment and memory,
// its thread churn and its timing; none of that may give a wrong answer, act on another file, leak
// another user's data or end the daemon. Numbers in test names are the issue's.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { alive, mount, tempDir, type Mounted, waitFor, whichProgramStore } from './helpers/mount';
import { asUser, baseEnv, plainUser, rootUser, run, testUsers, type TestUser } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();
const needsRootAndPlain = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
/** A second unprivileged identity, by raw ids (no account needed). */
const OTHER_UID = 47111;

let hostile = '';
after(() => {
  if (hostile !== '') fs.rmSync(path.dirname(hostile), { recursive: true, force: true });
});
before(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-hostile-'));
  fs.chmodSync(dir, 0o755);
  hostile = path.join(dir, 'hostile');
  const src = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'hostile.c');
  const r = spawnSync('gcc', ['-O1', '-pthread', '-o', hostile, src], { encoding: 'utf8' });
  assert.equal(r.status, 0, `gcc: ${r.stderr}`);
});

/** The daemon's open fds. */
function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** A long-running process as `user`; resolves with its first stdout line; end() closes its stdin. */
function startLong(user: TestUser, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ line: string; end: () => void }> {
  const [file, argv] = asUser(user, cmd, args);
  const child = spawn(file, argv, { env: { ...baseEnv(user), ...env }, cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`${cmd}: no output`))), 300000);  // a liveness bound of minutes
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ line: out.slice(0, nl), end: () => child.stdin.end() });
      }
    });
    child.on('error', reject);
  });
}

/** Runs `cmd` as a new process whose pid is `tid` (root only), as `uid`:`gid` with exactly `env`. */
function runWithPid(tid: number, uid: number, gid: number, cmd: string[], env: NodeJS.ProcessEnv) {
  const argv = ['clone-tid', String(tid), 'setpriv', '--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--', '/usr/bin/env', ...cmd];
  return spawnSync(hostile, argv, { env: { PATH: '/usr/bin:/bin', ...env }, encoding: 'utf8', timeout: 300000 });
}

describe('1. a reused thread id never gets another thread\'s environment', { skip: !root ? 'clone3 set_tid needs root' : false }, () => {
  for (const [label, user] of testUsers()) {
    test(`same user, ${label}`, T, async (t) => {
      const m = await mount(t, user, { setup: (d) => fs.symlinkSync('$<SECRET:-none>', path.join(d, 'link')) });
      const link = path.join(m.dir, 'link');
      let r: ReturnType<typeof runWithPid>;
      // On a busy machine another process may take the freed number first (clone3: EEXIST): try again.
      for (let attempt = 0; ; attempt++) {
        // A thread of process A (SECRET=alpha) resolves the link and exits; A lives on, keeping its memory.
        const a = await startLong(user, hostile, ['thread-readlink', link], { SECRET: 'alpha' });
        t.after(a.end);
        const [tid, seen] = a.line.split(' ');
        assert.equal(seen, 'alpha');
        // A new process gets that number as its pid, with its own environment.
        r = runWithPid(Number(tid), user.uid, user.gid, ['readlink', link], { SECRET: 'beta' });
        if (!(r.status === 111 && /File exists/.test(r.stderr)) || attempt === 4) break;
      }
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'beta\n', 'the new process must see its own environment, not the old thread\'s');
    });
  }

  test('across users: another uid given a victim thread\'s number sees only its own environment', { ...T, skip: needsRootAndPlain }, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('$<SECRET:-none>', path.join(d, 'link'))) });
    const link = path.join(m.dir, 'link');
    const a = await startLong(plain!, hostile, ['thread-readlink', link], { SECRET: 'victim-secret' });
    t.after(a.end);
    const [tid, seen] = a.line.split(' ');
    assert.equal(seen, 'victim-secret');
    const r = runWithPid(Number(tid), OTHER_UID, OTHER_UID, ['readlink', link], { SECRET: 'attacker' });
    assert.equal(r.stdout, 'attacker\n', r.stderr);
    const r2 = runWithPid(Number(tid) + 0, OTHER_UID, OTHER_UID, ['readlink', link], {});
    assert.equal(r2.stdout, 'none\n', `no environment of the victim, ever: its own (none), ${r2.stderr}`);
  });
});

for (const [label, user] of testUsers()) {
  describe(`${label}`, () => {
    test('2. listxattr/getxattr with a too-small buffer: ERANGE, and the mount lives on', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => fs.writeFileSync(path.join(d, 'f'), 'data') });
      const f = path.join(m.dir, 'f');
      const set = await m.run('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.big", b"v" * 100); os.setxattr(sys.argv[1], "user.other", b"w")', f]);
      assert.equal(set.code, 0, set.stderr);
      const r = await m.run(hostile, ['xattr-small', f]);
      assert.equal(r.stdout, 'list=-1/34 get=-1/34\n', r.stderr);
      assert.equal((await m.run('cat', [f])).stdout, 'data');
      assert.ok(alive(m.pid));
    });

    test('3. 10 000 short-lived threads from 4 processes: right answers, daemon fds within the cache bound', T, async (t) => {
      const cacheSize = 64;
      const m = await mount(t, user, { args: ['--cache-size', String(cacheSize)], setup: (d) => fs.symlinkSync('v-$<V>', path.join(d, 'l')) });
      const before = fdCount(m.pid);
      // Started from a shell of the user (a normal user's daemon caches only callers it can tell apart
      // from their parent's memory: test/review.test.ts, B), so that the table really fills and churns.
      const runs = await Promise.all([0, 1, 2, 3].map((i) => m.run('sh', ['-c', '"$0" churn "$1" 2500 "$2"; true', hostile, path.join(m.dir, 'l'), `v-p${i}`], { V: `p${i}` }, { timeoutMs: 170000 })));
      assert.deepEqual(runs.map((r) => r.stdout.trim()), Array(4).fill('ok=2500 bad=0'), runs.map((r) => r.stderr).join(''));
      const after = fdCount(m.pid);
      t.diagnostic(`daemon fds: ${before} before, ${after} after`);
      // Two fds per cached caller (its anchor and its environment), plus a small constant.
      assert.ok(after <= before + 2 * cacheSize + 16, `fds grew from ${before} to ${after}`);
      const [st] = JSON.parse((await m.cli(['status', '--json', m.dir])).stdout) as Array<{ cache: { entries: number } }>;
      assert.ok(st!.cache.entries > 0 && st!.cache.entries <= cacheSize, `the table was used and stayed bounded (${st!.cache.entries} entries)`);
    });

    test('4. names, link targets and values are bytes end to end', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => fs.symlinkSync('$<V>', path.join(d, 'var')) });
      const script = String.raw`
import os, sys
d = sys.argv[1].encode()
os.chdir(d)
name = b"caf\xe9"
with open(name, "wb") as f: f.write(b"latin1")
assert name in os.listdir(b"."), os.listdir(b".")
assert os.stat(name).st_size == 6
os.rename(name, b"\xff\xfe")
assert open(b"\xff\xfe", "rb").read() == b"latin1"
assert name not in os.listdir(b".")
os.mkdir(b"d\xe9")
os.symlink(b"caf\xe9/\x80", b"plain")
assert os.readlink(b"plain") == b"caf\xe9/\x80", os.readlink(b"plain")
assert os.readlink(b"var") == os.environb[b"V"], (os.readlink(b"var"), os.environb[b"V"])
assert os.lstat(b"var").st_size == len(os.environb[b"V"])
os.unlink(b"\xff\xfe"); os.rmdir(b"d\xe9"); os.unlink(b"plain")
print("ok")
`;
      const r = await m.run('python3', ['-c', script, m.dir], { V: 'plain value' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ok\n');
      // A value that is not UTF-8 (and holds a newline), passed as raw bytes through execve.
      const readHex = 'import os,sys; print(os.readlink(sys.argv[1].encode()).hex(), os.lstat(sys.argv[1].encode()).st_size)';
      const hex = await m.run('python3', ['-c', 'import os,sys; os.execve(sys.executable, [sys.executable, "-c", sys.argv[1], sys.argv[2]], {b"V": bytes.fromhex("78fffe0a79")})', readHex, path.join(m.dir, 'var')]);
      assert.equal(hex.stdout, '78fffe0a79 5\n', hex.stderr);
    });

    test('6. pending exec: an envp crossing page boundaries reads exactly; one in a file\'s page is refused, never read', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => whichProgramStore(d, hostile) });
      const prog = path.join(m.dir, 'd', 'prog');
      // The exec'ing program's own environment says B: only the pending exec's may say A.
      assert.equal((await m.run(hostile, ['exec', 'straddle', prog, 'V=A'], { V: 'B' })).stdout, 'A\n');
      assert.equal((await m.run(hostile, ['exec', 'filebacked', prog, 'V=A'], { V: 'B' })).stdout, 'C\n', 'refused: neither the file page (A) nor the old environment (B)');
      const big = await m.run(hostile, ['exec', 'big', prog, 'V=A'], { V: 'B' });
      assert.match(big.stdout, /exec failed: 7\n/, 'the kernel refuses it too (E2BIG)');
      assert.equal((await m.run('readlink', [path.join(m.dir, 'd')], { V: 'A' })).stdout, 'A\n', 'the mount still answers');
    });

    test('7. a long source path is a clear error past the limit, and never costs default_permissions', T, async (t) => {
      const base = tempDir(t, user);
      let deep = base;
      while (deep.length < 1500) deep = path.join(deep, 'd'.repeat(200));
      fs.mkdirSync(deep, { recursive: true });
      if (process.geteuid?.() === 0) spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, base]);
      const mnt = tempDir(t, user);
      const ok = await run(user, user.bin, ['mount', mnt, '--source', deep, '--allow-other'], { XDG_STATE_HOME: path.join(base, 'state') });
      t.after(() => run(user, user.bin, ['unmount', mnt]));
      assert.equal(ok.code, 0, ok.stderr);
      const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt) ?? '';
      assert.match(line, /default_permissions/);
      assert.match(line, /allow_other/);
      await run(user, user.bin, ['unmount', mnt]);
      let tooDeep = deep;
      while (tooDeep.length < 3500) tooDeep = path.join(tooDeep, 'e'.repeat(200));
      fs.mkdirSync(tooDeep, { recursive: true });
      if (process.geteuid?.() === 0) spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, base]);
      const bad = await run(user, user.bin, ['mount', mnt, '--source', tooDeep], { XDG_STATE_HOME: path.join(base, 'state') });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^Error: the source path is too long to mount/);
      assert.equal(bad.stderr.trim().split('\n').length, 1);
    });

    test('9. `varsymfs defaults` never writes through a planted symlink', T, async (t) => {
      const store = tempDir(t, user);
      const m = await mount(t, user, { args: ['--source', store] });
      const victim = path.join(tempDir(t, user), 'victim');
      fs.writeFileSync(victim, 'untouched');
      for (let pid = m.pid - 2; pid <= m.pid + 2; pid++) fs.symlinkSync(victim, path.join(store, `.varsymfs-defaults.json.${pid}.tmp`));
      const r = await m.cli(['defaults', m.dir, 'X=1']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(store, '.varsymfs-defaults.json'), 'utf8')), { X: '1' });
    });

    test('11. a rejected symlink onto the reserved name is not created', T, async (t) => {
      const store = tempDir(t, user);
      const m = await mount(t, user, { args: ['--source', store] });
      for (const name of ['.varsymfs-defaults.json', '.varsymfs-defaults.json.tmp']) {
        const r = await m.run('ln', ['-s', 'x', path.join(m.dir, name)]);
        assert.notEqual(r.code, 0);
        assert.throws(() => fs.lstatSync(path.join(store, name)), /ENOENT/, `${name} must not exist in the store`);
      }
      for (const [cmd, args] of [['cat', ['.varsymfs-defaults.json']], ['touch', ['.varsymfs-defaults.json']], ['mkdir', ['.varsymfs-defaults.jsonx']]] as const) {
        assert.notEqual((await m.run(cmd, args.map((a) => path.join(m.dir, a)))).code, 0, `${cmd} ${args[0]}`);
      }
      assert.deepEqual(fs.readdirSync(store), []);
      // A target is text, not a name in the mount: a link whose target is the reserved path is an ordinary
      // link, and what the caller is told agrees with what the store holds.
      const r = await m.run('ln', ['-s', '/.varsymfs-defaults.json', path.join(m.dir, 'points-at-it')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readlinkSync(path.join(store, 'points-at-it')), '/.varsymfs-defaults.json');
    });
  });
}

describe('5, 12, 13. a root daemon serving others acts as the caller', { skip: needsRootAndPlain }, () => {
  async function shared(t: Parameters<typeof mount>[0], extra: string[] = []): Promise<{ m: Mounted; store: string }> {
    const store = tempDir(t, root!);
    fs.chmodSync(store, 0o777);
    const m = await mount(t, root!, { args: ['--allow-other', '--source', store, ...extra] });
    return { m, store };
  }

  test('13. new objects are born the caller\'s and inherit a setgid directory\'s group', T, async (t) => {
    const { m, store } = await shared(t);
    const GROUP = 4242;
    fs.mkdirSync(path.join(store, 'g'));
    fs.chownSync(path.join(store, 'g'), 0, GROUP);
    fs.chmodSync(path.join(store, 'g'), 0o2777);
    const r = await run(plain!, 'sh', ['-c', 'cd "$0/g" && echo x > file && mkdir sub && mkfifo fifo && ln -s file link', m.dir]);
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['file', 'sub', 'fifo', 'link']) {
      const st = fs.lstatSync(path.join(store, 'g', name));
      assert.deepEqual([st.uid, st.gid], [plain!.uid, GROUP], name);
    }
    assert.ok(fs.statSync(path.join(store, 'g', 'sub')).mode & 0o2000, 'a new directory keeps the setgid bit');
  });

  test('12. rmdir never removes a hidden file the caller could not remove itself', T, async (t) => {
    const { m, store } = await shared(t);
    const parent = path.join(store, 'p');
    fs.mkdirSync(parent);
    fs.chownSync(parent, plain!.uid, plain!.gid);
    fs.mkdirSync(path.join(parent, 'd'), { mode: 0o1777 });
    fs.chmodSync(path.join(parent, 'd'), 0o1777);
    fs.writeFileSync(path.join(parent, 'd', '.fuse_hidden0000000100000001'), 'root data');
    const r = await run(plain!, 'rmdir', [path.join(m.dir, 'p', 'd')]);
    assert.notEqual(r.code, 0);
    assert.equal(fs.readFileSync(path.join(parent, 'd', '.fuse_hidden0000000100000001'), 'utf8'), 'root data');
  });

  test('4. a name with invalid UTF-8 acts on that name, never on the U+FFFD one', T, async (t) => {
    const { m, store } = await shared(t);
    fs.writeFileSync(path.join(store, '\ufffd'), 'root file');
    const r = await run(plain!, 'python3', ['-c', 'import os,sys; d=sys.argv[1].encode(); os.mkdir(d + b"/\\xff"); os.symlink(b"t", d + b"/\\xfe")', m.dir]);
    assert.equal(r.code, 0, r.stderr);
    const st = fs.lstatSync(path.join(store, '\ufffd'));
    assert.deepEqual([st.uid, st.isFile(), fs.readFileSync(path.join(store, '\ufffd'), 'utf8')], [0, true, 'root file']);
    const names = fs.readdirSync(store, { encoding: 'buffer' }).map((b) => b.toString('hex')).sort();
    assert.deepEqual(names, ['efbfbd', 'fe', 'ff']);
  });

  test('5. a file renamed into place between lookup and create is never opened for a caller who could not open it', T, async (t) => {
    const { m, store } = await shared(t, ['--entry-timeout', '0']);
    const d = path.join(store, 'd');
    fs.mkdirSync(d);
    fs.chownSync(d, plain!.uid, plain!.gid);
    fs.writeFileSync(path.join(d, 'a'), 'TOPSECRET', { mode: 0o600 });
    const attack = String.raw`
import os, sys, threading, time, json
store, mnt = sys.argv[1], sys.argv[2]
# A count of tries, not a duration (a busy machine makes fewer tries in a given time); the clock is only a
# liveness bound of minutes.
stop = threading.Event()
bound = time.time() + 120
def swap():
    while not stop.is_set():
        try: os.rename(store + "/d/a", store + "/d/b"); os.rename(store + "/d/b", store + "/d/a")
        except OSError: pass
threading.Thread(target=swap).start()
counts = {}
for _ in range(2000):
    if time.time() > bound: break
    try:
        fd = os.open(mnt + "/d/b", os.O_CREAT | os.O_RDWR, 0o600)
        data = os.read(fd, 100)
        k = "LEAK" if data == b"TOPSECRET" else "created"
        os.close(fd)
    except OSError as e:
        k = "errno%d" % e.errno
    counts[k] = counts.get(k, 0) + 1
stop.set()
print(json.dumps(counts))
`;
    const r = await run(plain!, 'python3', ['-c', attack, store, m.dir]);
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(`outcomes: ${r.stdout.trim()}`);
    const counts = JSON.parse(r.stdout) as Record<string, number>;
    assert.equal(counts.LEAK, undefined, 'root\'s file was opened for the caller');
    assert.ok((counts.created ?? 0) > 0, 'the caller could create its own files');
    assert.equal(fs.readFileSync(path.join(d, fs.existsSync(path.join(d, 'a')) ? 'a' : 'b'), 'utf8'), 'TOPSECRET');
  });

  test('5. a directory swapped for another user\'s file right after mkdir is never given to the caller', T, async (t) => {
    const { m, store } = await shared(t, ['--entry-timeout', '0']);
    const d = path.join(store, 'd');
    fs.mkdirSync(d);
    fs.chownSync(d, plain!.uid, plain!.gid);
    fs.writeFileSync(path.join(d, 'victim'), 'root owned', { mode: 0o600 });
    const attack = String.raw`
import os, sys, threading, time, json
store, mnt = sys.argv[1], sys.argv[2]
# A count of tries, not a duration (see the test above); the clock is only a liveness bound of minutes.
stop = threading.Event()
bound = time.time() + 120
def swap():
    while not stop.is_set():
        try:
            os.rmdir(store + "/d/x"); os.rename(store + "/d/victim", store + "/d/x")
            time.sleep(0.0002)  # holds the swapped state open a little: a window, not a wait for anything
            os.rename(store + "/d/x", store + "/d/victim")
        except OSError: pass
threading.Thread(target=swap).start()
n = 0
for _ in range(2000):
    if time.time() > bound: break
    try: os.mkdir(mnt + "/d/x"); n += 1
    except OSError: pass
stop.set()
print(json.dumps({"mkdirs": n}))
`;
    const r = await run(plain!, 'python3', ['-c', attack, store, m.dir]);
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(r.stdout.trim());
    const victim = [path.join(d, 'victim'), path.join(d, 'x')].find((p) => fs.existsSync(p) && fs.lstatSync(p).isFile());
    assert.ok(victim !== undefined, 'root\'s file was deleted');
    assert.equal(fs.lstatSync(victim).uid, 0, 'root\'s file was given to the caller');
    assert.equal(fs.readFileSync(victim, 'utf8'), 'root owned');
  });

  test('8. a setuid program resolves without the invoking user\'s environment', T, async (t) => {
    const { m, store } = await shared(t);
    fs.symlinkSync('$<V:-safe>', path.join(store, 'link'));
    fs.mkdirSync(path.join(store, 'safe')); // resolve exits 1 for a target that does not exist
    const bin = tempDir(t, root!);
    fs.chownSync(bin, 0, 0);
    fs.copyFileSync('/usr/bin/readlink', path.join(bin, 'suid-readlink'));
    fs.chmodSync(path.join(bin, 'suid-readlink'), 0o4755);
    const link = path.join(m.dir, 'link');
    assert.equal((await run(plain!, path.join(bin, 'suid-readlink'), [link], { V: 'evil' })).stdout, 'safe\n');
    assert.equal((await run(plain!, 'readlink', [link], { V: 'evil' })).stdout, 'evil\n', 'an ordinary program of the user still uses its environment');
    assert.equal((await run(root!, 'readlink', [link], { V: 'mine' })).stdout, 'mine\n');
    fs.copyFileSync('/usr/bin/sleep', path.join(bin, 'suid-sleep'));
    fs.chmodSync(path.join(bin, 'suid-sleep'), 0o4755);
    const [file, argv] = asUser(plain!, path.join(bin, 'suid-sleep'), ['infinity']);
    const sleeper = spawn(file, argv, { env: { ...baseEnv(plain!), V: 'evil' } });
    t.after(() => sleeper.kill('SIGKILL'));
    // setpriv and env exec in place: the spawned pid is the setuid program once it has exec'd.
    const pid = sleeper.pid!;
    const comm = () => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    };
    assert.ok(await waitFor(() => comm() === 'suid-sleep', 300000), `the setuid program runs (${comm()})`);
    const ex = await m.cli(['resolve', link, '--pid', String(pid), '--explain']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /resolves to\s+safe/);
    assert.match(ex.stdout, /secure exec/);
  });
});

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

for (const [label, user] of testUsers()) {
  test(`lstat of a symlink leaves its atime alone (${label})`, T, async (t) => {
    const m = await mount(t, user, { setup: (d) => (fs.symlinkSync('$<V:-x>', path.join(d, 'v')), fs.symlinkSync('plain', path.join(d, 'p'))) });
    const r = await m.run('python3', ['-c', 'import os,sys\nfor n in ("v", "p"):\n  p = os.path.join(sys.argv[1], n)\n  os.utime(p, (1000000000, 1000000000), follow_symlinks=False)\n  print(int(os.lstat(p).st_atime), int(os.lstat(p).st_atime))', m.dir]);
    assert.equal(r.stdout, '1000000000 1000000000\n1000000000 1000000000\n', r.stderr);
  });
}
