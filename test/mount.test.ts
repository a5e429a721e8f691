// The core daemon through real mounts, as root and as an unprivileged user: the README session, mount
// in place, errors, stale mounts, external unmount, signals, --source, and every mount option reaching
// the background daemon.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Option } from 'commander';
import { buildProgram } from '../src/cli';
import { alive, chownTree, forceCleanup, isMounted, mount, tempDir, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser, rootUser, run, type TestUser } from './helpers/users';

const T = { timeout: 300000 };

/** A fake toolchain: <dir>/<version>/bin/go, a script printing its version. */
function makeGo(dir: string, version: string): void {
  fs.mkdirSync(path.join(dir, version, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, version, 'bin', 'go'), `#!/bin/sh\necho "go version ${version}"\n`, { mode: 0o755 });
}

/**
 * Every option `varsymfs mount --help` lists (from commander's own list, so an option added later is here
 * too), each with a value other than its default, as command-line words. Fails on an option it cannot
 * give a value: add one here.
 */
function everyMountOption(t: TestContext, user: TestUser): Array<{ option: Option; words: string[] }> {
  const mount = buildProgram().commands.find((c) => c.name() === 'mount')!;
  return mount.options.filter((o) => !o.hidden && o.long !== '--foreground').map((o) => {
    const flag = o.long!;
    if (o.negate || (!o.required && !o.optional)) return { option: o, words: [flag] };
    const choices = o.argChoices?.filter((c) => c !== o.defaultValue);
    if (choices !== undefined && choices.length > 0) return { option: o, words: [flag, choices[0]!] };
    if (typeof o.defaultValue === 'number') return { option: o, words: [flag, String(o.defaultValue + 3)] };
    const sample = { '<dir>': () => tempDir(t, user), '<NAME=VALUE>': () => 'XXX=from-the-option', '<FILE=VARIABLE>': () => '.bun-version=BUN_VERSION', '<seconds>': () => '7' }[/<[^>]+>/.exec(o.flags)?.[0] ?? ''];
    if (sample === undefined) throw new Error(`no sample value for ${o.flags}: give one in everyMountOption`);
    return { option: o, words: [flag, sample()] };
  });
}

/** The configuration `varsymfs status --json` reports for the mount at `dir`. */
async function statusConfig(user: TestUser, dir: string, env: NodeJS.ProcessEnv): Promise<unknown> {
  const r = await run(user, user.bin, ['status', '--json', dir], env);
  assert.equal(r.code, 0, r.stderr);
  const [s] = JSON.parse(r.stdout) as Array<{ config?: unknown }>;
  assert.ok(s?.config !== undefined, `status --json of ${dir} has the daemon's config: ${r.stdout}`);
  return s.config;
}

