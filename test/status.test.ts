// `varsymfs status` (src/status.ts) through real mounts: the mount with its daemon and counters, the CPU of
// a busy daemon, --json, and a dead mount with how to recover.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { alive, mount, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser } from './helpers/users';

const T = { timeout: 300000 };

function populate(d: string): void {
  fs.writeFileSync(path.join(d, 'bar'), 'bar');
  fs.writeFileSync(path.join(d, 'baz'), 'baz');
  fs.symlinkSync('$<XXX>', path.join(d, 'foo'));
}

describeEachUser((user) => {
  test('status: the mount with its daemon and counters, --json, and a dead mount with how to recover', T, async (t) => {
    const m = await mount(t, user, { args: ['--default', 'XXX=bar'], setup: populate });
    for (let i = 0; i < 20; i++) await m.run('cat', [path.join(m.dir, 'foo')]);
    // A client resolving in a loop all through status's CPU sample (from its first answer until its stdin
    // closes): the daemon is busy, so its CPU % is not 0.
    const loop = 'import os,sys,threading\nstop=threading.Event()\nthreading.Thread(target=lambda:(sys.stdin.read(),stop.set()),daemon=True).start()\nos.readlink(sys.argv[1])\nprint("ready",flush=True)\nwhile not stop.is_set(): os.readlink(sys.argv[1])';
    const [file, argv] = asUser(user, 'python3', ['-c', loop, path.join(m.dir, 'foo')]);
    const busy = spawn(file, argv, { env: { ...baseEnv(user), XXX: 'baz' }, stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => busy.kill('SIGKILL'));
    let said = '';
    busy.stdout!.on('data', (d: Buffer) => (said += d.toString()));
    assert.ok(await waitFor(() => said.includes('ready\n') || busy.exitCode !== null, 300000), 'the busy client started resolving');
    const [during] = JSON.parse((await m.cli(['status', '--json', m.dir])).stdout) as Array<Record<string, any>>;
    assert.equal(busy.exitCode, null, 'the client was still resolving when status returned');
    busy.stdin!.end();
    assert.ok(during!.cpuPercent > 0, `cpuPercent of a busy daemon: ${during!.cpuPercent}`);
    busy.kill('SIGKILL');
    const human = await m.cli(['status', m.dir]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^${m.dir} {2}alive$`, 'm'));
    assert.match(human.stdout, /readlink \d+/);
    const [s] = JSON.parse((await m.cli(['status', '--json', m.dir])).stdout) as Array<Record<string, any>>;
    assert.equal(s!.alive, true);
    assert.equal(s!.pid, m.pid);
    assert.ok(s!.rssBytes > 0 && typeof s!.cpuPercent === 'number' && s!.uptimeSeconds >= 0);
    assert.ok(s!.requests.readlink >= 20 && s!.resolutions >= 20 && s!.cache.lookups >= 20);
    assert.deepEqual(s!.defaults, { XXX: 'bar' });
    process.kill(m.pid, 'SIGKILL');
    await waitFor(() => !alive(m.pid));
    const dead = await m.cli(['status']);
    assert.equal(dead.code, 1);
    assert.match(dead.stdout, new RegExp(`^${m.dir} {2}DEAD$`, 'm'));
    assert.match(dead.stdout, /recover +varsymfs mount /);
    const again = await mount(t, user, { dir: m.dir });
    assert.equal((await again.cli(['status', m.dir])).code, 0);
  });
});
