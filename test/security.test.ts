// Permissions and the backing store as an escape hatch (issue #6): who may use a mount, who owns what
// is created, and that no race makes a root daemon follow a symlink in the store for a normal user.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { mount, tempDir } from './helpers/mount';
import { plainUser, rootUser, run } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();
const skip = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;

describe('permissions', { skip }, () => {
  test('without --allow-other only the mounting user can use the mount (both directions)', T, async (t) => {
    const mu = await mount(t, plain!, { setup: (d) => fs.writeFileSync(path.join(d, 'f'), 'user') });
    assert.equal((await mu.run('cat', [path.join(mu.dir, 'f')])).stdout, 'user');
    const byRoot = await run(root!, 'stat', [path.join(mu.dir, 'f')]);
    assert.notEqual(byRoot.code, 0);
    assert.match(byRoot.stderr, /Permission denied/);
    const mr = await mount(t, root!, { setup: (d) => (fs.writeFileSync(path.join(d, 'f'), 'root'), fs.chmodSync(d, 0o755)) });
    const byUser = await run(plain!, 'cat', [path.join(mr.dir, 'f')]);
    assert.notEqual(byUser.code, 0);
    assert.match(byUser.stderr, /Permission denied/);
  });

  test('--allow-other as root: the kernel checks every access; what users create is theirs', T, async (t) => {
    const m = await mount(t, root!, {
      args: ['--allow-other'],
      setup: (d) => {
        fs.chmodSync(d, 0o777);
        fs.writeFileSync(path.join(d, 'secret'), 'root only', { mode: 0o600 });
        fs.writeFileSync(path.join(d, 'public'), 'everyone', { mode: 0o644 });
      },
    });
    assert.match((await run(plain!, 'cat', [path.join(m.dir, 'secret')])).stderr, /Permission denied/);
    assert.equal((await run(plain!, 'cat', [path.join(m.dir, 'public')])).stdout, 'everyone');
    assert.match((await run(plain!, 'sh', ['-c', 'echo x >> "$0"', path.join(m.dir, 'public')])).stderr, /Permission denied/);
    assert.match((await run(plain!, 'chmod', ['666', path.join(m.dir, 'secret')])).stderr, /Operation not permitted/);
    const made = await run(plain!, 'sh', ['-c', 'cd "$0" && echo mine > file && mkdir dir && ln -s file link && mkfifo fifo', m.dir]);
    assert.equal(made.code, 0, made.stderr);
    for (const name of ['file', 'dir', 'link', 'fifo']) {
      const st = fs.lstatSync(path.join(m.dir, name));
      assert.deepEqual([st.uid, st.gid], [plain!.uid, plain!.gid], `${name} belongs to the caller`);
    }
  });
});

describe('the store is never an escape hatch', { skip }, () => {
  test('swapping a store directory for a symlink to /etc never makes a root daemon open /etc/shadow for a user', T, async (t) => {
    // A root daemon serves, to everyone, a store the user owns and can change directly.
    const store = tempDir(t, plain!);
    fs.mkdirSync(path.join(store, 'd'));
    fs.writeFileSync(path.join(store, 'd', 'shadow'), 'decoy\n');
    fs.chownSync(path.join(store, 'd'), plain!.uid, plain!.gid);
    fs.chownSync(path.join(store, 'd', 'shadow'), plain!.uid, plain!.gid);
    const m = await mount(t, root!, { args: ['--allow-other', '--source', store, '--entry-timeout', '30', '--attr-timeout', '30'] });
    const shadowHead = fs.readFileSync('/etc/shadow', 'utf8').split('\n')[0]!.slice(0, 5);
    const attack = `
import os, sys, time, json, threading
store, mnt = sys.argv[1], sys.argv[2]
# Until the race has reached the daemon 20 times in at least 2000 reads, not for a duration (a busy machine
# makes fewer tries in a given time); the clock is only a liveness bound of minutes.
stop = threading.Event()
bound = time.time() + 120
def swap():
    while not stop.is_set():
        os.rename(store + "/d", store + "/d.real"); os.symlink("/etc", store + "/d")
        time.sleep(0.0005)  # holds the swapped state open a little: a window, not a wait for anything
        os.unlink(store + "/d"); os.rename(store + "/d.real", store + "/d")
counts = {}
# Read once first: the kernel now caches d as a directory (for --entry-timeout), so while the store's d
# is a symlink the kernel still sends "open /d/shadow" to the daemon. That is the window under attack.
counts["decoy"] = int(open(mnt + "/d/shadow").read() == "decoy\\n")
threading.Thread(target=swap).start()
reads = 0
while (reads < 2000 or counts.get("errno40", 0) < 20) and time.time() < bound:
    reads += 1
    try:
        with open(mnt + "/d/shadow") as f:
            k = "decoy" if f.read() == "decoy\\n" else "LEAK"
    except OSError as e:
        k = "errno%d" % e.errno
    counts[k] = counts.get(k, 0) + 1
stop.set()
print(json.dumps(counts))
`;
    const r = await run(plain!, 'python3', ['-c', attack, store, m.dir]);
    assert.equal(r.code, 0, r.stderr);
    const counts = JSON.parse(r.stdout) as Record<string, number>;
    t.diagnostic(`outcomes: ${r.stdout.trim()} (errno40 = ELOOP: the daemon refused a swapped-in symlink)`);
    assert.equal(counts.LEAK, undefined, `a read returned something other than the decoy (shadow starts ${JSON.stringify(shadowHead)})`);
    assert.ok((counts.decoy ?? 0) > 0, 'the user could read their own file');
    assert.ok((counts.errno40 ?? 0) > 0, 'the race reached the daemon with a swapped path (else the test proves nothing)');
  });

  test('no path reaches outside the backing directory: absolute and ../ targets are the kernel\'s to follow, with the caller\'s rights', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('../../../../etc/shadow', path.join(d, 'up')), fs.symlinkSync('/etc/$<F>', path.join(d, 'abs'))) });
    assert.match((await run(plain!, 'cat', [path.join(m.dir, 'up')])).stderr, /Permission denied|No such file/);
    assert.match((await run(plain!, 'cat', [path.join(m.dir, 'abs')], { F: 'shadow' })).stderr, /Permission denied/);
    assert.equal((await run(root!, 'head', ['-c', '5', path.join(m.dir, 'abs')], { F: 'shadow' })).stdout, fs.readFileSync('/etc/shadow', 'utf8').slice(0, 5));
  });
});
