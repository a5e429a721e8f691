// Mount defaults through real mounts (src/defaults.ts): the file that stores them is invisible and
// untouchable through the mount (every operation, not only listings), each documented failure to read or
// store it is one line, and `varsymfs defaults` sets, unsets and prints them while mounted.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { alive, chownTree, mount, tempDir, waitFor } from './helpers/mount';
import { describeEachUser, run } from './helpers/users';
import { DEFAULTS_FILE } from '../src/defaults';

const T = { timeout: 300000 };

// Each operation on the defaults file (or onto its name) through the mount, by errno number.
const OPS = `
import errno, os, sys
os.chdir(sys.argv[1])
f = ${JSON.stringify(DEFAULTS_FILE)}
ops = {
  "open": lambda: open(f).read(),
  "stat": lambda: os.stat(f),
  "lstat": lambda: os.lstat(f),
  "access": lambda: os.access(f, os.R_OK) or (_ for _ in ()).throw(OSError(errno.ENOENT, "access")),
  "readlink": lambda: os.readlink(f),
  "chmod": lambda: os.chmod(f, 0o600),
  "getxattr": lambda: os.getxattr(f, "user.x"),
  "unlink": lambda: os.unlink(f),
  "rename_from": lambda: os.rename(f, "moved"),
  "link_from": lambda: os.link(f, "linked"),
  "create": lambda: open(f, "w").write("{}"),
  "create_tmp_sibling": lambda: open(f + ".99.tmp", "w").write("{}"),
  "mkdir": lambda: os.mkdir(f),
  "symlink_to": lambda: os.symlink("elsewhere", f),
  "rename_to": lambda: os.rename("x", f),
  "link_to": lambda: os.link("x", f),
}
for name, op in ops.items():
    try:
        op()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
print("listed", f in os.listdir("."))
`;

