// A second hostile review of the project scope (issue 11), after the first review's nine fixes (commit
// 0eb48b0): each test is one finding, reproduced through a real mount, with real processes, explicit
// environments and working directories. The prober, quietDir and the other helpers are shared with
// test/attack-project.test.ts (test/helpers/attack.ts).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { stallMount } from './helpers/execenv';
import { chownTree, onCleanup, mount, type Mounted } from './helpers/mount';
import { baseEnv } from './helpers/users';

import { hangMount } from './helpers/hangfs';
import { OTHER_UID, T, bin, goMount, needsRoot, needsRootAndPlain, plain, prober, quietDir, root, runIn, settle, tree } from './helpers/attack';
/** The daemon's threads now blocked in `statx` (x86_64 syscall 332): walks left on a hung filesystem. */
function threadsInStatx(pid: number): number {
  let n = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').startsWith('332 ')) n++;
    } catch {
      // the thread ended
    }
  }
  return n;
}

describe('project scope under attack (2): a hung filesystem on the walk', { skip: needsRoot }, () => {
  test('a project file name that is the mount point of a hung FUSE filesystem (working directory local) gives up within the timeout', { timeout: 600000 }, async (t) => {
    const base = quietDir(t);
    tree(base, { 'proj/': '' });
    // Any user with user_allow_other can do this in a shared directory (/tmp/.go-version): every caller below it walks here.
    const hang = await hangMount(t, path.join(base, '.go-version'));
    const m = await goMount(t, ['--project-timeout', '0.5']);
    await settle();
    await hang.hold();
    const caller = runIn(root!, path.join(base, 'proj'), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' }, 600000);
    // As in attack-project.test.ts: a held caller cannot be killed, so it is released once it has waited 3
    // minutes (a liveness bound of minutes, not a timing assertion).
    let stuck = false;
    let releasing: NodeJS.Timeout | undefined;
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([caller, new Promise<void>((r) => (waited = setTimeout(r, 180000))).then(() => { stuck = true; releasing = setInterval(() => hang.release(), 100); })]);
    const r = await caller;
    clearTimeout(waited);  // the race is over: neither timer may outlive the test (it would keep the process alive)
    clearInterval(releasing);
    hang.release();
    assert.equal(stuck, false, 'the caller was still waiting 3 minutes later, past --project-timeout 0.5: a lookup on the hung filesystem held its FUSE worker');
    assert.equal(r.stdout, 'none\n');
  });
});

describe('project scope under attack (2): disclosure', { skip: needsRoot }, () => {
  test('a uid-0 caller inside a user namespace (no power over owners it does not map) never gets a value from a file it cannot read', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/.go-version': 'SECRET-3\n' });
    fs.chownSync(path.join(base, 'proj', '.go-version'), OTHER_UID, OTHER_UID);
    fs.chmodSync(path.join(base, 'proj', '.go-version'), 0o600);
    await settle();
    // As a sandboxed root service (systemd's PrivateUsers=, bubblewrap): uid 0 with every capability, but
    // only in its own user namespace; the kernel gives it no override on files of unmapped owners.
    const userns = ['/usr/bin/unshare', '--user', '--map-root-user', '--'];
    const cat = await runIn(root!, path.join(base, 'proj'), [...userns, '/bin/cat', '.go-version']);
    assert.notEqual(cat.code, 0, `the caller cannot read the file itself: ${cat.stdout}`);
    const r = await runIn(root!, path.join(base, 'proj'), [...userns, '/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /SECRET/);
    assert.equal(r.stdout, 'none\n');
  });
});

describe('project scope under attack (2): a root --allow-other daemon serving another user', { skip: needsRootAndPlain }, () => {
  test('a caller in 1000 groups is read with all of them: a file its own group may not read is not disclosed', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/.go-version': 'SECRET-5\n' });
    const groups = Array.from({ length: 1000 }, (_, i) => 1000000001 + i);
    const denied = groups[groups.length - 1]!;
    // Group class denies, others may read: a member of the group must not (the classic group-deny mode).
    fs.chownSync(path.join(base, 'proj', '.go-version'), 0, denied);
    fs.chmodSync(path.join(base, 'proj', '.go-version'), 0o604);
    await settle();
    const as = (argv: string[]) => {
      const args = ['--reuid', String(plain!.uid), '--regid', String(plain!.gid), '--groups', groups.join(','), '--', '/usr/bin/env', '-i', '-C', path.join(base, 'proj'), 'EDITOR=vi', ...argv];
      return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn('/usr/bin/setpriv', args, { env: baseEnv(plain!), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 300000);  // a liveness bound of minutes
        child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
      });
    };
    const id = await as(['/usr/bin/id', '-G']);
    assert.ok(id.stdout.trim().split(' ').includes(String(denied)), 'the caller is in the group');
    const cat = await as(['/bin/cat', '.go-version']);
    assert.notEqual(cat.code, 0, `the caller cannot read the file itself: ${cat.stdout}`);
    const r = await as(['/usr/bin/readlink', path.join(m.dir, 'GO')]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /SECRET/);
    assert.equal(r.stdout, 'none\n');
  });
});

