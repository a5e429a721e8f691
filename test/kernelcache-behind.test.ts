// What the kernel keeps (--cache, docs/semantics.md "What the kernel keeps") against changes made
// behind the mount in ways kernelcache.test.ts does not try: a file replaced by rename while its old inode
// is still open through the mount (a running program, an editor, a tail -f), and a name created in an
// in-place store by a process whose working directory (or fd) was taken before the mount covered it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { mount, tempDir } from './helpers/mount';
import { asUser, baseEnv, describeEachUser } from './helpers/users';

const T = { timeout: 300000 };

// argv: store, mount point, 'same' or 'smaller'. An installer replaces f (new inode, new mtime) by rename
// while P1 holds the old f open through the mount; P2 opens the new f (and, for 'smaller', stats it
// first, as ls or a lookup after --entry-timeout does); then P1 reads the start of its own, old file.
// Prints what a later open of f through the mount reads, as "<byte>:<count>" runs.
const REPLACE = `
import os, sys
S, M, kind = sys.argv[1], sys.argv[2], sys.argv[3]
n = 300000
with open(S + '/f', 'w') as f: f.write('A' * n)
held = os.open(M + '/f', os.O_RDONLY)
with open(S + '/f.new', 'w') as f: f.write('B' * (n if kind == 'same' else n // 2))
os.rename(S + '/f.new', S + '/f')
if kind == 'smaller': os.stat(M + '/f')
os.close(os.open(M + '/f', os.O_RDONLY))
assert os.pread(held, 4096, 0) == b'A' * 4096, 'P1 reads its own file'
os.close(held)
with open(M + '/f', 'rb') as f: data = f.read()
runs, last = [], None
for b in data:
  if b != last: runs.append([chr(b), 0]); last = b
  runs[-1][1] += 1
print(' '.join('%s:%d' % (c, k) for c, k in runs))
`;

// argv: a name through the mount, 'once' or 'until found'; fd 3: the store's directory, opened before the
// mount. Looks the name up, creates it in the store through fd 3, then looks it up again (until it is found:
// prints how many lookups said missing first).
const CREATE_BEHIND = `
import os, sys
def stat(p):
  try: os.stat(p); return 'found'
  except FileNotFoundError: return 'missing'
print(stat(sys.argv[1]))
os.mkdir(os.path.basename(sys.argv[1]), dir_fd=3)
if sys.argv[2] == 'once': print(stat(sys.argv[1]))
else:
  missed = 0
  while stat(sys.argv[1]) == 'missing': missed += 1
  print('found after', 'some' if missed else 'no', 'misses')
`;

describeEachUser((user) => {
  for (const kind of ['same', 'smaller'] as const) {
    test(`--cache auto, --source: a file replaced by rename (${kind === 'same' ? 'the same size' : 'smaller, stat\'ed'}, a new mtime) while its old inode is open through the mount is read fresh at the next open`, T, async (t) => {
      const store = tempDir(t, user, 'varsymfs-store-');
      const m = await mount(t, user, { args: ['--source', store, '--cache', 'auto'] });
      const r = await m.run('python3', ['-c', REPLACE, store, m.dir, kind]);
      assert.equal(r.code, 0, r.stderr);
      // The pages P1's read brought in are the old file's: an open after the replacement must not keep them.
      assert.equal(r.stdout.trim(), kind === 'same' ? 'B:300000' : 'B:150000', 'what an open after the replacement read');
    });
  }

  // In place, what is made behind the mount (through a directory fd or a working directory from before the
  // mount, /proc/<daemon>/cwd, a bind mount) is seen at the next lookup with --cache never, and within
  // --entry-timeout with auto, which keeps missing names in place (docs/semantics.md).
  for (const mode of ['never', 'auto'] as const) {
    test(`--cache ${mode}, in place: a name created in the store by a process whose directory fd predates the mount is seen ${mode === 'never' ? 'by the next lookup' : 'within --entry-timeout'}`, T, async (t) => {
      const dir = tempDir(t, user);
      // A shell that was in the directory when it was mounted over (or a build tool, an editor): its cwd
      // is the store itself, and what it creates there does not pass through the mount.
      const before = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      t.after(() => fs.closeSync(before));
      const m = await mount(t, user, { dir, args: ['--cache', mode] });
      // One process, as the user, with that fd as its fd 3: a lookup through the mount, mkdir in the store,
      // a lookup again (no clock between them).
      const [file, argv] = asUser(user, 'python3', ['-c', CREATE_BEHIND, path.join(m.dir, 'go1.22'), mode === 'never' ? 'once' : 'until found']);
      const r = spawnSync(file, argv, { env: baseEnv(user), stdio: ['ignore', 'pipe', 'pipe', before], encoding: 'utf8', timeout: 300000 });
      assert.equal(r.status, 0, r.stderr);
      if (mode === 'never') assert.equal(r.stdout, 'missing\nfound\n', 'a directory created in the store, not through the mount');
      else assert.match(r.stdout, /^missing\nfound after (some|no) misses\n$/, 'found within the bound (the loop ends)');
    });
  }
});
