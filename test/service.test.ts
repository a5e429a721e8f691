// `varsymfs service install|remove` (src/service.ts): the unit file it writes, that its ExecStart really
// mounts, and that it never runs systemctl.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { chownTree, forceCleanup, isMounted, tempDir, waitFor } from './helpers/mount';
import { asUser, describeEachUser, run, type TestUser } from './helpers/users';
import { mountFileName } from '../src/paths';

const T = { timeout: 300000 };

/** systemd's unquoting of an ExecStart line (the subset unitText writes: "…" words with \\ \" and %%). */
function execWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    words.push((m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!).replace(/%%/g, '%'));
  }
  return words;
}

/** A home with `vs` in it, and a PATH whose systemctl and loginctl only leave a mark that they ran. */
function setup(t: import('node:test').TestContext, user: TestUser, mountName: string) {
  const home = tempDir(t, user, 'varsymfs-home-');
  const fake = path.join(home, 'fakebin');
  fs.mkdirSync(fake);
  for (const name of ['systemctl', 'loginctl']) fs.writeFileSync(path.join(fake, name), `#!/bin/sh\necho "$0 $*" >> "${home}/ran"\n`, { mode: 0o755 });
  fs.mkdirSync(path.join(home, mountName));
  chownTree(home, user);
  const env = { HOME: home, PATH: `${fake}:/usr/local/bin:/usr/bin:/bin`, XDG_CONFIG_HOME: '' };
  return { home, env, mountPoint: path.join(home, mountName) };
}

describeEachUser((user) => {
  test('service install writes a user unit whose ExecStart mounts; remove deletes it; systemctl never runs', T, async (t) => {
    const { home, env, mountPoint } = setup(t, user, 'my vs%1');
    const install = await run(user, user.bin, ['service', 'install', mountPoint, '--', '--default', 'GO_VERSION=go1.21.0'], env, { cwd: home });
    const name = `varsymfs-${mountFileName(mountPoint)}.service`;
    const unit = path.join(home, '.config', 'systemd', 'user', name);
    assert.equal(install.code, 0, install.stderr);
    assert.equal(install.stdout, `wrote ${unit}\nto start it now and at every login:\n  systemctl --user daemon-reload\n  systemctl --user enable --now ${name}\n(on a server without a login session, also: loginctl enable-linger $USER)\n`);
    const text = fs.readFileSync(unit, 'utf8');
    assert.match(text, new RegExp(`^Description=varsymfs variant symlinks at ${mountPoint}$`, 'm'));
    assert.match(text, /^\[Service\]\nType=simple\nEnvironment=UV_THREADPOOL_SIZE=64\nExecStart=.*\nRestart=on-failure\nRestartSec=2\n\n\[Install\]\nWantedBy=default.target\n$/m);
    const exec = execWords(/^ExecStart=(.*)$/m.exec(text)![1]!);
    assert.deepEqual(exec.slice(2), ['mount', '--foreground', mountPoint, '--default', 'GO_VERSION=go1.21.0']);
    assert.ok(path.isAbsolute(exec[0]!) && fs.existsSync(exec[0]!), `ExecStart runs node by absolute path: ${exec[0]}`);
    assert.equal(path.basename(exec[1]!), 'varsymfs');

    // Do what systemd would: run ExecStart as the user, then stop it with SIGTERM.
    fs.writeFileSync(path.join(mountPoint, 'f'), 'mounted by the unit');
    fs.symlinkSync('$<GO_VERSION>', path.join(mountPoint, 'go'));
    chownTree(mountPoint, user);
    const [file, argv] = asUser(user, exec[0]!, exec.slice(1));
    const daemon = spawn(file, argv, { env: { ...env, UV_THREADPOOL_SIZE: '64' }, stdio: 'ignore' });
    t.after(() => forceCleanup(user, mountPoint, daemon.pid));
    assert.ok(await waitFor(() => isMounted(mountPoint)), 'the unit\'s command mounts');
    assert.equal((await run(user, 'readlink', [path.join(mountPoint, 'go')])).stdout, 'go1.21.0\n', 'with the options given after --');
    const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
    daemon.kill('SIGTERM');
    assert.equal(await exited, 0, 'SIGTERM (systemctl stop) unmounts and exits 0');
    assert.equal(isMounted(mountPoint), false);

    const remove = await run(user, user.bin, ['service', 'remove', mountPoint], env, { cwd: home });
    assert.equal(remove.code, 0, remove.stderr);
    assert.equal(remove.stdout, `removed ${unit}\nstop it with:\n  systemctl --user disable --now ${name}\n  systemctl --user daemon-reload\n`);
    assert.equal(fs.existsSync(unit), false);
    const again = await run(user, user.bin, ['service', 'remove', mountPoint], env, { cwd: home });
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `Error: no unit for ${mountPoint} (${unit} does not exist)\n`);
    assert.equal(fs.existsSync(path.join(home, 'ran')), false, `systemctl or loginctl ran: ${fs.existsSync(path.join(home, 'ran')) ? fs.readFileSync(path.join(home, 'ran'), 'utf8') : ''}`);
  });

  test('service install: $XDG_CONFIG_HOME is honoured; an unwritable one is one line', T, async (t) => {
    const { home, env, mountPoint } = setup(t, user, 'vs');
    const config = path.join(home, 'cfg');
    const ok = await run(user, user.bin, ['service', 'install', mountPoint], { ...env, XDG_CONFIG_HOME: config });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(fs.existsSync(path.join(config, 'systemd', 'user', `varsymfs-${mountFileName(mountPoint)}.service`)));
    const notDir = path.join(home, 'a-file');
    fs.writeFileSync(notDir, '');
    const bad = await run(user, user.bin, ['service', 'install', mountPoint], { ...env, XDG_CONFIG_HOME: notDir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`^Error: cannot write ${notDir}/systemd/user/varsymfs-\\S+\\.service: ENOTDIR: not a directory, mkdir '${notDir}/systemd/user'\n$`));
    assert.equal(fs.existsSync(path.join(home, 'ran')), false, 'systemctl never runs');
  });
});
