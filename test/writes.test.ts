// Writes through a root --allow-other mount, by users other than the daemon (issues 22 and 17.6): a write
// clears set-id bits exactly as the backing filesystem does, and a write the kernel sends on its own (the
// writeback of a shared mapping) is charged to the user who opened the file. Each table runs against the
// mount and against a plain directory: the two must agree, which shows the table describes the kernel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { reservedExt4 } from './helpers/ext4';
import { mount, onCleanup, tempDir } from './helpers/mount';
import { plainUser, rootUser, run, type TestUser } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();
const skip = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
// A third user, neither the file's owner nor in its group.
const other: TestUser = { name: 'nobody', uid: 65534, gid: 65534, home: '/', bin: '' };

const MODES = [0o4777, 0o2777, 0o6777, 0o2767];
const FLAGS = ['O_WRONLY', 'O_RDWR'];
const OPS = ['write', 'ftruncate', 'truncate'];

// Performs every case on its file in argv[1] (named mode-flags-op) and prints name -> [mode seen by fstat
// right after the change, mode seen by stat afterwards] or the errno's name.
const PROBE = `
import os, sys, json, errno
d = sys.argv[1]; out = {}
for name in sorted(os.listdir(d)):
    mode, flags, op = name.split("-"); p = os.path.join(d, name)
    try:
        if op == "truncate":
            os.truncate(p, 1); seen = None
        else:
            fd = os.open(p, getattr(os, flags))
            if op == "write": os.write(fd, b"x")
            else: os.ftruncate(fd, 1)
            seen = oct(os.fstat(fd).st_mode & 0o7777); os.close(fd)
        out[name] = [seen, oct(os.stat(p).st_mode & 0o7777)]
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
print(json.dumps(out))
`;

/** The files of the table in a fresh `dir`, owned by `owner` (its group too), each with its mode. */
function setIdTable(dir: string, owner: TestUser): void {
  fs.mkdirSync(dir, { mode: 0o777 });
  fs.chmodSync(dir, 0o777);
  for (const mode of MODES) {
    for (const flags of FLAGS) {
      for (const op of OPS) {
        const f = path.join(dir, `${mode.toString(8)}-${flags}-${op}`);
        fs.writeFileSync(f, 'content');
        fs.chownSync(f, owner.uid, owner.gid);
        fs.chmodSync(f, mode); // after chown, which clears set-id bits
      }
    }
  }
}

async function probe(user: TestUser, dir: string): Promise<Record<string, unknown>> {
  const r = await run(user, '/usr/bin/python3', ['-c', PROBE, dir], {}, { timeoutMs: 60000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('set-id bits on writes through a root --allow-other mount', { skip }, () => {
  test('a write, ftruncate or truncate clears setuid/setgid as on the backing filesystem (owner, another user, root)', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => fs.chmodSync(d, 0o755) });
    const plainDir = tempDir(t, root!, 'writes-plain-');
    for (const [label, writer] of [['owner', plain!], ['another user', other], ['root', root!]] as const) {
      const onMount = path.join(m.dir, label.replace(' ', '-'));
      const onPlain = path.join(plainDir, label.replace(' ', '-'));
      setIdTable(onMount, plain!);
      setIdTable(onPlain, plain!);
      const expected = await probe(writer, onPlain);
      const got = await probe(writer, onMount);
      assert.deepEqual(got, expected, `${label}: the mount differs from the plain directory`);
      // The comparison has teeth: on the plain directory a write by anyone but root clears setuid.
      const clears = writer.uid !== 0;
      assert.deepEqual(expected['4777-O_WRONLY-write'], clears ? ['0o777', '0o777'] : ['0o4777', '0o4777'], label);
    }
  });

  test('a write through a shared mapping keeps the bits, as on the backing filesystem (its writeback runs as the opener)', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => fs.chmodSync(d, 0o755) });
    const plainDir = tempDir(t, root!, 'writes-plain-');
    const results: unknown[] = [];
    for (const dir of [plainDir, m.dir]) {
      const f = path.join(dir, 'prog');
      fs.writeFileSync(f, 'content');
      fs.chownSync(f, plain!.uid, plain!.gid);
      fs.chmodSync(f, 0o6777);
      const mapped = 'import os,sys,mmap; f=os.open(sys.argv[1], os.O_RDWR); m=mmap.mmap(f, 3, mmap.MAP_SHARED); m[0:1]=b"X"; m.flush(); os.fsync(f); print(oct(os.fstat(f).st_mode & 0o7777))';
      const r = await run(other, '/usr/bin/python3', ['-c', mapped, f]);
      assert.equal(r.code, 0, r.stderr);
      results.push([r.stdout.trim(), (fs.statSync(f).mode & 0o7777).toString(8), fs.readFileSync(f, 'utf8')]);
    }
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[0], ['0o6777', '6777', 'Xontent']);
  });

  test('fallocate is not passed by the binding: EOPNOTSUPP through the mount, and nothing changes', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => fs.chmodSync(d, 0o755) });
    for (const writer of [other, root!]) {
      const f = path.join(m.dir, `f-${writer.uid}`);
      fs.writeFileSync(f, 'content', { mode: 0o777 });
      fs.chmodSync(f, 0o4777);
      const r = await run(writer, 'fallocate', ['-l', '4096', f]);
      assert.match(r.stderr, /Operation not supported/, writer.name);
      assert.deepEqual([fs.readFileSync(f, 'utf8'), fs.statSync(f).mode & 0o7777], ['content', 0o4777], writer.name);
    }
  });
});