describe('project scope under attack (2): wrong answers', { skip: needsRoot }, () => {
  test('a chrooted caller\'s symlinked project file is followed inside its root, not the daemon\'s', T, async (t) => {
    const base = quietDir(t);  // first: its cleanup takes the jail's bind mount down before the mount itself
    const m = await goMount(t);
    const jail = path.join(base, 'jail');
    // The same absolute path names one file outside the jail and another inside it.
    tree(base, { 'ver': '1.99.0-OUTSIDE\n', 'jail/proj/': '', 'jail/m/': '', [path.join('jail', base, 'ver')]: '1.21.0\n' });
    fs.symlinkSync(path.join(base, 'ver'), path.join(jail, 'proj', '.go-version'));
    assert.equal(spawnSync('mount', ['--bind', m.dir, path.join(jail, 'm')]).status, 0);
    await settle();
    const p = await prober(t, root!, path.join(jail, 'proj'));
    assert.equal(await p.ask(`R ${jail}`), 'ok');
    assert.equal(await p.ask('o /proj/.go-version'), '1.21.0', 'the caller reads the jail\'s file through its link');
    assert.equal(await p.ask('r /m/GO'), '1.21.0');
  });

  test('a project file linked through /proc/self is never the daemon\'s (a /proc magic link counts as absent)', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/ver': '1.21.0\n' });
    fs.symlinkSync('/proc/self/cwd/ver', path.join(base, 'proj', '.go-version'));
    // The daemon's own working directory is the mount's backing directory: give it a `ver` of its own.
    fs.writeFileSync(path.join(m.dir, 'ver'), 'DAEMON-1.0\n');
    await settle();
    const p = await prober(t, root!, path.join(base, 'proj'));
    assert.equal(await p.ask('o .go-version'), '1.21.0', 'the caller reads its own working directory\'s file');
    // The daemon cannot follow the caller's /proc/self: such a link is not followed at all (docs/project-files.md).
    assert.equal(await p.ask(`r ${path.join(m.dir, 'GO')}`), 'none');
  });
});

describe('project scope under attack (2): one user\'s hung walks and everyone else', { skip: needsRootAndPlain }, () => {
  test('four walks left on a hung filesystem by one user do not take the project scope from another user\'s symlinked project file', T, async (t) => {
    const stall = await stallMount(t);  // first: its cleanup answers the held lookups before the mount goes
    const m = await goMount(t, ['--project-timeout', '0.5']);
    const base = quietDir(t);
    // The hostile user's projects: each project file leads onto the hung filesystem (a directory each: the
    // kernel serializes lookups in one directory).
    for (let i = 0; i < 4; i++) {
      tree(base, { [`hostile${i}/`]: '' });
      fs.symlinkSync(path.join(stall.dir, 'hold', `a${i}`, 'x'), path.join(base, `hostile${i}`, '.go-version'));
    }
    // Another user's project: a symlinked project file on a local disk (as a dotfiles manager makes them).
    tree(base, { 'victim/real-go-version': '1.22.3\n' });
    fs.symlinkSync('real-go-version', path.join(base, 'victim', '.go-version'));
    chownTree(path.join(base, 'victim'), plain!);
    await settle();
    for (let i = 0; i < 4; i++) {
      const r = await runIn(root!, path.join(base, `hostile${i}`), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
      assert.equal(r.stdout, 'none\n', 'the hostile caller itself goes on without its project file');
    }
    const own = await runIn(plain!, path.join(base, 'victim'), ['/bin/cat', '.go-version']);
    assert.equal(own.stdout, '1.22.3\n');
    const r = await runIn(plain!, path.join(base, 'victim'), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
    assert.equal(r.stdout, '1.22.3\n', 'the other user\'s project file still answers');
  });
});
