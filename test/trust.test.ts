// Issue 17, items 1 and 5: on a machine shared with other users, a project file counts only when its
// owner is the caller or root (or it lies under a --trust-dir), every project value is one path component,
// and no answer is one that was never true. Real mounts, real processes of two users: the test's
// unprivileged user as the attacker or the victim, root as the other; OTHER_UID a third user with no
// account (only files).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { hangMount } from './helpers/hangfs';
import { chownTree, mount, onCleanup, type Mounted } from './helpers/mount';
import { run, type TestUser } from './helpers/users';

import { OTHER_UID, T, goMount, needsRootAndPlain, plain, prober, quietDir, root, runIn, settle, tree } from './helpers/prober';

/** `user`'s own mount (no --allow-other) holding `GO -> $<GO_VERSION:-none>`. */
function ownGoMount(t: TestContext, user: TestUser, args: string[] = []): Promise<Mounted> {
  return mount(t, user, { args, setup: (d) => fs.symlinkSync('$<GO_VERSION:-none>', path.join(d, 'GO')) });
}

/** The GO link read by `user` working in `cwd` (its output line, or the error). */
async function goFrom(user: TestUser, cwd: string, m: Mounted): Promise<string> {
  const r = await runIn(user, cwd, ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** `varsymfs resolve --explain` of the mount's GO link, run by the mount's user in `cwd`. */
async function explain(m: Mounted, cwd: string): Promise<string> {
  const r = await run(m.user, m.user.bin, ['resolve', '--explain', path.join(m.dir, 'GO')], m.env, { cwd });
  // The targets here are not installed: resolve prints the explanation, then exits 1 with that one line.
  assert.ok(r.code === 0 || (r.code === 1 && /not installed|does not exist/.test(r.stderr)), r.stderr);
  return r.stdout;
}

/** Gives `file` (not following a symlink) to `uid`. */
function own(file: string, uid: number): void {
  fs.lchownSync(file, uid, uid);
}

describe('project files are trusted by owner: a root --allow-other mount', { skip: needsRootAndPlain }, () => {
  test('a .varsymfs-env another user wrote in a shared parent directory is never read for root; its owner still gets it', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { '.varsymfs-env': 'GO_VERSION=evil\n', 'proj/': '' });
    own(path.join(base, '.varsymfs-env'), plain!.uid);
    await settle();
    assert.equal(await goFrom(root!, path.join(base, 'proj'), m), 'none', 'root ran the attacker\'s pin');
    assert.equal(await goFrom(plain!, path.join(base, 'proj'), m), 'evil', 'a user\'s own file is trusted');
  });

  test('a nearer trusted pin still answers; an untrusted nearer one is skipped and the walk goes on up', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { '.go-version': 'go1.root\n', 'proj/.go-version': 'go1.evil\n', 'proj/sub/': '' });
    own(path.join(base, 'proj', '.go-version'), plain!.uid);
    await settle();
    assert.equal(await goFrom(root!, path.join(base, 'proj', 'sub'), m), 'go1.root');
    assert.equal(await goFrom(plain!, path.join(base, 'proj', 'sub'), m), 'go1.evil');
  });

  test('a symlinked project file counts only if the link too is trusted', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'pin': 'go1.linked\n', 'a/': '', 'b/': '' });
    fs.symlinkSync(path.join(base, 'pin'), path.join(base, 'a', '.go-version'));
    fs.symlinkSync(path.join(base, 'pin'), path.join(base, 'b', '.go-version'));
    own(path.join(base, 'b', '.go-version'), OTHER_UID);  // the link is another user's, its target root's
    await settle();
    assert.equal(await goFrom(root!, path.join(base, 'a'), m), 'go1.linked');
    assert.equal(await goFrom(root!, path.join(base, 'b'), m), 'none');
  });

  test('a link to another user\'s file is skipped too', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'pin': 'go1.theirs\n', 'a/': '' });
    own(path.join(base, 'pin'), OTHER_UID);
    fs.symlinkSync(path.join(base, 'pin'), path.join(base, 'a', '.go-version'));
    await settle();
    assert.equal(await goFrom(root!, path.join(base, 'a'), m), 'none');
  });

  test('resolve --explain names the skipped file and its owner', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { '.varsymfs-env': 'GO_VERSION=evil\n', 'proj/': '' });
    own(path.join(base, '.varsymfs-env'), plain!.uid);
    await settle();
    const out = await explain(m, path.join(base, 'proj'));
    assert.match(out, new RegExp(`skipped +${path.join(base, '.varsymfs-env').replace(/[.]/g, '\\.')}: not trusted \\(owner uid ${plain!.uid}\\)`), out);
  });

  test('a file others may write is not trusted (its owner\'s own group excepted), unless under a --trust-dir; --explain says why', T, async (t) => {
    const base = quietDir(t);
    // root's files: 0664 group root's writable; 0646 others'; 0644 fine. plain's own 0664 of its own group: its user private group.
    tree(base, { 'g/.go-version': 'go1.group\n', 'g/p/': '', 'o/.go-version': 'go1.other\n', 'o/p/': '', 'ok/.go-version': 'go1.ok\n', 'ok/p/': '', 'mine/.go-version': 'go1.mine\n', 'mine/p/': '' });
    fs.chmodSync(path.join(base, 'g', '.go-version'), 0o664);
    fs.chmodSync(path.join(base, 'o', '.go-version'), 0o646);
    fs.chownSync(path.join(base, 'mine', '.go-version'), plain!.uid, plain!.gid);
    fs.chmodSync(path.join(base, 'mine', '.go-version'), 0o664);
    const m = await goMount(t);
    const trusting = await goMount(t, ['--trust-dir', path.join(base, 'g')]);
    await settle();
    assert.deepEqual(await Promise.all(['g', 'o', 'ok'].map((d) => goFrom(plain!, path.join(base, d, 'p'), m))), ['none', 'none', 'go1.ok']);
    assert.equal(await goFrom(plain!, path.join(base, 'mine', 'p'), m), 'go1.mine', 'the caller\'s own file, writable by its own group');
    assert.equal(await goFrom(root!, path.join(base, 'mine', 'p'), m), 'none', 'for root that file is another user\'s anyway');
    assert.equal(await goFrom(plain!, path.join(base, 'g', 'p'), trusting), 'go1.group', 'under a --trust-dir any file counts');
    const out = await explain(m, path.join(base, 'o', 'p'));
    assert.match(out, new RegExp(`skipped +${path.join(base, 'o', '.go-version').replace(/[.]/g, '\\.')}: not trusted \\(writable by its group or others; owner uid 0\\)`), out);
  });

  test('--trust-dir DIR trusts files under DIR whatever their owner (also through the background daemon)', T, async (t) => {
    const base = quietDir(t);
    tree(base, { '.go-version': 'go1.shared\n', 'proj/': '', 'other/x/': '' });
    own(path.join(base, '.go-version'), OTHER_UID);
    const m = await goMount(t, ['--trust-dir', path.join(base, 'proj'), '--trust-dir', base]);
    await settle();
    assert.equal(await goFrom(root!, path.join(base, 'proj'), m), 'go1.shared');
    const narrow = await goMount(t, ['--trust-dir', path.join(base, 'proj')]);
    assert.equal(await goFrom(root!, path.join(base, 'proj'), narrow), 'none', 'a file above the trusted directory stays untrusted');
  });

  test('--trust-dir with an empty directory name: one Error line (and the usual help hint), exit 2', T, async () => {
    const r = await run(root!, root!.bin, ['mount', '/nonexistent-varsymfs', '--trust-dir', '']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^Error: .*--trust-dir.*\n\(run with --help for usage\)\n*$/, r.stderr);
  });
});

