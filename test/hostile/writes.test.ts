// Writes by other users under attack (issues 22 and 17.6, as merged), through root --allow-other mounts:
// findings 2, 4 and 6 of the review "Hostile neighbours", with the test's unprivileged user as the writer
// and root or `nobody` as the other (each failed on the code it reviewed, 1ed9cbe, and again on 4adfc14),
// and finding F of the native-path review (reserved blocks; "At e111b13" says what it did there). Where the
// claim is the kernel's own behaviour, the mount is compared with a plain filesystem.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, test, type TestContext } from 'node:test';
import { reservedExt4 } from '../helpers/ext4';
import { mount, onCleanup, tempDir } from '../helpers/mount';
import { OTHER_UID, T, needsRootAndPlain, plain, root } from '../helpers/prober';
import { asUser, baseEnv, run, type TestUser } from '../helpers/users';

// A third user, neither a file's owner nor in its group.
const nobody: TestUser = { name: 'nobody', uid: 65534, gid: 65534, home: '/', bin: '' };

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

describe('F. a root daemon serving others: reserved blocks (and quotas) apply to data written', { skip: needsRootAndPlain }, () => {
  /** A 64 MiB ext4 with half its blocks reserved for `resuid` (and CAP_SYS_RESOURCE), world-writable. */
  function reservedFs(t: TestContext, resuid: number): string | undefined {
    const dir = tempDir(t, root!);
    const img = path.join(dir, 'ext4.img');
    const fsdir = path.join(dir, 'fs');
    fs.mkdirSync(fsdir);
    spawnSync('truncate', ['-s', '64M', img]);
    assert.equal(spawnSync('mkfs.ext4', ['-q', '-F', '-m', '50', img]).status, 0);
    assert.equal(spawnSync('tune2fs', ['-u', String(resuid), img]).status, 0);
    const mounted = spawnSync('mount', ['-o', 'loop', img, fsdir], { encoding: 'utf8' });
    if (mounted.status !== 0) return void t.skip(`no loop mounts here: ${mounted.stderr.trim()}`);
    t.after(() => spawnSync('umount', ['-l', fsdir]));
    fs.chmodSync(fsdir, 0o1777);
    return fsdir;
  }
  const fill = (dir: string, name: string) => `dd if=/dev/zero of="${dir}/${name}" bs=1M count=60 2>/dev/null; stat -c %s "${dir}/${name}"; rm -f "${dir}/${name}"`;

  // Each case first shows that what it names grants the reserved blocks here (root writing directly), so a
  // daemon keeping it for a caller's write would be seen.
  for (const [what, resuid] of [['fsuid 0 (the blocks reserved for uid 0)', 0], ['CAP_SYS_RESOURCE (the blocks reserved for nobody the test runs as)', OTHER_UID + 1]] as const) {
    test(`an unprivileged user cannot write into reserved blocks through the mount: ${what}`, { timeout: 300000 }, async (t) => {
      const fsdir = reservedFs(t, resuid);
      if (fsdir === undefined) return;
      const allowed = Number((await run(plain!, 'sh', ['-c', fill(fsdir, 'direct')])).stdout.trim());
      const rootDirect = Number(spawnSync('sh', ['-c', fill(fsdir, 'root')], { encoding: 'utf8' }).stdout.trim());
      if (rootDirect <= allowed + 1048576) return t.skip(`root gets no reserved blocks here by ${what} (${allowed} bytes for the user, ${rootDirect} for root): nothing to keep from the caller`);
      const m = await mount(t, root!, { args: ['--allow-other', '--source', fsdir] });
      const via = Number((await run(plain!, 'sh', ['-c', fill(m.dir, 'via').replace(/; rm -f .*$/, '')])).stdout.trim());
      // At e111b13: ~21 MiB directly, ~53 MiB through the mount: WRITE runs on the FUSE thread with the
      // daemon's fs ids and full capabilities, only path operations act as the caller.
      assert.ok(via <= allowed + 1048576, `direct ${allowed} bytes, through the mount ${via} bytes (root directly ${rootDirect})`);
    });
  }
});
