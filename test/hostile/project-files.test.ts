// The project scope under attack (issue 11): the findings of two hostile reviews, each reproduced through a
// real mount, with real processes, explicit environments and working directories; the suites marked (2) are
// the second review's, after the first review's nine fixes (commit 0eb48b0). The callers that matter most
// are long-lived ones (an IDE, a language server, a shell): the same thread of the same program image asks
// again and again, so the project/fast.c fast path (a walk kept by tid, environment generation and working
// directory identity, invalidated by inotify events and mount-table changes) answers them. A test that
// needs the fast path works in a quietDir (test/helpers/prober.ts), outside /tmp and /var/tmp: every
// directory of a walk up to / is watched, and a busy one (other test suites removing their temp dirs) starts
// new epochs all the time, which would hide a stale answer rather than show it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { stallMount } from '../helpers/execenv';
import { hangMount } from '../helpers/hangfs';
import { chownTree, isMounted, onCleanup } from '../helpers/mount';
import { OTHER_UID, T, bin, goMount, needsRoot, needsRootAndPlain, plain, prober, quietDir, root, runIn, settle, tree } from '../helpers/prober';
import { baseEnv } from '../helpers/users';

describe('project scope under attack: stale answers from the fast path', { skip: needsRoot }, () => {
  test('a project file edited through a hard link in another directory is seen by the next resolution of a long-lived caller', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/': '', 'elsewhere/gv': '1.21.0\n' });
    fs.linkSync(path.join(base, 'elsewhere', 'gv'), path.join(base, 'proj', '.go-version'));
    await settle();
    const p = await prober(t, root!, path.join(base, 'proj'));
    const link = `r ${path.join(m.dir, 'GO')}`;
    // Any epoch change (a mount anywhere on the machine, an event in a watched directory) between the walk
    // kept and the next question makes that question walk again and hides the stale answer: so the edit
    // comes right after a question that kept the walk, the long-lived caller asks right after the edit, and
    // this is done three times (a busy machine mounts often; three windows of a few ms all hit are unlikely).
    let now = '1.21.0';
    for (const next of ['1.22.3', '1.23.1', '1.24.0']) {
      await settle();
      for (let i = 0; i < 2; i++) assert.equal(await p.ask(link), now);
      // The same inode, written through its other name: no event in any directory of the walk.
      fs.writeFileSync(path.join(base, 'elsewhere', 'gv'), `${next}\n`);
      assert.equal(await p.ask(link), next, `the long-lived caller sees the edit (${now} -> ${next})`);
      assert.equal(await p.ask(link), next);
      assert.equal(fs.readFileSync(path.join(base, 'proj', '.go-version'), 'utf8'), `${next}\n`);
      assert.equal((await runIn(root!, path.join(base, 'proj'), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' })).stdout, `${next}\n`, 'a new process sees the edit');
      now = next;
    }
  });

  test('a project file written through a shared mmap (the writer still holds its mapping) is seen by the next resolution', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/.go-version': '1.21.0\n' });
    // The writer maps the file and closes its fd before the caller's walks are kept, so the one inotify
    // event it raises (closing a file opened for writing) is over by then. Its write through the mapping,
    // later, raises none: only the file's own timestamps can tell.
    const py = "import mmap,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nm=mmap.mmap(fd,7)\nos.close(fd)\nprint('mapped',flush=True)\nsys.stdin.readline()\nm[0:7]=b'1.22.3\\n'\nm.flush()\nprint('written',flush=True)\nsys.stdin.read()";
    const writer = spawn('python3', ['-c', py, path.join(base, 'proj', '.go-version')], { stdio: ['pipe', 'pipe', 'inherit'] });
    onCleanup(t, () => {
      if (writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL');
    });
    let said = '';
    const line = (word: string) => new Promise<void>((resolve, reject) => {
      const check = () => said.includes(`${word}\n`) && resolve();
      writer.stdout!.on('data', (d: Buffer) => ((said += d.toString()), check()));
      writer.on('close', (c) => reject(new Error(`mmap writer exited (${c}) before saying ${word}`)));
      check();
    });
    await line('mapped');
    await settle();
    const p = await prober(t, root!, path.join(base, 'proj'));
    const link = `r ${path.join(m.dir, 'GO')}`;
    for (let i = 0; i < 3; i++) assert.equal(await p.ask(link), '1.21.0');
    writer.stdin!.write('\n');
    await line('written');
    await settle();
    assert.equal(fs.readFileSync(path.join(base, 'proj', '.go-version'), 'utf8'), '1.22.3\n');
    assert.equal(await p.ask(link), '1.22.3', 'the long-lived caller sees the new bytes');
    writer.stdin!.end();
  });

  test('the same directory reached through a bind mount walks the bind mount\'s own parents (chdir in one process)', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'a/.go-version': '1.21.0\n', 'a/proj/': '', 'b/.go-version': '1.22.3\n', 'b/proj/': '' });
    assert.equal(spawnSync('mount', ['--bind', path.join(base, 'a', 'proj'), path.join(base, 'b', 'proj')]).status, 0);
    assert.ok(isMounted(path.join(base, 'b', 'proj')));
    await settle();
    const p = await prober(t, root!, path.join(base, 'a', 'proj'));
    const link = `r ${path.join(m.dir, 'GO')}`;
    for (let i = 0; i < 3; i++) assert.equal(await p.ask(link), '1.21.0');
    assert.equal(await p.ask(`c ${path.join(base, 'b', 'proj')}`), 'ok');
    assert.equal((await runIn(root!, path.join(base, 'b', 'proj'), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' })).stdout, '1.22.3\n', 'a new process in b/proj gets b\'s version');
    assert.equal(await p.ask(link), '1.22.3', 'so does the process that moved there (same directory inode, other parents)');
  });

  test('a process that chroots never gets a project file above its new root', T, async (t) => {
    const base = quietDir(t);  // first: its cleanup takes the jail's bind mount of the mount down before the mount itself
    const m = await goMount(t);
    tree(base, { '.go-version': 'OUTSIDE-THE-JAIL\n', 'jail/proj/': '', 'jail/m/': '' });
    // The link is reachable inside the jail (mounted before anything is asked: a mount starts a new epoch).
    assert.equal(spawnSync('mount', ['--bind', m.dir, path.join(base, 'jail', 'm')]).status, 0);
    await settle();
    const p = await prober(t, root!, path.join(base, 'jail', 'proj'));
    for (let i = 0; i < 3; i++) assert.equal(await p.ask(`r ${path.join(base, 'jail', 'm', 'GO')}`), 'OUTSIDE-THE-JAIL');
    assert.equal(await p.ask(`R ${path.join(base, 'jail')}`), 'ok');
    assert.equal(await p.ask('o /.go-version'), 'ERR 2', 'inside the jail the outer file is out of sight');
    assert.equal(await p.ask('r /m/GO'), 'none', 'the walk stops at the caller\'s root');
  });

  test('another thread\'s chdir during a walk never files that walk under the new working directory', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'x/.go-version': '1.21.0\n', 'y/.go-version': '1.22.3\n' });
    await settle();
    // Racy by nature: the window is the walk itself. Ten runs of 2000 readlinks; every answer after the
    // process settled in y must be y's.
    const seen: string[] = [];
    for (let run = 0; run < 10; run++) {
      const r = await runIn(root!, base, [path.join(bin, 'race'), path.join(base, 'x'), path.join(base, 'y'), path.join(m.dir, 'GO'), '2000'], { EDITOR: 'vi' });
      assert.equal(r.code, 0, r.stderr);
      seen.push(...r.stdout.trim().split('\n'));
    }
    assert.deepEqual([...new Set(seen)], ['1.22.3'], `answers in y: ${seen.filter((s) => s !== '1.22.3').length} of ${seen.length} were not y's`);
  });
});