describe('project files are trusted by owner: each user\'s own mount', { skip: needsRootAndPlain }, () => {
  test('the unprivileged user\'s mount: another user\'s file is skipped, root\'s and its own count', T, async (t) => {
    const m = await ownGoMount(t, plain!);
    const base = quietDir(t);
    tree(base, { '.go-version': 'go1.root\n', 'x/.go-version': 'go1.other\n', 'x/y/': '', 'mine/.go-version': 'go1.mine\n' });
    own(path.join(base, 'x', '.go-version'), OTHER_UID);
    chownTree(path.join(base, 'mine'), plain!);
    await settle();
    assert.equal(await goFrom(plain!, path.join(base, 'x', 'y'), m), 'go1.root');
    assert.equal(await goFrom(plain!, path.join(base, 'mine'), m), 'go1.mine');
  });

  test('root\'s own mount: the unprivileged user\'s file is skipped', T, async (t) => {
    const m = await ownGoMount(t, root!);
    const base = quietDir(t);
    tree(base, { 'proj/.varsymfs-env': 'GO_VERSION=evil\n' });
    own(path.join(base, 'proj', '.varsymfs-env'), plain!.uid);
    await settle();
    assert.equal(await goFrom(root!, path.join(base, 'proj'), m), 'none');
  });
});

