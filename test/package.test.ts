// Installed as users install CLIs: `npm pack`, then `npm install -g <tarball>` into a temporary prefix,
// then the installed `varsymfs mount` serves a variant link and `varsymfs unmount` takes it down. Slow
// for a test: npm fetches the dependencies (from its cache when warm) and the postinstall patches and
// compiles the FUSE binding — about 10 s warm here, a minute or more on a clean machine, many on a busy
// one: the bounds (20 min for the install, 25 for the test) only stop a hang. --prefer-offline takes what
// npm's cache (~/.npm of the user running the suite) holds without asking the registry whether it is
// stale; what it lacks is still fetched.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isMounted, mount, tempDir } from './helpers/mount';
import { plainUser, rootUser, run } from './helpers/users';

const ROOT = path.resolve(__dirname, '..', '..');

test('npm pack, npm install -g into a prefix, and the installed varsymfs mounts', { timeout: 1500000 }, async (t) => {
  // As the user running the suite: the temporary prefix and tarball are private to it.
  const user = rootUser() ?? plainUser()!;
  const tmp = tempDir(t, user, 'varsymfs-pkg-');

  // --ignore-scripts: `prepare` would rebuild dist/ while other test files run from it. The test
  // itself runs from that dist/, so it is current.
  const pack = await run(user, 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], {}, { cwd: ROOT, timeoutMs: 600000 });
  assert.equal(pack.code, 0, pack.stderr);
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed!.files.map((f) => f.path);
  // Every source the two bindings and the helper compile from, as binding.gyp and install.js name them.
  const gyp = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'binding', 'binding.gyp'), 'utf8')) as { targets: Array<{ sources: string[] }> };
  const sources = gyp.targets[0]!.sources.map((s) => `src/binding/${s}`);
  for (const needed of ['bin/varsymfs', 'dist/src/cli.js', 'src/binding/install.js', 'src/binding/binding.gyp', ...sources, 'src/binding/varsymfs.h', 'src/binding/varsymfs-execenv.c', 'src/binding/fuse-native+2.2.6.patch']) {
    assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
  }
  const stray = files.filter((f) => f.startsWith('src/binding/build/') || f.startsWith('dist/test/') || f.endsWith('.map'));
  assert.deepEqual(stray, [], 'the tarball carries build output of this machine or test code');
  const tarball = path.join(tmp, packed!.filename);

  // The README's install command, under npm's strictest install-script policy (so it also holds where
  // a user enforces it): a tarball is allowed by its absolute path. npm 11 needs <prefix>/lib to exist
  // for that policy check in a global install.
  const prefix = path.join(tmp, 'prefix');
  fs.mkdirSync(path.join(prefix, 'lib'), { recursive: true });
  // --prefix also moves npm's global config (<prefix>/etc/npmrc): keep the machine's own, which may hold
  // what reaching the registry needs (a proxy's CA in `cafile`, as on the CI machines).
  const globalconfig = (await run(user, 'npm', ['config', 'get', 'globalconfig'], {}, { cwd: tmp, timeoutMs: 600000 })).stdout.trim();
  assert.ok(globalconfig.startsWith('/'), `npm config get globalconfig: ${globalconfig}`);
  const install = await run(user, 'npm', ['install', '-g', '--prefix', prefix, '--globalconfig', globalconfig, '--no-audit', '--no-fund', '--prefer-offline',
    '--strict-allow-scripts', `--allow-scripts=${tarball},fuse-native`, tarball], {}, { cwd: tmp, timeoutMs: 1200000 });
  assert.equal(install.code, 0, `${install.stdout}\n${install.stderr}`);
  const bin = path.join(prefix, 'bin', 'varsymfs');
  assert.ok(fs.existsSync(bin), `npm did not install ${bin}`);

  const m = await mount(t, { ...user, bin }, {
    setup: (dir) => {
      fs.writeFileSync(path.join(dir, 'bar'), 'contents of bar\n');
      fs.writeFileSync(path.join(dir, 'baz'), 'contents of baz\n');
      fs.symlinkSync('$<XXX>', path.join(dir, 'foo'));
    },
  });
  const foo = path.join(m.dir, 'foo');
  assert.equal((await m.run('cat', [foo], { XXX: 'bar' })).stdout, 'contents of bar\n');
  assert.equal((await m.run('cat', [foo], { XXX: 'baz' })).stdout, 'contents of baz\n');
  const unmount = await m.cli(['unmount', m.dir]);
  assert.equal(unmount.code, 0, unmount.stderr);
  assert.equal(isMounted(m.dir), false);
});
