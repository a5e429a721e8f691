// The per-process environment cache through a real mount (src/binding/callers.c):
// --cache-size bounds it, eviction is least-recently-used, and a process that keeps resolving is served
// from it (the debug log marks each such resolution "(cached)").
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { mount, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser } from './helpers/users';

const T = { timeout: 60000 };

describeEachUser((user) => {
  test('--cache-size 2: a process resolving between newcomers stays cached (LRU); at most 2 entries', T, async (t) => {
    const m = await mount(t, user, { args: ['--cache-size', '2', '--log-level', 'debug'], setup: (d) => (fs.writeFileSync(path.join(d, 'bar'), 'bar'), fs.symlinkSync('$<XXX>', path.join(d, 'foo'))) });
    const link = path.join(m.dir, 'foo');
    // A long-lived process that resolves the link once per line it reads.
    // Started by a shell of the user, as a user's programs are: a normal user's daemon caches a caller only
    // when it can tell the caller does not share its parent's memory (test/review.test.ts, B).
    const script = 'import os,sys\nprint(os.getpid(), flush=True)\nfor _ in sys.stdin:\n  print(os.readlink(sys.argv[1]), flush=True)';
    const [file, argv] = asUser(user, 'sh', ['-c', 'python3 -c "$0" "$1"; true', script, link]);
    const steady = spawn(file, argv, { env: { ...baseEnv(user), XXX: 'bar' }, stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => steady.kill('SIGKILL'));
    let out = '';
    steady.stdout.on('data', (d: Buffer) => (out += d.toString()));
    assert.ok(await waitFor(() => out.includes('\n')), 'the steady process started');
    const steadyPid = Number(out.slice(0, out.indexOf('\n')));
    out = out.slice(out.indexOf('\n') + 1);
    const resolveSteady = async (n: number) => {
      steady.stdin.write('\n');
      assert.ok(await waitFor(() => out.split('\n').length > n), 'the steady process answered');
    };
    // steady, newcomer, steady, newcomer, ...: with room for two, least-recently-used eviction always
    // evicts the previous newcomer, never the process that keeps resolving.
    await resolveSteady(1);
    for (let i = 0; i < 4; i++) {
      assert.equal((await m.run('sh', ['-c', 'cat "$0"; true', link], { XXX: 'bar' })).stdout, 'bar');
      await resolveSteady(i + 2);
    }
    assert.equal(out, 'bar\n'.repeat(5));
    const mine = new RegExp(`^\\S+ debug resolve pid=${steadyPid} .* env=environment( \\(cached\\))?$`);
    const lines = () => fs.readFileSync(m.log, 'utf8').split('\n').filter((l) => mine.test(l));
    assert.ok(await waitFor(() => lines().length >= 5, 5000), 'a log line per resolution');
    const steadyLines = lines();
    assert.ok(!steadyLines[0]!.endsWith('(cached)'), 'its first resolution reads the environment');
    const fresh = steadyLines.slice(1).filter((l) => !l.endsWith('(cached)'));
    assert.deepEqual(fresh, [], `after the first, every resolution is served from the cache (${steadyLines.length} lines)`);
    const [s] = JSON.parse((await m.cli(['status', '--json', m.dir])).stdout) as Array<{ cache: { entries: number; hits: number } }>;
    assert.equal(s!.cache.entries, 2, 'five processes resolved; two are kept');
    assert.ok(s!.cache.hits >= steadyLines.length - 1);
  });
});
