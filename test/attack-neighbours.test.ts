// Hostile neighbours, a review of the trust rule for project files and of writes by other users (issues 17
// and 22 as merged): each test is one finding, through real mounts, with the test's unprivileged user as
// the attacker (or the writer) and root (or `nobody`) as the victim. Every test here failed on the code it
// reviewed (1ed9cbe, and again on 4adfc14); what held is listed in the review's report, not tested twice here.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, test, type TestContext } from 'node:test';
import { reservedExt4 } from './helpers/ext4';
import { isMounted, mount, onCleanup, tempDir, type Mounted } from './helpers/mount';
import { asUser, baseEnv, run, type TestUser } from './helpers/users';

import { T, bin, goMount, needsRootAndPlain, plain, quietDir, root, runIn, settle, tree } from './helpers/attack';

// A third user, neither a file's owner nor in its group.
const nobody: TestUser = { name: 'nobody', uid: 65534, gid: 65534, home: '/', bin: '' };

/** The GO link read by `user` working in `cwd`. */
async function goFrom(user: TestUser, cwd: string, m: Mounted): Promise<string> {
  const r = await runIn(user, cwd, ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

// A FUSE filesystem of the attacker's, mounted (fusermount, user_allow_other) on a regular FILE it made:
// its root is a regular file whose owner, mode and contents are whatever the attacker says. fuse-native
// refuses a mount point that is not a directory in JS only; the kernel and fusermount accept a file.
const FILEFS_JS = String.raw`
const fs = require('fs');
const point = process.argv[2];
const stat = fs.stat;
fs.stat = (p, cb) => stat(p, (e, st) => { if (!e && p === point) st.isDirectory = () => true; cb(e, st); });
const Fuse = require(process.argv[3]).loadFuse();
const owner = Number(process.argv[4]);
const content = Buffer.from(process.argv[5]);
const file = { mode: 0o100644, size: content.length, nlink: 1, uid: owner, gid: owner, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };
const ops = {
  getattr (p, cb) { if (p !== '/') return cb(-2); cb(0, file); },
  open (p, flags, cb) { cb(0, 1); },
  read (p, fd, buf, len, pos, cb) { cb(pos >= content.length ? 0 : content.copy(buf, 0, pos, Math.min(content.length, pos + len))); },
  release (p, fd, cb) { cb(0); },
};
if (!fs.existsSync(point)) fs.writeFileSync(point, '');
const fuse = new Fuse(point, ops, { allowOther: true, timeout: false, options: ['entry_timeout=0', 'attr_timeout=0'] });
fuse.mount((err) => { if (err) { process.stderr.write('filefs: ' + err.message + '\n'); process.exit(1); } process.stdout.write('ready\n'); });
process.stdin.on('end', () => { fuse.unmount(() => process.exit(0)); setTimeout(() => process.exit(1), 5000).unref(); });
process.stdin.resume();
`;

/** As the attacker: a file at `point` (in a directory it may write) whose stat says `owner`, holding `content`. */
async function forgedFile(t: TestContext, attacker: TestUser, point: string, owner: number, content: string): Promise<void> {
  const script = path.join(bin, 'filefs.js');
  fs.writeFileSync(script, FILEFS_JS);
  fs.chmodSync(script, 0o644);
  // The attacker's own copy of the binding (test/run.js makes one it can run when the checkout is private).
  const native = path.join(path.dirname(path.dirname(attacker.bin)), 'dist', 'src', 'native.js');
  const [file, args] = asUser(attacker, process.execPath, [script, point, native, String(owner), content]);
  const child = spawn(file, args, { env: baseEnv(attacker), cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
  onCleanup(t, async () => {
    child.stdin!.end();
    if (child.exitCode === null && child.signalCode === null) {
      const done = new Promise((r) => child.once('close', r));
      const kill = setTimeout(() => child.kill('SIGKILL'), 60000);
      await done;
      clearTimeout(kill);
    }
  });
  const lines = readline.createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`filefs: ${l}`))));
    child.once('close', (c) => reject(new Error(`filefs exited ${c}`)));
  });
  const st = fs.statSync(point);
  assert.deepEqual([st.isFile(), st.uid], [true, owner], 'the forged file is in place');
}