describeEachUser((user) => {
  test('every mount option reaches the background daemon: status --json shows the configuration a foreground daemon has', { timeout: 600000 }, async (t) => {
    const options = everyMountOption(t, user);
    assert.ok(options.some((o) => o.option.long === '--trust-dir') && options.some((o) => o.option.negate), 'the options are read from the mount command');
    // --no-project-files hides --project-file's rules, so each option is also given without the negations.
    const all = options.flatMap((o) => o.words);
    const rounds = [options.filter((o) => !o.option.negate).flatMap((o) => o.words), all];
    for (const args of rounds) {
      const m = await mount(t, user, { args });
      const background = await statusConfig(user, m.dir, m.env);
      const down = await m.cli(['unmount', m.dir]);
      assert.equal(down.code, 0, down.stderr);
      assert.ok(await waitFor(() => !alive(m.pid)), 'the background daemon exited');
      // The same options in the foreground; it says on --ready-fd when it serves.
      const [file, argv] = asUser(user, user.bin, ['mount', '-f', m.dir, ...args, '--ready-fd', '3']);
      const child = spawn(file, argv, { env: { ...baseEnv(user), ...m.env }, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
      t.after(() => forceCleanup(user, m.dir, child.pid));
      let said = '';
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (said += d.toString()));
      assert.ok(await waitFor(() => /^(ok|error .*)$/m.test(said) || child.exitCode !== null), `the foreground daemon started: ${stderr}`);
      assert.match(said, /^ok$/m, stderr);
      const foreground = await statusConfig(user, m.dir, m.env);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.deepEqual(background, foreground, `varsymfs mount ${args.join(' ')}`);
    }
  });

  test('the README session: per-process targets, programs through a link, literal links after unmount', T, async (t) => {
    const m = await mount(t, user, { setup: (d) => (makeGo(d, 'go1.0.3'), makeGo(d, 'go1.2.1')) });
    const setup = await m.run('sh', ['-c', 'cd "$D" && echo "contents of bar" > bar && echo "contents of baz" > baz && ln -s \'$<XXX>\' foo && ln -s \'$<GO_VERSION>\' go'], { D: m.dir });
    assert.equal(setup.code, 0, setup.stderr);
    assert.equal((await m.run('cat', [`${m.dir}/foo`], { XXX: 'bar' })).stdout, 'contents of bar\n');
    assert.equal((await m.run('cat', [`${m.dir}/foo`], { XXX: 'baz' })).stdout, 'contents of baz\n');
    const go = await m.run('env', ['GO_VERSION=go1.2.1', 'sh', '-c', `exec ${m.dir}/go/bin/go version`], { GO_VERSION: 'go1.0.3' });
    assert.equal(go.stdout, 'go version go1.2.1\n', go.stderr);
    const go103 = await m.run(`${m.dir}/go/bin/go`, ['version'], { GO_VERSION: 'go1.0.3' });
    assert.equal(go103.stdout, 'go version go1.0.3\n');
    const unset = await m.run('cat', [`${m.dir}/foo`]);
    assert.notEqual(unset.code, 0);
    assert.match(unset.stderr, /No such file or directory/);
    assert.equal((await m.run('readlink', [`${m.dir}/foo`], { XXX: 'bar' })).stdout, 'bar\n');
    assert.equal((await m.run('readlink', [`${m.dir}/foo`])).stdout, '$<XXX>\n');

    const un = await m.cli(['unmount', m.dir]);
    assert.equal(un.code, 0, un.stderr);
    assert.equal(isMounted(m.dir), false);
    assert.equal(fs.readFileSync(path.join(m.dir, 'bar'), 'utf8'), 'contents of bar\n');
    assert.equal(fs.readlinkSync(path.join(m.dir, 'foo')), '$<XXX>');
    assert.equal(fs.readlinkSync(path.join(m.dir, 'go')), '$<GO_VERSION>');
    assert.ok(await waitFor(() => !alive(m.pid)), 'the daemon exits after unmount');
  });

  test('lstat of a variant link and readlink agree for each process; both reference forms and fallbacks', T, async (t) => {
    const m = await mount(t, user, { setup: (d) => fs.symlinkSync('/opt/${V:-fallback}/$<W>', path.join(d, 'l')) });
    for (const [env, expected] of [[{ V: 'a', W: 'b' }, '/opt/a/b'], [{ W: 'longer-value' }, '/opt/fallback/longer-value'], [{}, '/opt/fallback/$<W>']] as const) {
      const r = await m.run('sh', ['-c', 'stat -c %s "$0"; readlink "$0"', `${m.dir}/l`], env);
      assert.equal(r.stdout, `${Buffer.byteLength(expected)}\n${expected}\n`, JSON.stringify(env));
    }
    const long = await m.run('readlink', ['-v', `${m.dir}/l`], { V: 'x'.repeat(4000), W: 'y'.repeat(200) });
    assert.notEqual(long.code, 0);
    assert.match(long.stderr, /File name too long/);
  });

  test('lstat of a variant link has no blocks, even where its backing link has some', T, async (t) => {
    // A target past ext4's inline 60 bytes gets a block of its own in the backing store.
    const target = `/opt/${'p'.repeat(80)}/` + '${V:-fallback}';
    let blocks = -1;
    const m = await mount(t, user, {
      setup: (d) => {
        fs.symlinkSync(target, path.join(d, 'l'));
        blocks = fs.lstatSync(path.join(d, 'l')).blocks;
      },
    });
    if (blocks === 0) return t.skip('the backing store gives long symlinks no blocks: nothing to tell apart');
    for (const env of [{ V: 'a' }, {}]) {
      // Twice: the first answer comes from JS, the second from the memo; both are shaped by the same reply.
      for (const round of [1, 2]) {
        const r = await m.run('stat', ['-c', '%b %s', `${m.dir}/l`], env);
        const expected = Buffer.byteLength(target.replace('${V:-fallback}', 'V' in env ? 'a' : 'fallback'));
        assert.equal(r.stdout, `0 ${expected}\n`, `${JSON.stringify(env)}, round ${round}: ${r.stderr}`);
      }
    }
  });

  test('runs programs from the mount: a copied ELF binary, a script, through variant links inside and outside', T, async (t) => {
    const m = await mount(t, user, {
      setup: (d) => {
        fs.writeFileSync(path.join(d, 'hello.sh'), '#!/bin/sh\necho "hello $WHO"\n', { mode: 0o755 });
        fs.symlinkSync('$<TOOLS>', path.join(d, 'cur'));
        fs.symlinkSync('$<SYS:-/usr/bin>', path.join(d, 'sys'));
      },
    });
    // The ELF binary is copied in through the mount.
    const cp = await m.run('sh', ['-c', 'mkdir -p "$D/tools/bin" && cp /usr/bin/env "$D/tools/bin/env"'], { D: m.dir });
    assert.equal(cp.code, 0, cp.stderr);
    const elf = await m.run(path.join(m.dir, 'tools', 'bin', 'env'), [], { MARK: 'elf' });
    assert.match(elf.stdout, /^MARK=elf$/m, elf.stderr);
    assert.equal((await m.run(path.join(m.dir, 'hello.sh'), [], { WHO: 'script' })).stdout, 'hello script\n');
    const viaLink = await m.run(path.join(m.dir, 'cur', 'bin', 'env'), [], { TOOLS: 'tools', MARK: 'linked' });
    assert.match(viaLink.stdout, /^MARK=linked$/m, viaLink.stderr);
    const outside = await m.run(path.join(m.dir, 'sys', 'env'), [], { MARK: 'outside' });
    assert.match(outside.stdout, /^MARK=outside$/m, outside.stderr);
    const mmap = await m.run('python3', ['-c', 'import mmap,sys; f=open(sys.argv[1],"rb"); print(mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ)[:4])', path.join(m.dir, 'tools', 'bin', 'env')]);
    assert.equal(mmap.stdout, "b'\\x7fELF'\n", mmap.stderr);
  });

  test('passthrough agrees with a plain directory on every case of the operations table', { timeout: 120000 }, async (t) => {
    const m = await mount(t, user);
    const plain = tempDir(t, user);
    const script = path.join(path.dirname(user.bin), '..', 'dist', 'test', 'helpers', 'posixops.js');
    const onPlain = await m.run(process.execPath, [script, plain]);
    const onMount = await m.run(process.execPath, [script, m.dir]);
    assert.equal(onPlain.code, 0, onPlain.stderr);
    assert.equal(onMount.code, 0, onMount.stderr);
    const a = JSON.parse(onPlain.stdout) as Record<string, unknown>;
    const b = JSON.parse(onMount.stdout) as Record<string, unknown>;
    for (const name of Object.keys(a)) assert.deepEqual(b[name], a[name], name);
  });

  test('timestamps keep their nanoseconds, on the mount as on a plain directory', T, async (t) => {
    const m = await mount(t, user);
    const plain = tempDir(t, user);
    const script = `
import os, sys
p = sys.argv[1] + "/f"
open(p, "w").close()
os.utime(p, ns=(1700000000123456789, 1600000000987654321))
st = os.stat(p)
print(st.st_atime_ns, st.st_mtime_ns)
os.utime(p, ns=(1500000000000000001, 1400000000000000002), follow_symlinks=False)
print(os.lstat(p).st_mtime_ns)
`;
    const onMount = await m.run('python3', ['-c', script, m.dir]);
    const onPlain = await m.run('python3', ['-c', script, plain]);
    assert.equal(onPlain.stdout, '1700000000123456789 1600000000987654321\n1400000000000000002\n');
    assert.equal(onMount.stdout, onPlain.stdout, onMount.stderr);
  });

  test('FIFOs, devices and extended attributes pass through', T, async (t) => {
    const m = await mount(t, user);
    const r = await m.run('python3', ['-c', `
import os, sys, stat
d = sys.argv[1]
os.mkfifo(d + '/fifo', 0o640)
print(stat.S_ISFIFO(os.lstat(d + '/fifo').st_mode), oct(os.lstat(d + '/fifo').st_mode & 0o777))
open(d + '/x', 'w').close()
os.setxattr(d + '/x', 'user.color', b'blue')
print(os.getxattr(d + '/x', 'user.color'), 'user.color' in os.listxattr(d + '/x'))
os.removexattr(d + '/x', 'user.color')
try:
  os.getxattr(d + '/x', 'user.color')
except OSError as e:
  print('errno', e.errno)
`, m.dir]);
    assert.equal(r.stdout, "True 0o640\nb'blue' True\nerrno 61\n", r.stderr);
    assert.equal((await m.cli(['unmount', m.dir])).code, 0);
    assert.ok(fs.lstatSync(path.join(m.dir, 'fifo')).isFIFO(), 'the FIFO is in the backing directory');
  });

  test('clear one-line errors, exit 1 for a failure and 2 for a bad command line', T, async (t) => {
    const dir = tempDir(t, user);
    const file = path.join(dir, 'file');
    fs.writeFileSync(file, '');
    const outside = tempDir(t, user);
    // [arguments, exit code, the Error line]: 1 when the command failed, 2 when the command line is bad.
    const cases: Array<[string[], 1 | 2, RegExp]> = [
      [['mount', path.join(dir, 'missing')], 1, /^Error: mount point \S+\/missing does not exist$/],
      [['mount', file], 1, /^Error: mount point \S+\/file is not a directory$/],
      [['mount', dir, '--source', path.join(outside, 'missing')], 1, /^Error: source \S+\/missing does not exist$/],
      [['mount', dir, '--source', file], 1, /^Error: --source \S+ is inside the mount point \S+; choose a directory outside it$/],
      [['mount', dir, '--source', path.join(dir, 'x', '..', 'missing-source')], 1, /^Error: --source \S+ is inside the mount point/],
      [['unmount', dir], 1, /^Error: \S+ is not mounted$/],
      [['completion', 'tcsh'], 2, /^Error: no completion for 'tcsh': bash, zsh and fish are supported$/],
      [['mount', dir, '--default', '1BAD=x'], 2, /^Error: invalid default '1BAD=x': expected NAME=VALUE/],
      [['mount', dir, '--attr-timeout', 'soon'], 2, /^Error: option '--attr-timeout <seconds>' argument 'soon' is invalid\. expected a number of seconds >= 0$/],
      [['mount', dir, '--entry-timeout', '-1'], 2, /^Error: option '--entry-timeout <seconds>' argument '-1' is invalid/],
      [['mount', dir, '--cache-size', '0'], 2, /^Error: option '--cache-size <n>' argument '0' is invalid\. expected a whole number >= 1$/],
      [['mount', dir, '--log-level', 'loud'], 2, /^Error: option '--log-level <level>' argument 'loud' is invalid/],
      [['mount', dir, '--bogus'], 2, /^Error: unknown option '--bogus'$/],
      [['mount'], 2, /^Error: missing required argument 'dir'$/],
      [['resolve', dir, '--pid', 'abc'], 2, /^Error: option '-p, --pid <pid>' argument 'abc' is invalid/],
      [['frobnicate'], 2, /^Error: unknown command 'frobnicate'$/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await run(user, user.bin, args, { XDG_STATE_HOME: path.join(dir, 'state') });
      const what = `varsymfs ${args.join(' ')}: ${r.stderr}`;
      assert.equal(r.code, code, what);
      assert.equal(r.stdout, '', what);
      // One Error line, first; a bad command line may add the hint to --help, nothing else. No stack trace.
      const lines = r.stderr.split('\n');
      assert.equal(lines.pop(), '', `ends with a newline: ${what}`);
      assert.match(lines[0]!, pattern, what);
      assert.deepEqual(lines.slice(1).filter((l) => code === 1 || l !== '(run with --help for usage)'), [], what);
    }
    const m = await mount(t, user);
    const again = await m.cli(['mount', m.dir]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `Error: ${m.dir} is already mounted (fuse.varsymfs); unmount it first: varsymfs unmount ${m.dir}\n`);
  });

  // Root is never denied /dev/fuse; only the suite running as root can take it away from the user.
  const devFuseSkip = user.uid === 0 ? 'root is never denied /dev/fuse' : process.geteuid?.() !== 0 ? 'needs root to take /dev/fuse away from the user' : false;
  test('/dev/fuse not accessible: one line that says what to do', { ...T, skip: devFuseSkip }, async (t) => {
    const dir = tempDir(t, user);
    const nodes = tempDir(t, rootUser()!);
    // Only this command's mount namespace sees a /dev/fuse of mode 0600 (as on these machines before the
    // suite's setup): a copy of the device node on a private tmpfs, bound over it. Nobody else on the
    // machine loses the device meanwhile.
    const rdev = fs.statSync('/dev/fuse').rdev;
    const hide = `mount -t tmpfs -o mode=0755 none "$0" && mknod -m 600 "$0/fuse" c ${Math.floor(rdev / 256) & 0xfff} ${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)} && mount --bind "$0/fuse" /dev/fuse && exec "$@"`;
    const [file, argv] = asUser(user, user.bin, ['mount', dir]);
    const r = await run(rootUser()!, 'unshare', ['--mount', '--propagation', 'private', 'sh', '-c', hide, nodes, file, ...argv], { XDG_STATE_HOME: path.join(dir, '.state') });
    assert.equal(r.stderr, 'Error: /dev/fuse is not accessible to this user: make it mode 0666 (`chmod 666 /dev/fuse`, as most distributions ship it)\n');
    assert.equal(r.code, 1);
    assert.equal(fs.statSync('/dev/fuse').mode & 0o777, 0o666, 'outside, /dev/fuse is untouched');
  });

  test('recovers a stale mount left by a killed daemon; clients get errors, not hangs', T, async (t) => {
    const m = await mount(t, user, { setup: (d) => fs.writeFileSync(path.join(d, 'kept'), 'kept') });
    process.kill(m.pid, 'SIGKILL');
    await waitFor(() => !alive(m.pid));
    const dead = await m.run('cat', [path.join(m.dir, 'kept')], {}, { timeoutMs: 120000 });
    assert.notEqual(dead.code, 0);
    assert.match(dead.stderr, /Transport endpoint is not connected/);
    const m2 = await mount(t, user, { dir: m.dir });
    assert.equal((await m2.run('cat', [path.join(m.dir, 'kept')])).stdout, 'kept');
  });

  test('the daemon exits when its mount is removed from outside', T, async (t) => {
    const m = await mount(t, user);
    const r = await m.run('fusermount3', ['-u', m.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await waitFor(() => !alive(m.pid)), 'daemon still running after fusermount -u');
  });

  test('--foreground: SIGTERM, SIGINT and SIGHUP each unmount cleanly and exit 0; --source serves another directory', T, async (t) => {
    const dir = tempDir(t, user);
    const store = tempDir(t, user);
    fs.writeFileSync(path.join(store, 'in-store'), 'from the store');
    if (user.uid !== 0) chownTree(store, user);
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const [file, argv] = asUser(user, user.bin, ['mount', '-f', dir, '--source', store]);
      const child = spawn(file, argv, { env: { ...baseEnv(user), XDG_STATE_HOME: path.join(store, '.state') }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      t.after(() => forceCleanup(user, dir, child.pid));
      assert.ok(await waitFor(() => isMounted(dir)), `mounted (${signal})`);
      assert.equal((await run(user, 'cat', [path.join(dir, 'in-store')])).stdout, 'from the store');
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill(signal);
      assert.equal(await exited, 0, `${signal}: exit 0`);
      assert.equal(isMounted(dir), false, `${signal}: unmounted`);
      assert.match(stderr, new RegExp(` info ${signal}: unmounting ${dir}\n`), 'logged to stderr');
    }
  });
});
