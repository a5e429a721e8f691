// The per-process environment cache through a real mount (src/binding/callers.c), in the production
// configuration (the memo on: no --log-level debug): --cache-size bounds it, eviction is
// least-recently-used, and a process that keeps resolving is served from it. The status counters
// (`varsymfs status --json`: cache.lookups, cache.hits) prove each.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { mount, waitFor, type Mounted } from './helpers/mount';
import { asUser, baseEnv, describeEachUser } from './helpers/users';

const T = { timeout: 300000 };

interface Cache { entries: number; lookups: number; hits: number }

async function cache(m: Mounted): Promise<Cache> {
  const r = await m.cli(['status', '--json', m.dir]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ cache: Cache }>)[0]!.cache;
}

const setup = (d: string) => (fs.writeFileSync(path.join(d, 'bar'), 'bar'), fs.symlinkSync('$<XXX>', path.join(d, 'foo')));

describeEachUser((user) => {
  test('--cache-size 2: a process resolving between newcomers stays cached (LRU); at most 2 entries', T, async (t) => {
    const m = await mount(t, user, { args: ['--cache-size', '2'], setup });
    const link = path.join(m.dir, 'foo');
    // A long-lived process that resolves the link once per line it reads, under a parent of the user (as
    // a user's programs are: a plain user's daemon caches a caller only when it can tell the caller does
    // not share its parent's memory, test/hostile/callers.test.ts B).
    const script = 'import os,sys\nprint(os.getpid(), flush=True)\nfor _ in sys.stdin:\n  print(os.readlink(sys.argv[1]), flush=True)';
    const [file, argv] = asUser(user, 'python3', ['-c', script, link], { parent: 'user' });
    const steady = spawn(file, argv, { env: { ...baseEnv(user), XXX: 'bar' }, stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => steady.kill('SIGKILL'));
    let out = '';
    steady.stdout.on('data', (d: Buffer) => (out += d.toString()));
    assert.ok(await waitFor(() => out.includes('\n'), 120000), 'the steady process started');
    out = out.slice(out.indexOf('\n') + 1);
    let answers = 0;
    const resolveSteady = async () => {
      steady.stdin.write('\n');
      answers++;
      assert.ok(await waitFor(() => out.split('\n').length > answers, 120000), 'the steady process answered');
    };
    // steady, newcomer, steady, newcomer, ...: with room for two, least-recently-used eviction always
    // evicts the previous newcomer, never the process that keeps resolving.
    await resolveSteady();
    for (let i = 0; i < 4; i++) {
      assert.equal((await m.run('sh', ['-c', 'cat "$0"; true', link], { XXX: 'bar' })).stdout, 'bar');
      // Each resolution of the steady process right after a newcomer is a hit: the newcomer took the
      // other slot, never the steady process's (evicting the most recently used one would).
      const was = await cache(m);
      await resolveSteady();
      const now = await cache(m);
      assert.ok(now.lookups > was.lookups, `the steady process is looked up after newcomer ${i + 1} (${JSON.stringify({ was, now })})`);
      assert.equal(now.hits - was.hits, now.lookups - was.lookups, `after newcomer ${i + 1}, the steady process is still cached (${JSON.stringify({ was, now })})`);
    }
    // Then the steady process alone: every one of its lookups is a hit, which it is only if the newcomers
    // never evicted it.
    const before = await cache(m);
    for (let i = 0; i < 3; i++) await resolveSteady();
    const after = await cache(m);
    assert.equal(out, 'bar\n'.repeat(answers));
    assert.ok(after.lookups - before.lookups >= 3, `each resolution looks the caller up (${JSON.stringify({ before, after })})`);
    assert.equal(after.hits - before.hits, after.lookups - before.lookups, `every lookup of the steady process is a hit (${JSON.stringify({ before, after })})`);
    assert.equal(after.entries, 2, 'five processes resolved; two are kept');
  });

  test('a command the test runs as this user is a cached caller: its second resolution is a hit', T, async (t) => {
    const m = await mount(t, user, { setup });
    const link = path.join(m.dir, 'foo');
    const before = await cache(m);
    // One process resolving the link twice (readlink with two operands).
    const r = await m.run('readlink', [link, link], { XXX: 'bar' });
    assert.equal(r.stdout, 'bar\nbar\n', r.stderr);
    const after = await cache(m);
    assert.ok(after.hits > before.hits, `the second resolution is served from the cache (${JSON.stringify({ before, after })})`);
  });
});
