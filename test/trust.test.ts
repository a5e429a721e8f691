// Issue 17, items 1 and 5: on a machine shared with other users, a project file counts only when its
// owner is the caller or root (or it lies under a --trust-dir), every project value is one path component,
// and no answer is one that was never true. Real mounts, real processes of two users: the test's
// unprivileged user as the attacker or the victim, root as the other; OTHER_UID a third user with no
// account (only files).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { chownTree, mount, type Mounted } from './helpers/mount';
import { run, type TestUser } from './helpers/users';

import { OTHER_UID, T, goMount, needsRootAndPlain, plain, quietDir, root, runIn, settle, tree } from './helpers/attack';

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
  assert.equal(r.code, 0, r.stderr);
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
