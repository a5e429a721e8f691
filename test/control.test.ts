// The control socket through real mounts (src/control.ts): its modes, a stale socket replaced, removal at
// unmount, and each documented failure of the channel (another daemon, a foreign runtime directory, a
// daemon that is gone, silent, or talks nonsense).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { alive, chownTree, mount, tempDir, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser, plainUser, rootUser, run, type TestUser } from './helpers/users';
import { socketPath } from '../src/paths';

const T = { timeout: 300000 };

/** A unix-socket server run as `user` at `socket`: `answer` is what it writes back to each request
 * ('' = nothing, ever). Killed when the test ends. Resolves once the socket exists. */
async function fakeDaemon(t: import('node:test').TestContext, user: TestUser, socket: string, answer: string): Promise<void> {
  const script = `
import os, socket, sys
path, answer = sys.argv[1], sys.argv[2].encode()
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
held = []
while True:
    c, _ = s.accept()
    c.recv(65536)
    if answer:
        c.sendall(answer)
        c.close()
    else:
        held.append(c)
`;
  const [file, argv] = asUser(user, 'python3', ['-c', script, socket, answer]);
  const child = spawn(file, argv, { env: baseEnv(user), stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  assert.ok(await waitFor(() => fs.existsSync(socket)), `fake daemon listening on ${socket}`);
}

/** A stale socket, as a killed daemon leaves it: bound, then its process gone. */
async function staleSocket(user: TestUser, socket: string): Promise<void> {
  const r = await run(user, 'python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socket]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.lstatSync(socket).isSocket());
}

describeEachUser((user) => {
  test('the socket: directory 0700, socket 0600, a stale socket replaced, removed at unmount', T, async (t) => {
    const runtime = tempDir(t, user, 'varsymfs-run-');
    const dir = tempDir(t, user);
    const env = { XDG_RUNTIME_DIR: runtime };
    const socket = socketPath(dir, env);
    // A directory left too open, holding the socket of a daemon that was killed.
    fs.mkdirSync(path.dirname(socket), { mode: 0o755 });
    fs.chmodSync(path.dirname(socket), 0o755);
    chownTree(path.dirname(socket), user);
    await staleSocket(user, socket);
    const m = await mount(t, user, { dir, env, setup: (d) => fs.writeFileSync(path.join(d, 'f'), 'x') });
    const status = await m.cli(['status', '--json', m.dir]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as Array<{ pid: number }>)[0]!.pid, m.pid, 'the new daemon answers on the old socket path');
    assert.equal(fs.statSync(path.dirname(socket)).mode & 0o777, 0o700, 'the socket directory is private');
    const st = fs.lstatSync(socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600, 'the socket is the user\'s only');
    assert.equal(st.uid, user.uid);
    assert.equal((await m.cli(['unmount', m.dir])).code, 0);
    assert.ok(await waitFor(() => !alive(m.pid)));
    assert.equal(fs.existsSync(socket), false, 'the socket is removed at unmount');
  });

  test('another daemon answering on the socket: the mount still works, and the log says why status cannot reach it', T, async (t) => {
    const runtime = tempDir(t, user, 'varsymfs-run-');
    const dir = tempDir(t, user);
    const env = { XDG_RUNTIME_DIR: runtime };
    const socket = socketPath(dir, env);
    fs.mkdirSync(path.dirname(socket), { mode: 0o700 });
    chownTree(path.dirname(socket), user);
    await fakeDaemon(t, user, socket, '{"ok":true}\n');
    const m = await mount(t, user, { dir, env, setup: (d) => fs.symlinkSync('$<X>', path.join(d, 'l')) });
    assert.equal((await m.run('readlink', [path.join(m.dir, 'l')], { X: 'works' })).stdout, 'works\n');
    assert.match(fs.readFileSync(m.log, 'utf8'), new RegExp(` warn control socket ${socket} unavailable \\(status and defaults will not reach this daemon\\): another daemon answers on ${socket}\n`));
  });

  test('a daemon that is gone, silent, or talks nonsense: one line naming the socket', { timeout: 300000 }, async (t) => {
    const runtime = tempDir(t, user, 'varsymfs-run-');
    const env = { XDG_RUNTIME_DIR: runtime };
    const m = await mount(t, user, { env });
    const socket = socketPath(m.dir, env);
    const ask = async () => {
      const r = await m.cli(['defaults', m.dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      return r.stderr;
    };
    fs.rmSync(socket); // the daemon keeps serving the mount; nothing listens at the path any more
    assert.equal(await ask(), `Error: the daemon of ${m.dir} does not answer (no daemon answers on ${socket} (ENOENT)); see \`varsymfs status\`\n`);
    await fakeDaemon(t, user, socket, 'not json\n');
    assert.equal(await ask(), `Error: the daemon of ${m.dir} does not answer (the daemon sent a malformed reply on ${socket}); see \`varsymfs status\`\n`);
    fs.rmSync(socket);
    await fakeDaemon(t, user, socket, '');
    assert.equal(await ask(), `Error: the daemon of ${m.dir} does not answer (the daemon did not answer on ${socket} within 5 s); see \`varsymfs status\`\n`);
  });

  test('what a daemon replies is printed with its control characters escaped (\\xHH): resolve, defaults, an error, status', T, async (t) => {
    const runtime = tempDir(t, user, 'varsymfs-run-');
    const env = { XDG_RUNTIME_DIR: runtime };
    const m = await mount(t, user, { env, setup: (d) => fs.symlinkSync('$<X>', path.join(d, 'l')) });
    const socket = socketPath(m.dir, env);
    const answering = async (reply: object) => {
      fs.rmSync(socket, { force: true });
      await fakeDaemon(t, user, socket, JSON.stringify(reply) + '\n');
    };
    await answering({ ok: true, link: 'L\x1b[1m', raw: 'R\x07', target: 'a\x1b[31mb\x9bc\nd', pid: 1, variant: false });
    // The target does not exist, so resolve says so in one line (exit 1) quoting it.
    const resolved = await m.cli(['resolve', path.join(m.dir, 'l')]);
    assert.equal(resolved.code, 1);
    assert.match(resolved.stderr, /^Error: .*a\\x1b\[31mb\\x9bc\\x0ad.*\n$/);
    const explained = await m.cli(['resolve', path.join(m.dir, 'l'), '--explain']);
    assert.match(explained.stdout, /^link {9}L\\x1b\[1m -> R\\x07\nresolves to {2}a\\x1b\[31mb\\x9bc\\x0ad\n/);
    const json = await m.cli(['resolve', path.join(m.dir, 'l'), '--json']);
    assert.equal(JSON.parse(json.stdout).target, 'a\x1b[31mb\x9bc\nd', 'the JSON still says what the daemon said');
    await answering({ ok: true, defaults: { K: '\x1b[2J' } });
    assert.equal((await m.cli(['defaults', m.dir])).stdout, 'K=\\x1b[2J\n');
    assert.equal((await m.cli(['defaults', m.dir, '--json'])).stdout, '{\n  "K": "\\u001b[2J"\n}\n');
    await answering({ ok: false, error: 'bad\x1b]0;t\x07' });
    const failed = await m.cli(['defaults', m.dir]);
    assert.equal(failed.code, 1);
    assert.equal(failed.stderr, 'Error: bad\\x1b]0;t\\x07\n');
    const status = await m.cli(['status', m.dir]);
    assert.match(status.stdout, /\n {2}problem {6}bad\\x1b\]0;t\\x07\n/);
    assert.doesNotMatch(status.stdout + failed.stderr + explained.stdout + resolved.stdout + resolved.stderr + json.stdout + json.stderr, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  });
});

const root = rootUser();
const plain = plainUser();

test('a runtime directory owned by someone else: the mount works; the log says to remove it', { ...T, skip: !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false }, async (t) => {
  for (const [user, other] of [[plain!, root!], [root!, plain!]] as const) {
    const runtime = tempDir(t, other, 'varsymfs-run-');
    const foreign = path.join(runtime, 'varsymfs');
    fs.mkdirSync(foreign, { mode: 0o777 });
    fs.chmodSync(foreign, 0o777); // even a directory anyone may write to is refused: its owner could swap the socket
    fs.chownSync(foreign, other.uid, other.gid);
    fs.chmodSync(runtime, 0o777);
    const m = await mount(t, user, { env: { XDG_RUNTIME_DIR: runtime }, setup: (d) => fs.writeFileSync(path.join(d, 'f'), 'served') });
    assert.equal((await m.run('cat', [path.join(m.dir, 'f')])).stdout, 'served', `${user.name}: the mount works`);
    assert.match(fs.readFileSync(m.log, 'utf8'), new RegExp(` warn control socket \\S+ unavailable \\(status and defaults will not reach this daemon\\): ${foreign} is not a directory owned by this user; remove it and mount again\n`), user.name);
  }
});

test('root\'s CLI without XDG_RUNTIME_DIR: a socket directory another user made first in $TMPDIR is refused in one line, never asked', { ...T, skip: !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false }, async (t) => {
  // A shared /tmp: sticky and world-writable. The other user makes varsymfs-0 before root's daemon does,
  // and listens where root's CLI would look for its mount's socket.
  const tmp = tempDir(t, root!, 'varsymfs-tmp-');
  fs.chmodSync(tmp, 0o1777);
  const foreign = path.join(tmp, 'varsymfs-0');
  const made = await run(plain!, 'mkdir', ['-m', '0777', foreign]);
  assert.equal(made.code, 0, made.stderr);
  const m = await mount(t, root!, { env: { TMPDIR: tmp }, setup: (d) => fs.symlinkSync('$<X>', path.join(d, 'l')) });
  const socket = path.join(foreign, path.basename(socketPath(m.dir, { XDG_RUNTIME_DIR: '/' })));
  await fakeDaemon(t, plain!, socket, JSON.stringify({ ok: true, defaults: { X: '1' } }) + '\n');
  const expected = `Error: ${foreign} is not a directory of this user's with mode 0700 (it belongs to uid ${plain!.uid}, mode 0777); remove it, then mount again\n`;
  for (const args of [['defaults', m.dir, 'X=1'], ['status', m.dir], ['resolve', path.join(m.dir, 'l')]]) {
    const r = await m.cli(args);
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`);
    assert.equal(r.stdout, '', args[0]);
    assert.equal(r.stderr, expected, args[0]);
  }
  // The user's own directory, left open to others, is refused the same way.
  fs.chownSync(foreign, 0, 0);
  fs.chmodSync(foreign, 0o755);
  const open = await m.cli(['defaults', m.dir]);
  assert.equal(open.code, 1);
  assert.equal(open.stderr, `Error: ${foreign} is not a directory of this user's with mode 0700 (it belongs to uid 0, mode 0755); remove it, then mount again\n`);
});