/** A directory anyone may create files in (sticky, like /tmp), with `proj/` of root's below it. */
function sharedDir(t: TestContext): string {
  const shared = path.join(quietDir(t), 'shared');
  fs.mkdirSync(path.join(shared, 'proj'), { recursive: true });
  fs.chmodSync(shared, 0o1777);
  return shared;
}

describe('finding 1 (HIGH): a FUSE file another user mounted claims any owner', { skip: needsRootAndPlain }, () => {
  test('a project file on another user\'s FUSE mount that says "owned by root" is not trusted (root --allow-other mount)', T, async (t) => {
    const shared = sharedDir(t);
    await forgedFile(t, plain!, path.join(shared, '.go-version'), 0, 'go1.evil\n');
    const m = await goMount(t);
    await settle();
    assert.equal(await goFrom(root!, path.join(shared, 'proj'), m), 'none', 'root ran the attacker\'s pin: the owner came from the attacker\'s FUSE server');
  });

  test('the same file is not trusted on root\'s own mount either', T, async (t) => {
    const shared = sharedDir(t);
    await forgedFile(t, plain!, path.join(shared, '.varsymfs-env'), 0, 'GO_VERSION=evil\n');
    const m = await mount(t, root!, { setup: (d) => fs.symlinkSync('$<GO_VERSION:-none>', path.join(d, 'GO')) });
    await settle();
    assert.equal(await goFrom(root!, path.join(shared, 'proj'), m), 'none', 'root ran the attacker\'s pin: the owner came from the attacker\'s FUSE server');
  });
});

// As the writer: opens argv[1] for writing, says "opened", waits for a line, writes one byte; prints the
// result (ok or the errno's name) and the mode fstat then reports.
const HELD_WRITE = `
import os, sys, errno
fd = os.open(sys.argv[1], os.O_WRONLY)
print("opened", flush=True)
sys.stdin.readline()
try:
    os.write(fd, b"x"); r = "ok"
except OSError as e:
    r = errno.errorcode[e.errno]
print(r, oct(os.fstat(fd).st_mode & 0o7777), flush=True)
`;

describe('finding 2 (LOW): writes and chmod by a user who is not the owner', { skip: needsRootAndPlain }, () => {
  test('a file opened for writing before its owner made it setuid: the write succeeds and clears the bit, as on the store', { ...T, todo: 'known limit (docs/security.md, What is not promised): the kill-suid chmod is refused to a writer who may no longer open the file for writing' }, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => fs.chmodSync(d, 0o755) });
    const plainDir = tempDir(t, root!, 'attack-plain-');
    const results: string[] = [];
    for (const dir of [plainDir, m.dir]) {
      const f = path.join(dir, 'held');
      fs.writeFileSync(f, 'content');
      fs.chownSync(f, plain!.uid, plain!.gid);
      fs.chmodSync(f, 0o666);
      const [file, args] = asUser(nobody, '/usr/bin/python3', ['-c', HELD_WRITE, f]);
      const child = spawn(file, args, { env: baseEnv(nobody), cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
      onCleanup(t, () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
      const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      assert.equal((await lines.next()).value, 'opened');
      fs.chmodSync(f, 0o4755); // the owner's change (done as root here: the same inode change)
      child.stdin!.end('go\n');
      results.push(`${(await lines.next()).value} ${(fs.statSync(f).mode & 0o7777).toString(8)}`);
    }
    assert.equal(results[0], 'ok 0o755 755', 'the plain directory: the write succeeds and clears setuid');
    assert.equal(results[1], results[0], 'the mount refused the write (EPERM from the kill-suid chmod: the writer may no longer open the file for writing, but holds it open)');
  });

  test('on a user\'s own mount, a chmod by the user of another user\'s setuid file fails EPERM, as on the store (never a silent success)', { ...T, todo: 'known limit (docs/security.md): a kill-suid chmod from a caller who may write is answered as done; the FUSE request cannot tell it from chmod u-s' }, async (t) => {
    const store = tempDir(t, plain!, 'attack-store-');
    const m = await mount(t, plain!, { args: ['--source', store] });
    const plainDir = tempDir(t, root!, 'attack-plain-');
    const results: unknown[] = [];
    for (const [dir, seen] of [[plainDir, plainDir], [store, m.dir]] as const) {
      const f = path.join(dir, 'prog');
      fs.writeFileSync(f, 'content');
      fs.chownSync(f, nobody.uid, nobody.gid);
      fs.chmodSync(f, 0o4777);
      const r = await run(plain!, 'chmod', ['u-s', path.join(seen, 'prog')]);
      const after = await run(plain!, 'stat', ['-c', '%a', path.join(seen, 'prog')]);
      results.push([r.code === 0 ? 'ok' : 'failed', after.stdout.trim()]);
    }
    assert.deepEqual(results[0], ['failed', '4777'], 'the plain directory refuses a chmod by a user who is not the owner');
    assert.deepEqual(results[1], results[0], 'the mount reported success for a chmod it did not do');
  });
});

