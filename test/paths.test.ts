// src/paths.ts: where per-user files go, given an environment.
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { test } from 'node:test';
import fc from 'fast-check';
import { logFile, mountFileName, runtimeDir, socketPath, stateDir } from '../src/paths';

test('stateDir: an absolute XDG_STATE_HOME, else $HOME/.local/state, else the password database home', () => {
  assert.equal(stateDir({ XDG_STATE_HOME: '/x/state', HOME: '/h' }), '/x/state/varsymfs');
  assert.equal(stateDir({ XDG_STATE_HOME: 'relative/state', HOME: '/h' }), '/h/.local/state/varsymfs');
  assert.equal(stateDir({ XDG_STATE_HOME: '', HOME: '/h' }), '/h/.local/state/varsymfs');
  assert.equal(stateDir({ HOME: '/h' }), '/h/.local/state/varsymfs');
  assert.equal(stateDir({ HOME: '' }), `${os.homedir()}/.local/state/varsymfs`);
  assert.equal(stateDir({}), `${os.homedir()}/.local/state/varsymfs`);
});

test('stateDir defaults to this process\'s environment', () => {
  const saved = process.env.XDG_STATE_HOME;
  process.env.XDG_STATE_HOME = '/from/process/env';
  try {
    assert.equal(stateDir(), '/from/process/env/varsymfs');
    assert.equal(logFile('/m'), '/from/process/env/varsymfs/m.log');
  } finally {
    if (saved === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = saved;
  }
});

test('mountFileName: the path without its leading slash, every other character outside [A-Za-z0-9._-] made _', () => {
  assert.equal(mountFileName('/srv/me/vs'), 'srv_me_vs');
  assert.equal(mountFileName('/a b/ü:c.d-e_F9'), 'a_b__:c.d-e_F9'.replace(':', '_'));
  assert.equal(mountFileName('//x'), '_x');
  assert.equal(mountFileName('/'), 'root');
  assert.equal(mountFileName(''), 'root');
  assert.equal(mountFileName('rel/x'), 'rel_x');
});

test('property: a mount file name is never empty and never holds a slash or a character outside the set', () => {
  fc.assert(fc.property(fc.string(), (p) => {
    assert.match(mountFileName(p), /^[A-Za-z0-9._-]+$/);
  }));
});

test('logFile: <stateDir>/<mountFileName>.log', () => {
  assert.equal(logFile('/srv/me/vs', { XDG_STATE_HOME: '/s' }), '/s/varsymfs/srv_me_vs.log');
  assert.equal(logFile('/', { HOME: '/h' }), '/h/.local/state/varsymfs/root.log');
});

test('runtimeDir: an absolute XDG_RUNTIME_DIR, else /tmp/varsymfs-<uid>', () => {
  assert.equal(runtimeDir({ XDG_RUNTIME_DIR: '/run/user/7' }, 7), '/run/user/7/varsymfs');
  assert.equal(runtimeDir({ XDG_RUNTIME_DIR: 'run' }, 7), `${os.tmpdir()}/varsymfs-7`);
  assert.equal(runtimeDir({ XDG_RUNTIME_DIR: '' }, 7), `${os.tmpdir()}/varsymfs-7`);
  assert.equal(runtimeDir({}, 0), `${os.tmpdir()}/varsymfs-0`);
  assert.equal(runtimeDir({}), `${os.tmpdir()}/varsymfs-${process.getuid!()}`);
});

test('runtimeDir and socketPath default to this process\'s environment', () => {
  const saved = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = '/from/process/env';
  try {
    assert.equal(runtimeDir(), '/from/process/env/varsymfs');
    assert.equal(socketPath('/m').startsWith('/from/process/env/varsymfs/'), true);
  } finally {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved;
  }
});

test('socketPath: a 20-hex-digit hash of the mount point in the runtime directory, short enough for any mount point', () => {
  const env = { XDG_RUNTIME_DIR: '/run/user/1000' };
  const a = socketPath('/srv/me/vs', env);
  assert.match(a, /^\/run\/user\/1000\/varsymfs\/[0-9a-f]{20}\.sock$/);
  assert.equal(socketPath('/srv/me/vs', env), a, 'the same mount point, the same socket');
  assert.notEqual(socketPath('/srv/me/vs2', env), a);
  assert.equal(socketPath('/srv/me/vs', {}, 5), `${os.tmpdir()}/varsymfs-5/${a.split('/').pop()}`);
  const long = socketPath('/' + 'x'.repeat(4000), { XDG_RUNTIME_DIR: '/run/user/1000' });
  assert.ok(Buffer.byteLength(long) <= 107, long);
});

test('property: different mount points get different sockets', () => {
  fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
    fc.pre(a !== b);
    assert.notEqual(socketPath(a, {}, 1), socketPath(b, {}, 1));
  }));
});
