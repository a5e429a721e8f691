// Writes through a root --allow-other mount, by users other than the daemon (issues 22 and 17.6): a write
// clears set-id bits exactly as the backing filesystem does, and a write the kernel sends on its own (the
// writeback of a shared mapping) is charged to the user who opened the file. Each table runs against the
// mount and against a plain directory: the two must agree, which shows the table describes the kernel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { mount, onCleanup, tempDir } from './helpers/mount';
import { plainUser, rootUser, run, type TestUser } from './helpers/users';

const T = { timeout: 180000 };
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

  test('fallocate is not passed by the binding: EOPNOTSUPP through the mount, and the bits stay as they were', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => fs.chmodSync(d, 0o777) });
    const f = path.join(m.dir, 'f');
    fs.writeFileSync(f, 'content');
    fs.chmodSync(f, 0o4777);
    const r = await run(root!, 'fallocate', ['-l', '4096', f]);
    assert.match(r.stderr, /Operation not supported/);
    assert.equal(fs.statSync(f).mode & 0o7777, 0o4777);
  });
});