describe('finding 3 (LOW): --trust-dir through another user\'s symlink', { skip: needsRootAndPlain }, () => {
  test('a --trust-dir that another user made a symlink to / does not make every project file trusted', T, async (t) => {
    const shared = sharedDir(t);
    // The attacker got there first: the team directory the mount trusts is its symlink to /.
    const team = path.join(shared, 'team');
    assert.equal((await run(plain!, 'ln', ['-s', '/', team])).code, 0);
    tree(shared, { 'elsewhere/.go-version': 'go1.evil\n', 'elsewhere/proj/': '' });
    fs.chownSync(path.join(shared, 'elsewhere', '.go-version'), plain!.uid, plain!.gid);
    // Refused at once (one Error line, exit 2, nothing mounted): a mount that trusted / would run the pin.
    const point = tempDir(t, root!, 'attack-point-');
    const r = await run(root!, root!.bin, ['mount', point, '--trust-dir', team]);
    assert.deepEqual([r.code, isMounted(point)], [2, false], `trust went to / through the attacker's symlink: ${r.stderr}`);
    assert.match(r.stderr, /^Error: --trust-dir .*symlink of uid \d+.*\n$/, r.stderr);
  });

  test('a --trust-dir that names / (root\'s own symlink to it, or / itself) is refused: one Error line, exit 2', T, async (t) => {
    const base = quietDir(t);
    fs.symlinkSync('/', path.join(base, 'everything'));
    for (const dir of ['/', path.join(base, 'everything'), path.join(base, '..', '..', '..', '..', '..', '..')]) {
      const point = tempDir(t, root!, 'attack-point-');
      const r = await run(root!, root!.bin, ['mount', point, '--trust-dir', dir]);
      assert.deepEqual([r.code, isMounted(point)], [2, false], r.stderr);
      assert.match(r.stderr, /^Error: --trust-dir .* names \/: .*\n$/, r.stderr);
    }
  });
});

// A process of `user` that holds argv[1] open (O_RDWR) and maps argv[2] bytes of it, shared, on command:
//   map     mmap MAP_SHARED
//   touch   dirty every page (no msync)
//   dirty   dirty every page, then msync and fsync
//   sync    msync and fsync
// Each answers one line: opened / mapped / touched / ok / synced, or the errno's name.
const MAPPER = `
import os, sys, mmap, errno
p = sys.argv[1]; size = int(sys.argv[2]); fd = os.open(p, os.O_RDWR); m = None
print("opened", flush=True)
for line in sys.stdin:
    c = line.strip()
    try:
        if c == "map": m = mmap.mmap(fd, size, mmap.MAP_SHARED); r = "mapped"
        elif c == "touch":
            for off in range(0, size, 4096): m[off:off + 1] = b"t"
            r = "touched"
        elif c == "dirty":
            for off in range(0, size, 4096): m[off:off + 1] = b"d"
            m.flush(); os.fsync(fd); r = "ok"
        elif c == "sync": m.flush(); os.fsync(fd); r = "synced"
        else: break
    except OSError as e: r = errno.errorcode[e.errno]
    print(r, flush=True)
`;

