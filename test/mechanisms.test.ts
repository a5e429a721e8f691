// Every way a caller has to exec, change identity and name a file, through a real mount (docs/testing.md,
// "Claims and their tests"): execveat as well as execve, a vfork child that reads a link and then execs,
// file capabilities (AT_SECURE without setuid), setresuid after a cached resolution, mode and xattr changes
// on a symlink itself, mknod of the reserved name, and a project file saved by rename-into-place.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { callers, compileCallers, ERRNO } from './helpers/callers';
import { chownTree, mount, tempDir, whichProgramStore } from './helpers/mount';
import { asUser, baseEnv, plainUser, rootUser, run, testUsers } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();
const needsRootAndPlain = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
const OTHER_UID = 47111;
const RESERVED = '.varsymfs-defaults.json';

compileCallers();

for (const [label, user] of testUsers()) {
  describe(label, () => {
    test('execveat reads the pending exec\'s environment, as execve does', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => whichProgramStore(d, callers.bin) });
      const r = await m.run(callers.bin, ['execveat', path.join(m.dir, 'd', 'prog'), 'V=A'], { V: 'B' });
      assert.equal(r.stdout, 'A\n', r.stderr);
    });

    test('a vfork child reads with its parent\'s environment, then after its exec with its own', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => fs.symlinkSync('$<V:-none>', path.join(d, 'l')) });
      // The child's first read is answered from the memory it shares with its parent (A); after its exec
      // the same thread has an image of its own (B), whatever was kept of the first.
      const r = await m.run(callers.bin, ['vfork', path.join(m.dir, 'l'), 'V=B'], { V: 'A' });
      assert.equal(r.stdout, 'A\nB\n', r.stderr);
    });

    test('a symlink\'s own mode and xattrs: chmod is EOPNOTSUPP and its target is untouched; llistxattr lists the link\'s', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => {
        fs.writeFileSync(path.join(d, 'f'), 'data');
        fs.chmodSync(path.join(d, 'f'), 0o644);
        fs.symlinkSync('f', path.join(d, 'l'));
      } });
      const f = path.join(m.dir, 'f');
      const l = path.join(m.dir, 'l');
      const set = await m.run('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.mark", b"target")', f]);
      assert.equal(set.code, 0, set.stderr);
      assert.equal((await m.run(callers.bin, ['lchmod', l, '600'])).stdout, `ERR ${ERRNO.EOPNOTSUPP}\n`);
      assert.equal((await m.run('stat', ['-c', '%a', f])).stdout, '644\n', 'the target\'s mode is unchanged');
      assert.equal((await m.run(callers.bin, ['llistxattr', l])).stdout, '', 'the link has no xattrs: the target\'s are not its');
      assert.equal((await m.run(callers.bin, ['llistxattr', f])).stdout, 'user.mark\n');
    });

    test('mknod of the reserved name (and of a name it begins) is refused and creates nothing', T, async (t) => {
      const m = await mount(t, user);
      for (const name of [RESERVED, `${RESERVED}.tmp-1`]) {
        const r = await m.run('mkfifo', [path.join(m.dir, name)]);
        assert.notEqual(r.code, 0, `mkfifo ${name}`);
        assert.match(r.stderr, /Operation not permitted/);
      }
      if (process.geteuid?.() === 0) {
        // The backing store is the daemon's working directory (the mount covers it).
        const backing = fs.readdirSync(`/proc/${m.pid}/cwd`);
        assert.deepEqual(backing.filter((n) => n.startsWith(RESERVED)), [], 'nothing created in the store');
      }
    });

    test('a project file saved by rename-into-place is seen by the next resolution of a caller already there', T, async (t) => {
      // V from the caller's environment and GO_VERSION from the project file: the answer depends on both.
      const m = await mount(t, user, { setup: (d) => fs.symlinkSync('$<V:-v>/$<GO_VERSION:-none>', path.join(d, 'go')) });
      const proj = tempDir(t, user, 'varsymfs-proj-');
      fs.writeFileSync(path.join(proj, '.tool-versions'), 'golang 1.21.0\n');
      chownTree(proj, user);
      // One long-lived caller reads the link, the file is replaced as editors save it, the caller reads again.
      const [file, argv] = asUser(user, callers.bin, ['twice', path.join(m.dir, 'go')]);
      const child = spawn(file, argv, { cwd: proj, env: { ...baseEnv(user), V: 'env' }, stdio: ['pipe', 'pipe', 'pipe'] });
      t.after(() => child.kill('SIGKILL'));
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const lines = (n: number) => new Promise<void>((resolve, reject) => {
        const check = () => (out.split('\n').length > n ? resolve() : undefined);
        child.stdout.on('data', check);
        child.on('close', () => reject(new Error(`the caller ended early: ${out}`)));
        check();
      });
      await lines(1);
      assert.equal(out.split('\n')[0], 'env/1.21.0');
      const tmp = path.join(proj, '.tool-versions.swp');
      fs.writeFileSync(tmp, 'golang 1.22.3\n');
      chownTree(tmp, user);
      fs.renameSync(tmp, path.join(proj, '.tool-versions'));
      child.stdin.write('\n');
      await lines(2);
      assert.equal(out.split('\n')[1], 'env/1.22.3', out);
    });

    test('pending exec: a variable whose name begins another\'s (VV before V), set, unset and changed, exec after exec', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => whichProgramStore(d, callers.bin) });
      const prog = path.join(m.dir, 'd', 'prog');
      // The same target again and again: the second and later answers may come from the memo, keyed by
      // the values of exactly the variables the target names.
      for (const [env, want] of [[['VV=A'], 'C'], [['VV=A', 'V=B'], 'B'], [['VV=A', 'V=A'], 'A'], [['VV=B', 'V=A'], 'A'], [['VV=A'], 'C'], [['VV=A', 'V=B'], 'B']] as const) {
        const r = await m.run(callers.bin, ['execenv', prog, ...env], { V: 'C' });
        assert.equal(r.stdout, `${want}\n`, `${env.join(' ')}: ${r.stderr}`);
      }
    });
  });
}

