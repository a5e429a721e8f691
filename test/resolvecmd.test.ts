// `varsymfs resolve` (src/resolvecmd.ts) through real mounts and real processes: the plain answer,
// --explain with its scopes, --json and the errors; a caller blocked inside execve (pending exec); and the
// cases the caller's environment cannot be read, which count as empty.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { loadFuse } from '../src/native';
import { forceCleanup, mount, tempDir, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser, plainUser, rootUser, run } from './helpers/users';

const T = { timeout: 300000 };

function populate(d: string): void {
  fs.writeFileSync(path.join(d, 'bar'), 'bar');
  fs.writeFileSync(path.join(d, 'baz'), 'baz');
  fs.symlinkSync('$<XXX>', path.join(d, 'foo'));
}

/** A FUSE filesystem in this process whose lookup of /slow waits until released: a caller that execs
 * /slow sits inside execve until then. */
async function slowFs(t: import('node:test').TestContext): Promise<{ dir: string; release: () => void }> {
  const Fuse = loadFuse();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-slow-'));
  fs.chmodSync(dir, 0o755);
  const now = new Date();
  const waiting: Array<() => void> = [];
  let released = false;
  const fuse = new Fuse(dir, {
    getattr(p: string, cb: (e: number, st?: object) => void) {
      if (p === '/') return cb(0, { mode: 0o40755, atime: now, mtime: now, ctime: now, nlink: 2 });
      if (p === '/slow' && !released) return waiting.push(() => cb(-2));
      return cb(-2);
    },
  }, { timeout: false, options: process.geteuid?.() === 0 ? ['allow_other'] : [] });
  await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
  const release = () => {
    released = true;
    for (const w of waiting.splice(0)) w();
  };
  t.after(async () => {
    release();
    await new Promise((r) => fuse.unmount(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, release };
}

describeEachUser((user) => {
  test('resolve: plain answer, --explain with scopes, --json, and errors', T, async (t) => {
    const m = await mount(t, user, { args: ['--default', 'D=from-default'], setup: (d) => (populate(d), fs.symlinkSync('$<XXX>/$<D>/$<F:-fb>/$<NONE>', path.join(d, 'multi')), fs.symlinkSync('plain', path.join(d, 'plain'))) });
    assert.equal((await m.cli(['resolve', path.join(m.dir, 'foo')], { XXX: 'bar' })).stdout, 'bar\n');
    const ex = await m.cli(['resolve', '--explain', path.join(m.dir, 'multi')], { XXX: 'x' });
    // Explained, and then one line: what it resolves to does not exist.
    assert.equal(ex.code, 1, ex.stderr);
    assert.match(ex.stderr, /^Error: .*multi -> x\/from-default\/fb\/\$<NONE> .*not installed .*\n$/);
    assert.match(ex.stdout, /resolves to {2}x\/from-default\/fb\/\$<NONE>/);
    assert.match(ex.stdout, /\$<XXX> +environment +"x"/);
    assert.match(ex.stdout, /\$<D> +mount default +"from-default"/);
    assert.match(ex.stdout, /\$<F> +inline fallback +"fb"/);
    assert.match(ex.stdout, /\$<NONE> +unresolved/);
    const js = JSON.parse((await m.cli(['resolve', '--json', path.join(m.dir, 'plain')])).stdout) as { variant: boolean; target: string };
    assert.deepEqual([js.variant, js.target], [false, 'plain']);
    const notLink = await m.cli(['resolve', path.join(m.dir, 'bar')]);
    assert.equal(notLink.code, 1);
    assert.match(notLink.stderr, /^Error: .*is not a symlink\n$/);
    const missing = await m.cli(['resolve', path.join(m.dir, 'missing')]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `Error: ${path.join(m.dir, 'missing')} does not exist\n`);
    const outside = await m.cli(['resolve', '/etc/hostname']);
    assert.match(outside.stderr, /not inside a varsymfs mount/);
  });

  test('resolve --explain: a caller inside execve resolves with the environment it is passing', T, async (t) => {
    const m = await mount(t, user, { setup: populate });
    const slow = await slowFs(t);
    const [file, argv] = asUser(user, 'sh', ['-c', 'XXX=baz exec "$0/slow"', slow.dir]);
    const child = spawn(file, argv, { env: { ...baseEnv(user), XXX: 'bar' }, stdio: 'ignore' });
    t.after(() => child.kill('SIGKILL'));
    // The pid of the sh that is now blocked in execve (setpriv/env exec in place: same pid).
    assert.ok(await waitFor(() => /^59 |^221 /.test(fs.readFileSync(`/proc/${child.pid}/syscall`, 'utf8'))), 'caller is inside execve');
    const r = await m.cli(['resolve', '--explain', '--pid', String(child.pid), path.join(m.dir, 'foo')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /resolves to {2}baz/);
    assert.match(r.stdout, /environment {2}pending exec/);
    assert.match(r.stdout, /\$<XXX> +pending exec +"baz"/);
    t.diagnostic(`\n${r.stdout}`);
    slow.release();
  });
});

const root = rootUser();
const plain = plainUser();

describe('environments that cannot be read count as empty', () => {
  test('another user\'s process (with --allow-other): mount defaults and fallbacks apply', { ...T, skip: !root || !plain ? 'needs root and the unprivileged test user' : false }, async (t) => {
    const m = await mount(t, plain!, { args: ['--allow-other', '--default', 'XXX=baz'], setup: populate });
    assert.equal((await m.run('cat', [path.join(m.dir, 'foo')], { XXX: 'bar' })).stdout, 'bar', 'the owner\'s own environment');
    const r = await run(root!, 'cat', [path.join(m.dir, 'foo')], { XXX: 'bar' });
    assert.equal(r.stdout, 'baz', `root's environment is unreadable to the user's daemon: ${r.stderr}`);
  });

  test('a setuid program (non-dumpable, its /proc files root\'s): mount defaults apply; resolve --explain says so', { ...T, skip: !root || !plain ? 'needs root and the unprivileged test user' : false }, async (t) => {
    const m = await mount(t, plain!, { args: ['--allow-other', '--default', 'XXX=baz'], setup: populate });
    // A setuid-root copy of cat, outside the mount (the mount is nosuid).
    const bin = tempDir(t, root!, 'varsymfs-suid-');
    fs.copyFileSync('/usr/bin/cat', path.join(bin, 'suidcat'));
    fs.chmodSync(path.join(bin, 'suidcat'), 0o4755);
    const r = await run(plain!, path.join(bin, 'suidcat'), [path.join(m.dir, 'foo')], { XXX: 'bar' });
    assert.equal(r.stdout, 'baz', r.stderr);
    // The same case seen through resolve --explain: a process of another user (root) has an unreadable
    // environment for this user's daemon.
    const [file, argv] = asUser(root!, 'sleep', ['infinity']);
    const sleeper = spawn(file, argv, { env: { XXX: 'bar' }, stdio: 'ignore' });
    t.after(() => sleeper.kill('SIGKILL'));
    const ex = await m.cli(['resolve', '--explain', '--pid', String(sleeper.pid), path.join(m.dir, 'foo')]);
    assert.equal(ex.code, 0, ex.stderr);
    t.diagnostic(`\n${ex.stdout}`);
    assert.match(ex.stdout, /environment {2}unreadable/);
    assert.match(ex.stdout, /\$<XXX> +mount default +"baz"/);
  });

  test('pid 0 (a caller outside the daemon\'s pid namespace): mount defaults apply', { ...T, skip: !root ? 'needs root' : false }, async (t) => {
    const dir = tempDir(t, root!);
    populate(dir);
    fs.symlinkSync('$<XXX:-baz>', path.join(dir, 'fb'));
    fs.writeFileSync(path.join(dir, 'the-daemons-own'), 'the daemon\'s own environment');
    const state = tempDir(t, root!);
    // The daemon's own environment holds XXX too: were pid 0 taken for the daemon itself, the link would
    // resolve to its value instead of the fallback.
    const child = spawn('unshare', ['--pid', '--fork', root!.bin, 'mount', '-f', dir], { env: { ...process.env, XDG_STATE_HOME: state, XDG_RUNTIME_DIR: state, XXX: 'the-daemons-own' }, stdio: 'ignore' });
    t.after(() => forceCleanup(root!, dir, child.pid));
    assert.ok(await waitFor(() => fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `)), 'mounted');
    const r = await run(root!, 'cat', [path.join(dir, 'fb')], { XXX: 'bar' });
    assert.equal(r.stdout, 'baz', r.stderr);
  });

  test('a reused pid is resolved with the new process\'s environment, never the old one\'s', { ...T, skip: !root ? 'needs root (a pid namespace and ns_last_pid)' : false }, async (t) => {
    const dir = tempDir(t, root!);
    populate(dir);
    const state = tempDir(t, root!);
    const script = `
set -e
D="$1"
"$VARSYMFS" mount "$D" >/dev/null
XXX=bar sh -c 'echo $$ > "$1/../pid-a"; exec cat "$0/foo"' "$D" "$D" > "$STATE/out-a"
P=$(cat "$D/../pid-a")
for i in $(seq 100); do
  echo $((P - 1)) > /proc/sys/kernel/ns_last_pid
  XXX=baz sh -c 'if [ "$$" = "$1" ]; then exec cat "$0/foo"; else echo "other $$"; fi' "$D" "$P" > "$STATE/out-b" || true
  grep -q '^other' "$STATE/out-b" || break
done
"$VARSYMFS" unmount "$D"
echo "$P $(cat "$STATE/out-a") $(cat "$STATE/out-b")"
`;
    fs.mkdirSync(path.join(dir, '..', path.basename(dir) + '-x'), { recursive: true });
    t.after(() => fs.rmSync(path.join(dir, '..', path.basename(dir) + '-x'), { recursive: true, force: true }));
    const r = await run(root!, 'unshare', ['--pid', '--fork', '--mount-proc', 'bash', '-c', script, 'reuse', dir], { VARSYMFS: root!.bin, STATE: state, XDG_STATE_HOME: state });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+ bar baz\n$/, r.stdout + r.stderr);
  });
});