const FILL = `
import os, sys, errno
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644); buf = b"x" * 65536; err = None
while err is None:
    try: os.write(fd, buf)
    except OSError as e: err = errno.errorcode[e.errno]
print(err)
`;

const MAP_SIZE = 8 << 20;

/** A mapper process of `user` on `file` (see MAPPER); `ask` sends a command and returns its line. */
async function mapper(t: TestContext, user: TestUser, file: string): Promise<(cmd: string) => Promise<string>> {
  const [cmd, args] = asUser(user, '/usr/bin/python3', ['-c', MAPPER, file, String(MAP_SIZE)]);
  const child = spawn(cmd, args, { env: baseEnv(user), cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
  onCleanup(t, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('close', r));
    child.kill('SIGKILL');
    await done;
  });
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const l = await lines.next();
    return l.done ? `exited ${child.exitCode ?? child.signalCode}` : l.value;
  };
  assert.equal(await next(), 'opened');
  return async (c: string) => (child.stdin!.write(`${c}\n`), next());
}


/** `dir`/shared: a sparse MAP_SIZE file anyone may write. */
function sharedFile(dir: string): string {
  const shared = path.join(dir, 'shared');
  fs.writeFileSync(shared, '');
  fs.chmodSync(shared, 0o666);
  fs.truncateSync(shared, MAP_SIZE);
  return shared;
}

async function fill(dir: string): Promise<void> {
  const r = await run(plain!, '/usr/bin/python3', ['-c', FILL, path.join(dir, 'fill')], {}, { timeoutMs: 120000 });
  assert.equal(r.stdout.trim(), 'ENOSPC', r.stderr);
}

/** The bytes `file` has on disk once flushed. */
function allocated(file: string): number {
  assert.equal(spawnSync('sync', ['-f', file]).status, 0);
  return fs.statSync(file).blocks * 512;
}

/** A root --allow-other mount of a fresh reserved ext4, and that ext4 (for block counts). */
async function mountOnReserved(t: TestContext): Promise<{ dir: string; store: string }> {
  const store = reservedExt4(t, 'attack-ext4-');
  const m = await mount(t, root!, { args: ['--allow-other', '--source', store], setup: (d) => fs.chmodSync(d, 0o755) });
  return { dir: m.dir, store };
}

describe('finding 4 (LOW): a writeback is charged to whoever mapped the file last, not to the page\'s writer', { skip: needsRootAndPlain }, () => {
  // The kernel writes an inode's dirty pages back through ONE of its open files (the last one mapped
  // shared and writable: fuse_write_file_get), whoever dirtied them; the daemon charges that file's opener.
  test('a user\'s dirty pages do not go into root\'s reserved blocks because root mapped the same file afterwards', { ...T, todo: 'known limit (docs/security.md): the kernel writes back through one open file; the daemon cannot tell whose pages they are' }, async (t) => {
    const { dir, store } = await mountOnReserved(t);
    const shared = sharedFile(dir);
    const rootSide = await mapper(t, root!, shared);  // root holds the file open (a log, a database)
    await fill(dir);
    const user = await mapper(t, plain!, shared);
    assert.equal(await user('map'), 'mapped');
    assert.equal(await user('touch'), 'touched');
    assert.equal(await rootSide('map'), 'mapped');
    const synced = await user('sync');
    const bytes = allocated(path.join(store, 'shared'));
    t.diagnostic(`user's msync: ${synced}; ${bytes} bytes allocated`);
    // On the plain ext4 the user's first store to a page past the reserve is refused (SIGBUS).
    assert.ok(bytes < MAP_SIZE / 2, `the user's mapped writes took ${bytes} bytes of root's reserved blocks (written back as root)`);
  });

  test('root\'s mapped writes still use root\'s reserved blocks when a user mapped the same file afterwards (as on the plain filesystem)', { ...T, todo: 'known limit (docs/security.md): writeback is charged to the last shared writable mapper, here the user' }, async (t) => {
    const results: unknown[] = [];
    const plainFs = reservedExt4(t, 'attack-ext4-');
    const { dir, store } = await mountOnReserved(t);
    for (const [where, seen] of [[plainFs, plainFs], [dir, store]] as const) {
      const shared = sharedFile(where);
      const rootSide = await mapper(t, root!, shared);
      assert.equal(await rootSide('map'), 'mapped');
      await fill(where);
      const user = await mapper(t, plain!, shared);
      assert.equal(await user('map'), 'mapped');
      results.push([await rootSide('dirty'), allocated(path.join(seen, 'shared'))]);
    }
    assert.deepEqual(results[0], ['ok', MAP_SIZE], 'the plain ext4: root writes into its reserve');
    assert.deepEqual(results[1], results[0], 'through the mount root\'s pages were written back as the user (ENOSPC)');
  });
});

