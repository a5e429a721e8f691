// The daemon log through real mounts: --log-level debug writes one line per resolution (and info does
// not), and a log past 4 MiB is moved to .log.1 at the next mount.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { alive, chownTree, mount, onCleanup, tempDir, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser, type TestUser } from './helpers/users';
import { logFile } from '../src/paths';

const T = { timeout: 300000 };

function links(d: string): void {
  fs.writeFileSync(path.join(d, 'bar'), 'bar');
  fs.symlinkSync('$<XXX>', path.join(d, 'foo'));
  fs.mkdirSync(path.join(d, 'go1.2.1', 'bin'), { recursive: true });
  // It stays until its stdin is closed (see staying below).
  fs.writeFileSync(path.join(d, 'go1.2.1', 'bin', 'go'), '#!/bin/sh\necho go1.2.1\ncat >/dev/null\n', { mode: 0o755 });
  fs.symlinkSync('$<GO_VERSION>', path.join(d, 'go'));
}

/**
 * `sh -c script` as `user`, which prints its pid (a line), then its answer, then stays until its stdin is
 * closed: the daemon reads a caller's name (/proc/<pid>/comm) just after its reply, so the caller must still
 * be there then. Resolves once `expected` is printed (or the caller exited); end() closes its stdin.
 */
async function staying(t: TestContext, user: TestUser, script: string, args: string[], env: NodeJS.ProcessEnv, expected: string): Promise<{ pid: string; answer: string; end: () => void }> {
  const [file, argv] = asUser(user, 'sh', ['-c', script, ...args]);
  const child = spawn(file, argv, { env: { ...baseEnv(user), ...env }, cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
  onCleanup(t, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let said = '';
  child.stdout.on('data', (d: Buffer) => (said += d.toString()));
  assert.ok(await waitFor(() => said.includes(`\n${expected}`) || child.exitCode !== null), `${script}: ${JSON.stringify(said)}`);
  const nl = said.indexOf('\n');
  return { pid: said.slice(0, nl), answer: said.slice(nl + 1).trim(), end: () => child.stdin.end() };
}

describeEachUser((user) => {
  test('--log-level debug: one line per resolution, naming pid, program, scopes; info writes none', T, async (t) => {
    const m = await mount(t, user, { args: ['--log-level', 'debug'], setup: links });
    // cat prints the file the link names, then stays (reading its stdin, "-").
    const r = await staying(t, user, 'echo $$; exec cat "$0/foo" -', [m.dir], { XXX: 'bar' }, 'bar');
    assert.equal(r.answer, 'bar');
    const go = await staying(t, user, 'echo $$; GO_VERSION=go1.2.1 exec "$0/go/bin/go"', [m.dir], {}, 'go1.2.1\n');
    assert.equal(go.answer, 'go1.2.1');
    // The line is written once /proc/<pid>/comm has been read, just after the reply.
    const lines = () => fs.readFileSync(m.log, 'utf8').split('\n');
    const cat = new RegExp(`^\\S+ debug resolve pid=${r.pid} \\(cat\\) /foo -> bar \\[XXX:environment\\] env=environment( \\(cached\\))?$`);
    const exec = new RegExp(`^\\S+ debug resolve pid=${go.pid} \\((sh|go)\\) /go -> go1\\.2\\.1 \\[GO_VERSION:pending exec\\] env=pending exec$`);
    const logged = await waitFor(() => lines().some((l) => cat.test(l)) && lines().some((l) => exec.test(l)));
    r.end();
    go.end();
    assert.ok(logged, lines().join('\n'));

    const quiet = await mount(t, user, { setup: links });
    assert.equal((await quiet.run('cat', [path.join(quiet.dir, 'foo')], { XXX: 'bar' })).stdout, 'bar');
    assert.equal((await quiet.cli(['unmount', quiet.dir])).code, 0);
    assert.ok(await waitFor(() => !alive(quiet.pid)));
    const text = fs.readFileSync(quiet.log, 'utf8');
    assert.match(text, / info .*: mounted /);
    assert.doesNotMatch(text, / debug /);
  });

  test('--log-level debug: a process resolving one link again and again is never answered from the memo (every resolution reaches the log)', T, async (t) => {
    const m = await mount(t, user, { args: ['--log-level', 'debug'], setup: links });
    const counters = async () => {
      const s = await m.cli(['status', '--json', m.dir]);
      assert.equal(s.code, 0, s.stderr);
      const [c] = JSON.parse(s.stdout) as Array<{ resolutions: number; cache: { memoHits: number } }>;
      return { resolutions: c!.resolutions, memoHits: c!.cache.memoHits };
    };
    const before = await counters();
    const r = await m.run('python3', ['-c', 'import os,sys\nfor i in range(20): assert os.readlink(sys.argv[1]) == "bar"', path.join(m.dir, 'foo')], { XXX: 'bar' });
    assert.equal(r.code, 0, r.stderr);
    const after = await counters();
    assert.ok(after.resolutions - before.resolutions >= 20, JSON.stringify({ before, after }));
    assert.equal(after.memoHits - before.memoHits, 0, `JS asked C to keep nothing: ${JSON.stringify({ before, after })}`);
  });

  test('a log past 4 MiB is moved to .log.1 at the next mount; a smaller one is appended to', T, async (t) => {
    const dir = tempDir(t, user);
    const state = tempDir(t, user, 'varsymfs-state-');
    const env = { XDG_STATE_HOME: state };
    const log = logFile(dir, env);
    fs.mkdirSync(path.dirname(log), { recursive: true });
    const old = 'an old line\n'.repeat(Math.ceil((4 * 1024 * 1024 + 1) / 12));
    fs.writeFileSync(log, old);
    chownTree(state, user);
    const m = await mount(t, user, { dir, env });
    assert.equal(m.log, log);
    assert.equal(fs.readFileSync(log + '.1', 'utf8'), old, 'the old log, whole, in .log.1');
    assert.match(fs.readFileSync(log, 'utf8'), /^\S+ info \S+: mounted /);
    assert.equal((await m.cli(['unmount', m.dir])).code, 0);
    assert.ok(await waitFor(() => !alive(m.pid)));
    // Under 4 MiB: the next mount appends.
    const before = fs.readFileSync(log, 'utf8');
    const m2 = await mount(t, user, { dir, env });
    const after = fs.readFileSync(log, 'utf8');
    assert.ok(after.startsWith(before) && after.length > before.length, 'appended');
    assert.equal(fs.statSync(log + '.1').size, Buffer.byteLength(old), '.log.1 untouched');
    assert.equal((await m2.cli(['unmount', m2.dir])).code, 0);
  });
});