describe('identity changes and secure exec (a root daemon serving others)', () => {
  test('setresuid after a cached resolution: the caller\'s ids now differ, so its environment no longer counts', { ...T, skip: !root ? 'needs root' : false }, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('$<SECRET:-none>', path.join(d, 'l'))) });
    const r = await m.run(callers.bin, ['setresuid', path.join(m.dir, 'l'), String(OTHER_UID)], { SECRET: 's3cret' });
    assert.equal(r.stdout, 's3cret\nnone\n', r.stderr);
  });

  test('file capabilities (AT_SECURE, no setuid): the program resolves without the invoking user\'s environment or its own pending exec\'s, with each change of the defaults', { ...T, skip: needsRootAndPlain || (spawnSync('setcap', ['-h']).error ? 'needs setcap (libcap2-bin)' : false) }, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('$<SECRET:-none>', path.join(d, 'l')), whichProgramStore(d, callers.bin)) });
    const dir = tempDir(t, root!, 'varsymfs-fcaps-');
    fs.chmodSync(dir, 0o755);
    const capped = path.join(dir, 'capped');
    const plainCopy = path.join(dir, 'plain');
    fs.copyFileSync(callers.bin, capped);
    fs.copyFileSync(callers.bin, plainCopy);
    fs.chmodSync(capped, 0o755);
    fs.chmodSync(plainCopy, 0o755);
    const cap = spawnSync('setcap', ['cap_net_raw+p', capped], { encoding: 'utf8' });
    assert.equal(cap.status, 0, cap.stderr);
    const l = path.join(m.dir, 'l');
    assert.equal((await run(plain!, plainCopy, ['readlink', l], { SECRET: 'mine' })).stdout, 'mine\n', 'the same program without the capability');
    const r = await run(plain!, capped, ['readlink', l], { SECRET: 'chosen-by-the-invoker' });
    assert.equal(r.stdout, 'none\n', r.stderr);
    // Nor is the environment it passes to a program it execs through the mount (its pending exec).
    const prog = path.join(m.dir, 'd', 'prog');
    assert.equal((await run(plain!, plainCopy, ['execenv', prog, 'V=A'])).stdout, 'A\n', 'the same exec without the capability');
    assert.equal((await run(plain!, capped, ['execenv', prog, 'V=A'])).stdout, 'C\n');
    // Without an environment the answer depends on the mount defaults alone: each change is seen.
    for (const value of ['first', 'second']) {
      const d = await m.cli(['defaults', m.dir, `SECRET=${value}`]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal((await run(plain!, capped, ['readlink', l], { SECRET: 'chosen-by-the-invoker' })).stdout, `${value}\n`, `after defaults SECRET=${value}`);
    }
  });
});