describe('project scope under attack: disclosure', { skip: needsRoot }, () => {
  test('a uid-0 caller without capabilities never gets a value from a file it cannot read', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/.go-version': 'SECRET-9\n' });
    fs.chownSync(path.join(base, 'proj', '.go-version'), OTHER_UID, OTHER_UID);
    fs.chmodSync(path.join(base, 'proj', '.go-version'), 0o600);
    await settle();
    // Root with no capabilities at all, and none regained on exec (as a hardened service or a container's root).
    const capless = ['/usr/bin/setpriv', '--securebits', '+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked', '--inh-caps=-all', '--bounding-set=-all', '--'];
    const cat = await runIn(root!, path.join(base, 'proj'), [...capless, '/bin/cat', '.go-version']);
    assert.notEqual(cat.code, 0, `the capless caller cannot read the file itself: ${cat.stdout}`);
    const r = await runIn(root!, path.join(base, 'proj'), [...capless, '/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /SECRET/);
    assert.equal(r.stdout, 'none\n');
  });
});

describe('project scope under attack: daemon survival', { skip: needsRoot }, () => {
  test('a project file symlinked onto a hung FUSE filesystem (working directory local) gives up within the timeout', { timeout: 600000 }, async (t) => {
    const stall = await stallMount(t);
    const m = await goMount(t, ['--project-timeout', '0.5']);
    const base = quietDir(t);
    tree(base, { 'proj/': '' });
    fs.symlinkSync(path.join(stall.dir, 'hold', 'a', 'x'), path.join(base, 'proj', '.go-version'));
    await settle();
    // A caller whose request the daemon holds cannot even be killed (FUSE waits out a request userspace has
    // read), so the stall is released once the caller has waited 3 minutes, hundreds of times the timeout: a
    // liveness bound of minutes (a busy machine delays an answer by seconds, never by minutes), not a timing
    // assertion.
    const caller = runIn(root!, path.join(base, 'proj'), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' }, 600000);
    let stuck = false;
    let waited: NodeJS.Timeout | undefined;
    const timer = new Promise<void>((r) => (waited = setTimeout(r, 180000)));
    let releasing: NodeJS.Timeout | undefined;
    // Each later lookup on the hung filesystem is held again: released over and over until the caller is done.
    await Promise.race([caller, timer.then(() => { stuck = true; releasing = setInterval(() => stall.release(), 100); })]);
    const r = await caller;
    clearTimeout(waited);  // the race is over: neither timer may outlive the test (it would keep the process alive)
    clearInterval(releasing);
    assert.equal(stuck, false, 'the caller was still waiting 3 minutes later, past --project-timeout 0.5: the walk was never given up');
    assert.equal(r.stdout, 'none\n');
  });
});

describe('project scope under attack: wrong answers', { skip: needsRoot }, () => {
  test('the walk goes up to /: 64 project files nearer the working directory do not hide a farther one', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    const files: Record<string, string> = { 'top/.go-version': '1.22.3\n' };
    let dir = 'top';
    for (let level = 1; level <= 8; level++) {
      dir = `${dir}/l${level}`;
      // Eight files each answering some other variable (none answers GO_VERSION).
      files[`${dir}/.varsymfs-env`] = 'X=1\n';
      for (const f of ['.tool-versions', '.nvmrc', '.node-version', '.python-version', '.ruby-version', '.java-version', '.terraform-version']) files[`${dir}/${f}`] = f === '.tool-versions' ? 'nodejs 20\n' : '1\n';
    }
    tree(base, files);
    await settle();
    const r = await runIn(root!, path.join(base, dir), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
    assert.equal(r.stdout, '1.22.3\n');
  });
});

describe('project scope under attack: a root --allow-other daemon serving another user', { skip: needsRootAndPlain }, () => {
  test('an ancestor the caller cannot search does not hide a project file in its working directory it can read', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'locked/proj/.go-version': '1.22.3\n' });
    chownTree(path.join(base, 'locked', 'proj'), plain!);
    await settle();
    const p = await prober(t, plain!, path.join(base, 'locked', 'proj'));
    assert.equal(await p.ask(`r ${path.join(m.dir, 'GO')}`), '1.22.3');
    // The caller is already inside; the directory above is then closed to it.
    fs.chmodSync(path.join(base, 'locked'), 0o700);
    assert.equal(await p.ask('o .go-version'), '1.22.3', 'the caller still reads its own project file');
    assert.equal(await p.ask(`r ${path.join(m.dir, 'GO')}`), '1.22.3', 'so the link answers from it');
  });
});

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
    // As in 'daemon survival' above: a held caller cannot be killed, so it is released once it has waited 3
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