describeEachUser((user) => {
  test('the defaults file cannot be read, changed, replaced or seen through the mount', T, async (t) => {
    // A separate store, so that this process can look at the backing files without going through the mount.
    const store = tempDir(t, user, 'varsymfs-store-');
    fs.writeFileSync(path.join(store, 'x'), 'x');
    chownTree(store, user);
    const m = await mount(t, user, { args: ['--source', store, '--default', 'XXX=baz'] });
    const stored = fs.readFileSync(path.join(store, DEFAULTS_FILE), 'utf8');
    assert.deepEqual(JSON.parse(stored), { XXX: 'baz' });
    const r = await m.run('python3', ['-c', OPS, m.dir]);
    assert.equal(r.code, 0, r.stderr);
    const got = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ') as [string, string]));
    // What does not exist cannot be opened, stat'ed, removed, moved or linked; its name cannot be made.
    assert.deepEqual(got, {
      open: 'ENOENT', stat: 'ENOENT', lstat: 'ENOENT', access: 'ENOENT', readlink: 'ENOENT', chmod: 'ENOENT', getxattr: 'ENOENT',
      unlink: 'ENOENT', rename_from: 'ENOENT', link_from: 'ENOENT',
      create: 'EPERM', create_tmp_sibling: 'EPERM', mkdir: 'EPERM', symlink_to: 'EPERM', rename_to: 'EPERM', link_to: 'EPERM',
      listed: 'False',
    });
    // The shell tools a person would use say the same.
    for (const cmd of [`cat ${DEFAULTS_FILE}`, `rm ${DEFAULTS_FILE}`, `mv ${DEFAULTS_FILE} y`, `ln -s x ${DEFAULTS_FILE}`, `stat ${DEFAULTS_FILE}`]) {
      const c = await m.run('sh', ['-c', `cd "$0" && ${cmd}`, m.dir]);
      assert.notEqual(c.code, 0, cmd);
      assert.match(c.stderr, /No such file or directory|Operation not permitted/, cmd);
    }
    assert.equal((await m.run('ls', ['-A', m.dir])).stdout, 'x\n');
    assert.equal(fs.readFileSync(path.join(store, DEFAULTS_FILE), 'utf8'), stored, 'the stored defaults are unchanged');
    assert.deepEqual(fs.readdirSync(store).sort(), [DEFAULTS_FILE, 'x'], 'nothing was created in the backing directory');
    assert.equal((await m.cli(['defaults', m.dir])).stdout, 'XXX=baz\n');
  });

  test('a defaults file that cannot be read or is not JSON: the mount refuses with one line', T, async (t) => {
    for (const [make, message] of [
      [(f: string) => fs.mkdirSync(f), `Error: cannot read mount defaults ${DEFAULTS_FILE}: EISDIR: illegal operation on a directory, read\n`],
      [(f: string) => fs.writeFileSync(f, '{"A": '), new RegExp(`^Error: mount defaults file ${DEFAULTS_FILE.replace(/\./g, '\\.')} is not valid JSON \\(.+\\); fix or delete it\n$`)],
      [(f: string) => fs.writeFileSync(f, '["A=1"]'), `Error: mount defaults file ${DEFAULTS_FILE} is not valid JSON (not an object); fix or delete it\n`],
    ] as const) {
      const dir = tempDir(t, user);
      make(path.join(dir, DEFAULTS_FILE));
      const r = await run(user, user.bin, ['mount', dir], { XDG_STATE_HOME: tempDir(t, user, 'varsymfs-state-') });
      assert.equal(r.code, 1, r.stderr);
      if (typeof message === 'string') assert.equal(r.stderr, message);
      else assert.match(r.stderr, message);
    }
  });

  test('defaults that cannot be stored: one line, at mount and from `varsymfs defaults`; a bad name is a bad command line', { ...T, skip: user.uid === 0 ? 'root writes to a read-only directory regardless of its mode' : false }, async (t) => {
    const dir = tempDir(t, user);
    fs.chmodSync(dir, 0o555);
    const atMount = await run(user, user.bin, ['mount', dir, '--default', 'A=1'], { XDG_STATE_HOME: tempDir(t, user, 'varsymfs-state-') });
    assert.equal(atMount.code, 1);
    assert.match(atMount.stderr, /^Error: cannot store mount defaults: EACCES: permission denied, open '\.varsymfs-defaults\.json\.[0-9a-f]{32}\.tmp'\n$/);
    fs.chmodSync(dir, 0o755);
    const m = await mount(t, user, { dir });
    assert.equal((await m.run('chmod', ['555', m.dir])).code, 0);
    const later = await m.cli(['defaults', m.dir, 'A=1']);
    assert.equal(later.code, 1);
    assert.match(later.stderr, /^Error: cannot store mount defaults: EACCES: permission denied, open '\.varsymfs-defaults\.json\.[0-9a-f]{32}\.tmp'\n$/);
    const badName = await m.cli(['defaults', m.dir, '--unset', '1X']);
    assert.equal(badName.code, 2);
    assert.equal(badName.stderr, "Error: invalid variable name '1X': expected [A-Za-z_][A-Za-z0-9_]*\n");
    assert.equal((await m.run('chmod', ['755', m.dir])).code, 0);
  });
});

function populate(d: string): void {
  fs.writeFileSync(path.join(d, 'bar'), 'bar');
  fs.writeFileSync(path.join(d, 'baz'), 'baz');
  fs.symlinkSync('$<XXX>', path.join(d, 'foo'));
}

describeEachUser((user) => {
  test('defaults: set, unset and print while mounted; changes apply at once and persist across remounts', T, async (t) => {
    const m = await mount(t, user, { setup: populate });
    assert.equal((await m.cli(['defaults', m.dir])).stdout, '');
    assert.notEqual((await m.run('cat', [path.join(m.dir, 'foo')])).code, 0);
    assert.equal((await m.cli(['defaults', m.dir, 'XXX=bar', 'Y=1'])).stdout, 'XXX=bar\nY=1\n');
    assert.equal((await m.run('cat', [path.join(m.dir, 'foo')])).stdout, 'bar');
    assert.equal((await m.cli(['defaults', m.dir, '--unset', 'Y', 'XXX=baz'])).stdout, 'XXX=baz\n');
    assert.equal((await m.run('cat', [path.join(m.dir, 'foo')])).stdout, 'baz');
    const bad = await m.cli(['defaults', m.dir, 'not-an-assignment']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Error: invalid default/);
    assert.equal((await m.cli(['unmount', m.dir])).code, 0);
    await waitFor(() => !alive(m.pid));
    const m2 = await mount(t, user, { dir: m.dir });
    assert.equal((await m2.cli(['defaults', m2.dir])).stdout, 'XXX=baz\n');
    assert.equal((await m2.run('cat', [path.join(m2.dir, 'foo')])).stdout, 'baz');
  });
});