describe('every project value is one path component', { skip: needsRootAndPlain }, () => {
  for (const [label, who] of [['root', () => root!], ['the unprivileged user', () => plain!]] as const) {
    test(`a .varsymfs-env value with '/', '.' or '..' is refused (absent) and --explain says why (${label})`, T, async (t) => {
      const user = who();
      const m = await ownGoMount(t, user);
      const base = quietDir(t);
      tree(base, {
        '.go-version': 'go1.above\n',
        'a/.varsymfs-env': 'GO_VERSION=../../pub/.e\n',
        'b/.varsymfs-env': 'GO_VERSION=.\n',
        'c/.varsymfs-env': 'GO_VERSION=..\n',
        'd/.varsymfs-env': 'GO_VERSION=x/y\n',
        'e/.varsymfs-env': 'GO_VERSION=go1.ok\n',
      });
      for (const d of ['a', 'b', 'c', 'd', 'e']) chownTree(path.join(base, d), user);
      await settle();
      for (const d of ['a', 'b', 'c', 'd']) assert.equal(await goFrom(user, path.join(base, d), m), 'go1.above', `${d}: the refused value counts as absent`);
      assert.equal(await goFrom(user, path.join(base, 'e'), m), 'go1.ok');
      const out = await explain(m, path.join(base, 'a'));
      assert.match(out, /refused +.*\/a\/\.varsymfs-env:1: GO_VERSION is not one path component/, out);
    });
  }
});

