// Resource bounds measured where they allocate (docs/testing.md, "Claims and their tests"): the daemon's
// fds after many callers whose resolutions walk project files and after many pending execs, and its memory
// after many requests from a caller in 1024 groups. Each bound is far below what one leak per request
// would reach and far above what the cache may hold (two fds per cached caller, --cache-size).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { callers, compileCallers, fdCount, rssKiB } from './helpers/callers';
import { chownTree, mount, tempDir, whichProgramStore } from './helpers/mount';
import { baseEnv, rootUser, testUsers } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const OTHER_UID = 47111;
const GROUP = 4711;
const CACHE = 4;
/** What may be open beyond the cached callers: the log, the control socket, inotify, /proc/self/mountinfo… */
const SLACK = 16;
const ROUNDS = 200;
const EMFILE = 24;

compileCallers();

/** A shell loop as the user: ROUNDS runs of `cmd`, each a new process. */
const loop = (cmd: string) => `i=0; while [ $i -lt ${ROUNDS} ]; do ${cmd}; i=$((i+1)); done`;

for (const [label, user] of testUsers()) {
  describe(label, () => {
    test(`${ROUNDS} callers in a project directory: the daemon's fds stay within the cache bound`, T, async (t) => {
      const m = await mount(t, user, { args: ['--cache-size', String(CACHE)], setup: (d) => fs.symlinkSync('$<GO_VERSION:-none>', path.join(d, 'go')) });
      const proj = tempDir(t, user, 'varsymfs-proj-');
      fs.writeFileSync(path.join(proj, '.tool-versions'), 'golang 1.22.3\n');
      chownTree(proj, user);
      const go = path.join(m.dir, 'go');
      assert.equal((await m.run('readlink', [go], {}, { cwd: proj })).stdout, '1.22.3\n');
      const before = fdCount(m.pid);
      const r = await m.run('sh', ['-c', loop('readlink "$0"'), go], {}, { cwd: proj, timeoutMs: 240000 });
      assert.equal(r.stdout, '1.22.3\n'.repeat(ROUNDS), r.stderr);
      const after = fdCount(m.pid);
      assert.ok(after <= before + 2 * CACHE + SLACK, `daemon fds: ${before} before, ${after} after ${ROUNDS} callers`);
    });

    test(`${ROUNDS} pending execs through a variant link: the daemon's fds stay within the cache bound`, T, async (t) => {
      const m = await mount(t, user, { args: ['--cache-size', String(CACHE)], setup: (d) => whichProgramStore(d, callers.bin) });
      const prog = path.join(m.dir, 'd', 'prog');
      assert.equal((await m.run(prog, [], { V: 'A' })).stdout, 'A\n');
      const before = fdCount(m.pid);
      const r = await m.run('sh', ['-c', loop('V=A "$0"'), prog], {}, { timeoutMs: 240000 });
      assert.equal(r.stdout, 'A\n'.repeat(ROUNDS), r.stderr);
      const after = fdCount(m.pid);
      assert.ok(after <= before + 2 * CACHE + SLACK, `daemon fds: ${before} before, ${after} after ${ROUNDS} pending execs`);
    });
  });
}

describe('a caller in 1024 groups (a root daemon serving others)', { skip: !root ? 'needs root' : false }, () => {
  test('3000 opens leave the daemon\'s memory and fds where they were', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => {
      fs.chmodSync(d, 0o755);
      fs.writeFileSync(path.join(d, 'f'), 'group data');
      fs.chownSync(path.join(d, 'f'), 0, GROUP);
      fs.chmodSync(path.join(d, 'f'), 0o640);
    } });
    const opens = (n: number) => m.run(callers.bin, ['groups', '1024', 'last', String(GROUP), String(OTHER_UID), callers.bin, 'opens', path.join(m.dir, 'f'), String(n)], {}, { timeoutMs: 240000 });
    // A first round settles the daemon's own allocations (thread stacks, malloc arenas).
    assert.equal((await opens(500)).stdout, 'ok\n');
    const rss = rssKiB(m.pid);
    const fds = fdCount(m.pid);
    const r = await opens(3000);
    assert.equal(r.stdout, 'ok\n', r.stderr);
    // 3000 requests: a leak of the 64 KiB status buffer each would be 190 MiB; 48 MiB is allocator noise.
    assert.ok(rssKiB(m.pid) - rss < 48 * 1024, `daemon RSS grew from ${rss} KiB to ${rssKiB(m.pid)} KiB`);
    assert.ok(fdCount(m.pid) <= fds + SLACK, `daemon fds: ${fds} before, ${fdCount(m.pid)} after`);
  });
});

describe('the daemon out of fds', { skip: !root ? 'needs root (prlimit of the daemon)' : false }, () => {
  test('a variant link is that error, never its fallback, once the daemon\'s fd table is proven full', T, async (t) => {
    const m = await mount(t, root!, { setup: (d) => {
      fs.symlinkSync('v-$<V:-fallback>', path.join(d, 'link'));
      fs.writeFileSync(path.join(d, 'shared'), 'data');
    } });
    const link = path.join(m.dir, 'link');
    // A small table, filled through the mount by a holder: each file it opens is an fd of the daemon.
    const limit = fdCount(m.pid) + 8;
    const pl = spawnSync('prlimit', ['--pid', String(m.pid), `--nofile=${limit}:${limit}`], { encoding: 'utf8' });
    assert.equal(pl.status, 0, pl.stderr);
    const holder = 'import os,sys\nfds=[]\ntry:\n  while True: fds.append(os.open(sys.argv[1],os.O_RDONLY))\nexcept OSError as e: print(len(fds),e.errno,flush=True)\nsys.stdin.read()';
    const h = spawn('python3', ['-c', holder, path.join(m.dir, 'shared')], { env: baseEnv(root!), stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => h.kill('SIGKILL'));
    const line = await new Promise<string>((resolve) => h.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
    assert.equal(line.split(' ')[1], String(EMFILE), `the holder stopped for another reason: ${line}`);
    assert.ok(fdCount(m.pid) >= limit - 2, `the daemon's table is full: ${fdCount(m.pid)} of ${limit}`);
    const r = await m.run(callers.bin, ['readlink', link], { V: 'mine' });
    assert.equal(r.stdout, `ERR ${EMFILE}\n`, 'a resource failure is that error, never answered as "no environment" (v-fallback)');
    h.stdin!.end();
    await new Promise((resolve) => h.once('close', resolve));
    assert.equal((await m.run(callers.bin, ['readlink', link], { V: 'mine' })).stdout, 'v-mine\n', 'fds freed: answered again');
  });
});