// As the unprivileged user in argv[1]: fills the filesystem with write(2) until it fails, then writes
// argv[2] bytes through a shared mapping of a new sparse file (msync, fsync). One JSON line per step: a
// kernel that refuses the mapping's pages at fault time (SIGBUS) ends the process after the first.
const FILL_THEN_MAP = `
import os, sys, json, mmap, errno
d = sys.argv[1]; size = int(sys.argv[2])
fd = os.open(d + "/fill", os.O_WRONLY | os.O_CREAT, 0o644); buf = b"x" * 65536; filled = 0; err = None
while err is None:
    try: filled += os.write(fd, buf)
    except OSError as e: err = errno.errorcode[e.errno]
try: os.close(fd)
except OSError: pass
print(json.dumps({"filled": filled, "fill": err}), flush=True)
fd = os.open(d + "/mapped", os.O_RDWR | os.O_CREAT, 0o644); os.ftruncate(fd, size)
m = mmap.mmap(fd, size, mmap.MAP_SHARED); res = "ok"
try:
    for off in range(0, size, 4096): m[off:off + 1] = b"y"
    m.flush(); os.fsync(fd)
except OSError as e: res = errno.errorcode[e.errno]
print(json.dumps({"mapped": res}), flush=True)
`;

const MAP_SIZE = 8 << 20;


/** Fills `dir` as the user, then writes through a mapping; the blocks the mapped file got on `store`. */
async function fillThenMap(dir: string, store: string): Promise<{ steps: unknown[]; mappedBytes: number }> {
  const r = await run(plain!, '/usr/bin/python3', ['-c', FILL_THEN_MAP, dir, String(MAP_SIZE)], {}, { timeoutMs: 120000 });
  const steps = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(steps[0]?.fill, 'ENOSPC', `write(2) filled the filesystem: ${r.stdout}${r.stderr}`);
  assert.equal(spawnSync('sync', ['-f', path.join(store, 'mapped')]).status, 0);
  return { steps: [...steps, r.signal ?? r.code], mappedBytes: fs.statSync(path.join(store, 'mapped')).blocks * 512 };
}

/** Root can still write MAP_SIZE bytes to `dir` (the reserved blocks are there for it). */
async function rootCanWrite(dir: string): Promise<void> {
  const r = await run(root!, '/usr/bin/python3', ['-c', 'import os,sys; f=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT, 0o600); os.write(f, b"r" * int(sys.argv[2])); os.fsync(f); os.close(f); os.unlink(sys.argv[1])', path.join(dir, 'root-file'), String(MAP_SIZE)]);
  assert.equal(r.code, 0, `root could not use the reserved blocks: ${r.stderr}`);
}

describe('writes through a shared mapping are charged to the user who opened the file', { skip }, () => {
  test('after write(2) hit ENOSPC for the user, a shared mapping cannot use the reserved blocks either (as on the plain filesystem)', T, async (t) => {
    const onPlain = reservedExt4(t, 'writes-ext4-');
    const expected = await fillThenMap(onPlain, onPlain);
    await rootCanWrite(onPlain);
    t.diagnostic(`plain ext4: ${JSON.stringify(expected.steps)}, ${expected.mappedBytes} bytes mapped`);
    assert.ok(expected.mappedBytes < MAP_SIZE / 2, 'the plain filesystem kept its reserved blocks from the user');

    const store = reservedExt4(t, 'writes-ext4-');
    const m = await mount(t, root!, { args: ['--allow-other', '--source', store], setup: (d) => fs.chmodSync(d, 0o755) });
    const got = await fillThenMap(m.dir, store);
    t.diagnostic(`through the mount: ${JSON.stringify(got.steps)}, ${got.mappedBytes} bytes mapped`);
    assert.ok(got.mappedBytes < MAP_SIZE / 2, `the mapping's writeback used ${got.mappedBytes} bytes of root's reserved blocks`);
    assert.notEqual(got.steps[1], undefined, 'the mapping was written');
    assert.notDeepEqual(got.steps[1], { mapped: 'ok' }, 'the user was told the mapping could not be written');
    await rootCanWrite(m.dir);
  });
});
