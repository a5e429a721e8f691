// Bad input on the command line of a first hour (src/cli.ts): each is one `Error: …` line and a non-zero exit,
// never a silent acceptance, a stack trace or a raw system-call error.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isMounted, tempDir } from './helpers/mount';
import { asUser, baseEnv, describeEachUser, run, type RunResult } from './helpers/users';

const T = { timeout: 300000 };

/** The first line of stderr is `Error: …` and nothing before it; no stack trace anywhere. */
function oneError(r: RunResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `exit ${r.code}: ${r.stdout}${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && l !== '(run with --help for usage)');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^Error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describeEachUser((user) => {
  // `varsymfs --help | head -1`: the reader is gone before the CLI writes (its end of the pipe is closed
  // before the CLI has started), as when `head` has had its line.
  test('output to a closed pipe (--help | head) ends quietly, exit 0, no stack trace', T, async () => {
    for (const args of [['--help'], ['completion', 'bash'], ['mount', '--help']]) {
      const [file, argv] = asUser(user, user.bin, args);
      const child = spawn(file, argv, { env: baseEnv(user), stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.destroy();
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.equal(stderr, '', `varsymfs ${args.join(' ')}: ${stderr}`);
      assert.equal(code, 0, `varsymfs ${args.join(' ')}`);
    }
  });

  test('--default NAME= (an empty value) is refused, in mount and in defaults', T, async (t) => {
    const dir = tempDir(t, user, 'varsymfs-firsthour-');
    const r = await run(user, user.bin, ['mount', dir, '--default', 'GO_VERSION=']);
    oneError(r, /GO_VERSION=.*empty/);
    assert.equal(r.code, 2);
    const d = await run(user, user.bin, ['defaults', dir, 'GO_VERSION=']);
    oneError(d, /GO_VERSION=.*empty/);
  });

  test('service install -- <options> checks the options as mount would, and writes nothing when they are bad', T, async (t) => {
    const home = tempDir(t, user, 'varsymfs-firsthour-');
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
    const r = await run(user, user.bin, ['service', 'install', path.join(home, 'vs'), '--', '--bogus'], env);
    oneError(r, /--bogus/);
    assert.equal(r.code, 2);
    assert.equal(fs.existsSync(path.join(home, '.config', 'systemd')), false, 'no unit written');
    const bad = await run(user, user.bin, ['service', 'install', path.join(home, 'vs'), '--', '--default', 'X='], env);
    oneError(bad, /X=/);
    const ok = await run(user, user.bin, ['service', 'install', path.join(home, 'vs'), '--', '--default', 'GO_VERSION=1.22.3'], env);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('resolve --pid of a process that does not exist is one line', T, async () => {
    const gone = await run(user, 'sh', ['-c', 'echo $$']);
    const pid = gone.stdout.trim();
    const r = await run(user, user.bin, ['resolve', '--pid', pid, '/tmp']);
    oneError(r, new RegExp(`no process ${pid}`));
  });

  test('a daemon handed a bad configuration (the internal --config-fd): one line, exit 1, nothing mounted', T, async (t) => {
    const dir = tempDir(t, user, 'varsymfs-firsthour-');
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, '{}', { mode: 0o644 });
    const cases: Array<[string, string, RegExp]> = [
      ['5<&0', 'nope', /configuration is not JSON/],
      ['5<&0', '{}', /configuration has a missing or bad mountPoint/],
      ['5<&0', JSON.stringify({ mountPoint: dir, bogus: 1 }), /configuration has an unknown field "bogus"/],
      [`5<"${file}"`, '', /cannot read the configuration on fd 5/],
    ];
    for (const [redirect, input, message] of cases) {
      const r = await run(user, 'sh', ['-c', `exec "$0" mount "$1" -f --config-fd 5 ${redirect}`, user.bin, dir], { XDG_STATE_HOME: path.join(dir, '.state') }, { input });
      oneError(r, message);
      assert.equal(r.code, 1, r.stderr);
    }
    // An endless one (`yes` on the pipe once grew the daemon past 1.6 GB): refused at its bound.
    const endless = await run(user, 'sh', ['-c', 'yes | "$0" mount "$1" -f --config-fd 5 5<&0', user.bin, dir], { XDG_STATE_HOME: path.join(dir, '.state') }, { timeoutMs: 120000 });
    oneError(endless, /configuration on fd 5 is larger than 4 MiB/);
    assert.equal(endless.code, 1, endless.stderr);
    assert.equal(isMounted(dir), false);
  });

  test('--trust-dir with bytes that are not UTF-8: one line, exit 2, never a look-alike path trusted (attack2)', T, async (t) => {
    const dir = tempDir(t, user, 'varsymfs-firsthour-');
    t.after(() => run(user, 'fusermount3', ['-u', '-z', '--', dir]));  // only if it mounted (the bug)
    // The argument decodes with U+FFFD for \xff: a daemon would trust "/tmp/t\uFFFD", a path anyone may create.
    const r = await run(user, 'sh', ['-c', 'exec "$0" mount "$1" --trust-dir "$(printf \'/tmp/t\\377\')"', user.bin, dir], { XDG_STATE_HOME: path.join(dir, '.state') });
    oneError(r, /--trust-dir.*not valid UTF-8/);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(isMounted(dir), false);
  });

  test('mount -o allow_other (the sshfs habit) gets a hint to --allow-other', T, async (t) => {
    const dir = tempDir(t, user, 'varsymfs-firsthour-');
    const r = await run(user, user.bin, ['mount', '-o', 'allow_other', dir]);
    oneError(r, /--allow-other/);
    assert.equal(r.code, 2);
  });

  test('a mount point this user cannot enter (mode 000) is one line that says how to fix it', { ...T, skip: user.uid === 0 ? 'root enters a mode-000 directory' : false }, async (t) => {
    const dir = tempDir(t, user, 'varsymfs-firsthour-');
    fs.chmodSync(dir, 0o000);
    const r = await run(user, user.bin, ['mount', dir], { XDG_STATE_HOME: path.join(tempDir(t, user, 'varsymfs-firsthour-'), 'state') });
    oneError(r, /not accessible.*chmod/);
    assert.doesNotMatch(r.stderr, /EACCES|chdir/);
  });
});