// Races, counted by the racing process itself (one line per distinct answer: "COUNT ANSWER").
//   readmany LINK N            readlink LINK N times
//   chdirrace X Y LINK N       the same, from X, while a second thread moves the process between X and Y
//   renamer DIR                writes DIR/.go-version.new and renames it onto DIR/.go-version, forever
const RACES_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static const char *X, *Y;
static volatile int stop;
static void *toggler (void *a) { (void) a; while (!stop) { if (chdir(X) != 0 || chdir(Y) != 0) return NULL; } return NULL; }
static char seen[16][256];
static int counts[16], nseen;
static void readmany (const char *link, int n) {
  char buf[256];
  for (int i = 0; i < n; i++) {
    ssize_t k = readlink(link, buf, sizeof buf - 1);
    if (k < 0) strcpy(buf, "ERR"); else buf[k] = 0;
    int j = 0;
    while (j < nseen && strcmp(seen[j], buf) != 0) j++;
    if (j == nseen && nseen < 16) strcpy(seen[nseen++], buf);
    if (j < 16) counts[j]++;
  }
  for (int j = 0; j < nseen; j++) printf("%d %s\n", counts[j], seen[j]);
}
int main (int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "readmany") == 0) { readmany(argv[2], atoi(argv[3])); return 0; }
  if (argc == 6 && strcmp(argv[1], "chdirrace") == 0) {
    X = argv[2]; Y = argv[3];
    // In X before the first read: the toggler may not run for a while on a busy machine, and the directory
    // the process started in has no project file ("none" is then the true answer).
    if (chdir(X) != 0) return 3;
    pthread_t t;
    pthread_create(&t, NULL, toggler, NULL);
    readmany(argv[4], atoi(argv[5]));
    stop = 1;
    pthread_join(t, NULL);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "renamer") == 0) {
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/.go-version.new", argv[2]);
    snprintf(dst, sizeof dst, "%s/.go-version", argv[2]);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
      int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || write(fd, "go1.renamed\n", 12) != 12 || close(fd) != 0 || rename(tmp, dst) != 0) return 1;
    }
  }
  return 2;
}
`;

let races = '';
before(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-trust-bin-'));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'races.c'), RACES_C);
  races = path.join(dir, 'races');
  const r = spawnSync('gcc', ['-O1', '-pthread', '-o', races, path.join(dir, 'races.c')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `gcc races: ${r.stderr}`);
});
after(() => {
  if (races !== '') fs.rmSync(path.dirname(races), { recursive: true, force: true });
});

/** "COUNT ANSWER" lines as a map. */
function answers(stdout: string): Map<string, number> {
  return new Map(stdout.trim().split('\n').filter((l) => l !== '').map((l) => { const sp = l.indexOf(' '); return [l.slice(sp + 1), Number(l.slice(0, sp))]; }));
}

describe('no answer that was never true', { skip: needsRootAndPlain }, () => {
  test('a project file replaced by rename-into-place (present throughout) never reads as absent', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/.go-version': 'go1.renamed\n' });
    const renamer = spawn(races, ['renamer', path.join(base, 'proj')], { stdio: ['ignore', 'pipe', 'inherit'] });
    onCleanup(t, () => { if (renamer.exitCode === null) renamer.kill('SIGKILL'); });
    await new Promise<void>((resolve, reject) => { renamer.stdout!.once('data', () => resolve()); renamer.once('exit', (c) => reject(new Error(`renamer exited ${c}`))); });
    let r;
    try {
      r = await runIn(root!, path.join(base, 'proj'), [races, 'readmany', path.join(m.dir, 'GO'), '3000'], { EDITOR: 'vi' }, 120000);
    } finally {
      // Before the directory is removed (cleanups run in the order they were added: the directory's first).
      renamer.kill('SIGKILL');
      if (renamer.exitCode === null && renamer.signalCode === null) await new Promise((resolve) => renamer.once('exit', resolve));
    }
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...answers(r.stdout).keys()], ['go1.renamed'], r.stdout);
  });

  // Once as a user meets it (a walk kept: most requests are answered by the fast path, and only some walk),
  // once with symlinked project files, which are never kept: every request walks while the other thread moves.
  for (const linked of [false, true]) {
    test(`a thread resolving while another thread of its process calls chdir never gets "no project files"${linked ? ' (symlinked files: every request walks)' : ''}`, T, async (t) => {
      const m = await goMount(t);
      const base = quietDir(t);
      if (linked) {
        tree(base, { 'files/x': 'go1.x\n', 'files/y': 'go1.y\n', 'x/': '', 'y/': '' });
        fs.symlinkSync(path.join(base, 'files/x'), path.join(base, 'x/.go-version'));
        fs.symlinkSync(path.join(base, 'files/y'), path.join(base, 'y/.go-version'));
      } else tree(base, { 'x/.go-version': 'go1.x\n', 'y/.go-version': 'go1.y\n' });
      await settle();
      const walks = async (): Promise<number> => JSON.parse((await m.cli(['status', m.dir, '--json'])).stdout)[0].project.walks;
      const before = linked ? await walks() : 0;
      const r = await runIn(root!, base, [races, 'chdirrace', path.join(base, 'x'), path.join(base, 'y'), path.join(m.dir, 'GO'), '3000'], { EDITOR: 'vi' }, 120000);
      assert.equal(r.code, 0, r.stderr);
      const got = answers(r.stdout);
      if ([...got.keys()].some((a) => a !== 'go1.x' && a !== 'go1.y')) {
        const status = JSON.parse((await m.cli(['status', m.dir, '--json'])).stdout)[0];
        assert.fail(`never true: ${r.stdout} (the daemon's counters: ${JSON.stringify({ resolutions: status.resolutions, cache: status.cache, project: status.project })})`);
      }
      if (linked) assert.ok((await walks()) - before >= 3000, 'every request walked');
    });
  }

  test('a hung filesystem on a project file name above never discards the nearer pin; that partial answer is not kept', { timeout: 600000 }, async (t) => {
    const base = quietDir(t);
    tree(base, { 'proj/.go-version': 'go1.mine\n' });
    // Any user with user_allow_other can do this in a shared directory (/tmp/.go-version).
    const hang = await hangMount(t, path.join(base, '.go-version'));
    const m = await goMount(t, ['--project-timeout', '0.3']);
    await settle();
    await hang.hold();
    onCleanup(t, () => hang.release());
    const p = await prober(t, root!, path.join(base, 'proj'));
    // A liveness bound of minutes, not a timing assertion: released after 3 minutes if the walk held the caller.
    let waited: NodeJS.Timeout | undefined;
    const ask = p.ask(`r ${path.join(m.dir, 'GO')}`);
    const stuck = await Promise.race([ask.then(() => false), new Promise<boolean>((r) => (waited = setTimeout(() => r(true), 180000)))]);
    clearTimeout(waited);
    if (stuck) hang.release();
    assert.equal(stuck, false, 'the caller was held past --project-timeout');
    assert.equal(await ask, 'go1.mine');
    const timedOut = async (): Promise<number> => JSON.parse((await m.cli(['status', m.dir, '--json'])).stdout)[0].project.timedOut;
    const before = await timedOut();
    assert.equal(await p.ask(`r ${path.join(m.dir, 'GO')}`), 'go1.mine');
    assert.ok((await timedOut()) > before, 'the second read walked again (a partial walk is never kept)');
  });
});