describe('finding 5 (MEDIUM): a root-owned project file another user may write', { skip: needsRootAndPlain }, () => {
  test('a root-owned file the attacker may write (its group\'s), hard-linked into a shared directory, is not trusted for root', T, async (t) => {
    const base = quietDir(t);
    // A team tree as shared machines have them: root's file, group-writable by the team (the attacker's group).
    tree(base, { 'team/.go-version': 'go1.team\n', 'shared/proj/': '' });
    const pin = path.join(base, 'team', '.go-version');
    fs.chownSync(pin, 0, plain!.gid);
    fs.chmodSync(pin, 0o664);
    const shared = path.join(base, 'shared');
    fs.chmodSync(shared, 0o1777);
    // protected_hardlinks allows it: the attacker may read and write the file. Then one write chooses.
    assert.equal((await run(plain!, 'ln', [pin, path.join(shared, '.go-version')])).code, 0);
    assert.equal((await run(plain!, '/bin/sh', ['-c', 'echo go1.evil > "$1"', 'sh', pin])).code, 0);
    const m = await goMount(t);
    await settle();
    assert.equal(await goFrom(root!, path.join(shared, 'proj'), m), 'none', 'root ran the pin another user wrote (the file is root\'s, but writable by that user)');
  });
});

describe('finding 6 (LOW): file capabilities on writes through a root --allow-other mount', { skip: needsRootAndPlain }, () => {
  // The kernel removes security.capability on a write (file_remove_privs: ATTR_KILL_PRIV); through FUSE
  // that is a removexattr sent as the writer, which the store refuses without CAP_SETFCAP.
  test('a write to a file with file capabilities succeeds and drops them, as on the store (the owner, another user)', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => fs.chmodSync(d, 0o755) });
    const plainDir = tempDir(t, root!, 'attack-plain-');
    const results: unknown[] = [];
    for (const dir of [plainDir, m.dir]) {
      const row: unknown[] = [];
      for (const writer of [plain!, nobody]) {
        const f = path.join(dir, `cap-${writer.uid}`);
        fs.writeFileSync(f, 'content');
        fs.chownSync(f, plain!.uid, plain!.gid);
        fs.chmodSync(f, 0o777);
        assert.equal(spawnSync('setcap', ['cap_net_raw+ep', f]).status, 0);
        const w = await run(writer, '/bin/sh', ['-c', 'printf x 1<>"$1"', 'sh', f]);
        const caps = spawnSync('getcap', [f], { encoding: 'utf8' }).stdout.includes('cap_net_raw') ? 'caps kept' : 'caps dropped';
        row.push([w.code === 0 ? 'written' : `refused: ${w.stderr.trim().replace(/^.*: /, '')}`, caps, fs.readFileSync(f, 'utf8')]);
      }
      results.push(row);
    }
    assert.deepEqual(results[0], [['written', 'caps dropped', 'xontent'], ['written', 'caps dropped', 'xontent']], 'the plain directory');
    assert.deepEqual(results[1], results[0], 'the mount refused the writes (EPERM or EIO: the kernel\'s kill-priv removexattr is sent as the writer and the store refuses it)');
  });
});
