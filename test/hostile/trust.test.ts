// The trust rule for project files under attack (issue 17, as merged): findings 1, 3 and 5 of the review
// "Hostile neighbours", each through real mounts, with the test's unprivileged user as the attacker and root
// as the victim. Every test here failed on the code it reviewed (1ed9cbe, and again on 4adfc14); what held
// is listed in the review's report, not tested twice here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { describe, test, type TestContext } from 'node:test';
import { isMounted, mount, onCleanup, tempDir, type Mounted } from '../helpers/mount';
import { T, bin, goMount, needsRootAndPlain, plain, quietDir, root, runIn, settle, tree } from '../helpers/prober';
import { asUser, baseEnv, run, type TestUser } from '../helpers/users';

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
