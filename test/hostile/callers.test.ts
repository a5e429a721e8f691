// Which environment a caller gets, under attack (src/binding/callers.c): a reused thread id, a CLONE_VM
// sibling kept across an exec, an environment changed in place, thread churn against the caller cache, and
// the cache for callers whose parent the daemon may not ptrace. Numbered findings are the security review's
// (issue 9), lettered ones the native-path review's ("At e111b13" says what each did on the code it
// reviewed); A, I and the second B case are residuals written down in docs/semantics.md, kept as todo tests
// so that a fix shows.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { OTHER_UID, T, attack, hostile, needsRootAndPlain, plain, root, useFixtures } from '../helpers/hostile';
import { mount, type Mounted } from '../helpers/mount';
import { asUser, baseEnv, run, testUsers, type TestUser } from '../helpers/users';

useFixtures();

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

/** Runs `script` with `sh -c` as `user`, so that the processes it starts have a parent of their own user
 * (as in a user's shell: the daemon's caller cache is then allowed to work; see finding B). */
function viaShell(m: Mounted | { run: Mounted['run'] }, script: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60000) {
  return m.run('sh', ['-c', `${script}; true`, ...args], env, { timeoutMs });
}

/** The daemon's counters (status --json), as the mounting user. */
async function counters(m: Mounted): Promise<{ resolutions: number; memoHits: number; envHits: number }> {
  const r = await m.cli(['status', '--json', m.dir]);
  assert.equal(r.code, 0, r.stderr);
  const [s] = JSON.parse(r.stdout) as Array<{ resolutions: number; cache: { memoHits: number; hits: number } }>;
  return { resolutions: s!.resolutions, memoHits: s!.cache.memoHits, envHits: s!.cache.hits };
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
    test('3. 10 000 short-lived threads from 4 processes: right answers, daemon fds within the cache bound', T, async (t) => {
      const cacheSize = 64;
      const m = await mount(t, user, { args: ['--cache-size', String(cacheSize)], setup: (d) => fs.symlinkSync('v-$<V>', path.join(d, 'l')) });
      const before = fdCount(m.pid);
      // Started from a shell of the user (a normal user's daemon caches only callers it can tell apart
      // from their parent's memory: B below), so that the table really fills and churns.
      const runs = await Promise.all([0, 1, 2, 3].map((i) => m.run('sh', ['-c', '"$0" churn "$1" 2500 "$2"; true', hostile, path.join(m.dir, 'l'), `v-p${i}`], { V: `p${i}` }, { timeoutMs: 170000 })));
      assert.deepEqual(runs.map((r) => r.stdout.trim()), Array(4).fill('ok=2500 bad=0'), runs.map((r) => r.stderr).join(''));
      const after = fdCount(m.pid);
      t.diagnostic(`daemon fds: ${before} before, ${after} after`);
      // Two fds per cached caller (its anchor and its environment), plus a small constant.
      assert.ok(after <= before + 2 * cacheSize + 16, `fds grew from ${before} to ${after}`);
      const [st] = JSON.parse((await m.cli(['status', '--json', m.dir])).stdout) as Array<{ cache: { entries: number } }>;
      assert.ok(st!.cache.entries > 0 && st!.cache.entries <= cacheSize, `the table was used and stayed bounded (${st!.cache.entries} entries)`);
    });
  });
}

for (const [label, user] of testUsers()) {
  describe(`A. a process that exec'd gets its new environment, even while a CLONE_VM sibling keeps its old memory alive (${label})`, () => {
    test('clone(CLONE_VM) sibling, readlink, execve with V=new, readlink', { ...T, todo: 'residual (docs/semantics.md): a process whose memory a clone(CLONE_VM) child keeps alive across its exec is answered from its old environment until the child exits' }, async (t) => {
      const m = await mount(t, user, { setup: (d) => fs.symlinkSync('v-$<V:-none>', path.join(d, 'link')) });
      const r = await viaShell(m, '"$0" vm-exec "$1"', [attack, path.join(m.dir, 'link')], { V: 'old' });
      // At e111b13: "after v-old". The environ fd cached for the tid is bound to the old memory image,
      // which the sibling keeps alive, so the one-byte pread "proves" nothing changed.
      assert.equal(r.stdout, 'before v-old\nafter v-new\n', r.stderr);
    });

    test('I. an environment changed in place (setproctitle-style) is not served from the cache', { ...T, todo: 'residual (docs/semantics.md): a process sees the environment its program started with; writes into that block are not seen once cached' }, async (t) => {
      // Low severity: either the cache must notice, or docs/semantics.md must say that a process's later
      // writes into its own environment block are not seen once it has resolved a link.
      const m = await mount(t, user, { setup: (d) => fs.symlinkSync('v-$<V:-none>', path.join(d, 'link')) });
      const r = await viaShell(m, '"$0" inplace "$1"', [attack, path.join(m.dir, 'link')], { V: 'old' });
      assert.equal(r.stdout, 'before v-old\nafter v-zzz\n', r.stderr);
    });
  });
}

describe('B. warm answers without JS for callers whose parent the daemon may not ptrace', { skip: needsRootAndPlain }, () => {
  test('root --allow-other: an unprivileged user\'s repeated readlinks are answered from the memo', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('v-$<V:-none>', path.join(d, 'link'))) });
    const before = await counters(m);
    const py = 'import os,sys\nfor i in range(1000): assert os.readlink(sys.argv[1]) == "v-mine"';
    const r = await viaShell({ run: (c, a, e, o) => run(plain!, c, a, e, o) }, 'python3 -c "$0" "$1"', [py, path.join(m.dir, 'link')], { V: 'mine' });
    assert.equal(r.code, 0, r.stderr);
    const after = await counters(m);
    // At e111b13: 0 hits. kcmp(KCMP_VM) runs with the caller's fs ids and no capabilities but checks
    // the daemon's REAL uid (PTRACE_MODE_READ_REALCREDS): EPERM, which counts as "shares memory",
    // which is never cached. Every request of every non-root user goes to JS.
    assert.ok(after.memoHits - before.memoHits >= 900, `memo hits ${after.memoHits - before.memoHits} of ${after.resolutions - before.resolutions}`);
  });

  test('a user\'s own mount: a caller whose parent is another user\'s (login, sshd, sudo) is cached too', { ...T, todo: 'a normal user\'s daemon cannot tell whether such a caller shares its parent\'s memory (kcmp needs access to the parent), so it is answered exactly but through JS every time' }, async (t) => {
    const m = await mount(t, plain!, { setup: (d) => fs.symlinkSync('v-$<V:-none>', path.join(d, 'link')) });
    const before = await counters(m);
    // parent 'runner': setpriv -> env -> python3, whose parent is this (root) test process.
    const r = await m.run('python3', ['-c', 'import os,sys\nfor i in range(1000): os.readlink(sys.argv[1])', path.join(m.dir, 'link')], { V: 'x' }, { parent: 'runner' });
    assert.equal(r.code, 0, r.stderr);
    const after = await counters(m);
    assert.ok(after.memoHits - before.memoHits >= 900, `memo hits ${after.memoHits - before.memoHits}`);
  });
});
