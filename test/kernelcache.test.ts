// What the kernel keeps (--cache, docs/semantics.md "What the kernel keeps"), through real mounts and
// counted with the daemon's own request counters: a file's pages across opens only with always, and a
// rewrite behind a --source mount read fresh otherwise; missing names kept when mounted in place and
// asked every time with --source, where a name created, renamed or removed behind the mount is seen by the
// next lookup; no FLUSH at close.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { mount, tempDir, type Mounted } from './helpers/mount';

/** Polls an async condition until it holds; false after a bound of minutes. */
async function waitForAsync(cond: () => Promise<boolean>, ms = 120000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) if (await cond()) return true;
  return false;
}
import { describeEachUser } from './helpers/users';

const T = { timeout: 300000 };

/** The daemon's request counters (`varsymfs status --json`). */
async function requests(m: Mounted): Promise<Record<string, number>> {
  const r = await m.cli(['status', '--json', m.dir]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ requests: Record<string, number> }>)[0]!.requests;
}

/** Runs `fn` and says by how much each counter grew meanwhile. */
async function counted(m: Mounted, fn: () => Promise<void>): Promise<Record<string, number>> {
  const before = await requests(m);
  await fn();
  const after = await requests(m);
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - before[k]!]));
}

async function cat(m: Mounted, file: string): Promise<string> {
  const r = await m.run('cat', [file]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

// `os.stat` of a name `n` times in one process: "missing" or "found" for each.
const STATS = 'import os,sys\nfor _ in range(int(sys.argv[2])):\n  try: os.stat(sys.argv[1]); print("found")\n  except FileNotFoundError: print("missing")';

describeEachUser((user) => {
  const ONE = 'one\n'.repeat(16384);
  const TWO = 'two\n'.repeat(16384); // the same size: only the mtime tells the kernel it changed

  for (const mode of ['auto', 'never', 'always'] as const) {
    const kept = mode === 'always';
    test(`--cache ${mode}, --source: a file's pages are ${kept ? 'kept across opens' : 'read again at every open, and a rewrite behind the mount is read fresh'}; no FLUSH at close`, T, async (t) => {
      const store = tempDir(t, user, 'varsymfs-store-');
      fs.writeFileSync(path.join(store, 'f'), ONE);
      const m = await mount(t, user, { args: ['--source', store, '--cache', mode] });
      const file = path.join(m.dir, 'f');
      assert.equal(await cat(m, file), ONE);
      const again = await counted(m, async () => assert.equal(await cat(m, file), ONE));
      assert.equal(again.open, 1, 'the second cat opened the file through the daemon');
      if (kept) assert.equal(again.read, 0, 'with --cache always the second read came from the page cache');
      else assert.ok(again.read! > 0, `with --cache ${mode} the second read reached the daemon`);
      assert.equal(again.flush, 0, 'close sent no FLUSH');
      if (kept) return; // always: a store nothing changes behind
      // A rewrite behind the mount, as an installer does: same size, another mtime.
      fs.writeFileSync(path.join(store, 'f'), TWO);
      const st = fs.statSync(path.join(store, 'f'));
      fs.utimesSync(path.join(store, 'f'), st.atime, new Date(st.mtimeMs + 5000));
      assert.equal(await cat(m, file), TWO);
    });
  }

  // A name created behind a --source mount is seen by the next lookup (missing names are never kept there).
  // One removed, renamed or replaced behind it: at once with --cache never; with auto the kernel may keep
  // the old name for --entry-timeout (1 s), so the test waits for it (a bound of minutes, not a clock).
  for (const mode of ['auto', 'never'] as const) {
    test(`--cache ${mode}, --source: a name created behind the mount is seen by the next lookup; one removed, renamed or replaced ${mode === 'never' ? 'too' : 'within --entry-timeout'}`, T, async (t) => {
      const store = tempDir(t, user, 'varsymfs-store-');
      const m = await mount(t, user, { args: ['--source', store, '--cache', mode] });
      const stat = async (name: string) => (await m.run('python3', ['-c', STATS, path.join(m.dir, name), '1'])).stdout.trim();
      const seen = async (name: string, want: string, what: string) => {
        if (mode === 'never') assert.equal(await stat(name), want, what);
        else {
          let last = '';
          assert.ok(await waitForAsync(async () => (last = await stat(name)) === want), `${what}: ${last}`);
        }
      };
      assert.equal(await stat('go1.22'), 'missing');
      fs.mkdirSync(path.join(store, 'go1.22'));
      assert.equal(await stat('go1.22'), 'found', 'a directory created behind the mount');
      fs.renameSync(path.join(store, 'go1.22'), path.join(store, 'go1.23'));
      assert.equal(await stat('go1.23'), 'found', 'the new name of a directory renamed behind the mount');
      await seen('go1.22', 'missing', 'the old name of a directory renamed behind the mount');
      fs.rmdirSync(path.join(store, 'go1.23'));
      await seen('go1.23', 'missing', 'a directory removed behind the mount');
      fs.writeFileSync(path.join(store, 'go1.23'), 'a file now');
      let text = '';
      const read = async () => (text = (await m.run('cat', [path.join(m.dir, 'go1.23')])).stdout) === 'a file now';
      if (mode === 'never') assert.ok(await read(), `a directory replaced by a file behind the mount: ${text}`);
      else assert.ok(await waitForAsync(read), `a directory replaced by a file behind the mount: ${text}`);
    });
  }

  // Only a variant link's answer depends on the caller: the kernel keeps every other entry's attributes,
  // never a variant link's. Ten pairs of processes within a second, each with its own environment.
  test('two processes with different environments lstat the same variant link within one second: each sees its own st_size; readlink after the variable changes in a long-lived shell gives the new answer', T, async (t) => {
    const m = await mount(t, user, { setup: (dir) => fs.symlinkSync('$<GOV>', path.join(dir, 'go')) });
    const link = path.join(m.dir, 'go');
    const pairs = await m.run('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do GOV=a stat -c %s "$1"; GOV=go1.22.3 stat -c %s "$1"; done', 'sh', link]);
    assert.equal(pairs.code, 0, pairs.stderr);
    assert.equal(pairs.stdout, '1\n8\n'.repeat(10));
    const shell = await m.run('sh', ['-c', 'GOV=go1.21; export GOV; readlink "$1"; GOV=go1.22; readlink "$1"; unset GOV; GOV=go1.23 readlink "$1"', 'sh', link]);
    assert.equal(shell.code, 0, shell.stderr);
    assert.equal(shell.stdout, 'go1.21\ngo1.22\ngo1.23\n');
  });

  // Hard links, renames and unlinks through the mount, and what the kernel then shows of them at once.
  test('unlink, rename and hard links through the mount are seen at once, whatever the kernel keeps', T, async (t) => {
    const m = await mount(t, user, { args: ['--cache', 'always'] });
    const a = path.join(m.dir, 'a');
    const sh = await m.run('sh', ['-c', [
      'echo one > "$1/a"', 'ln "$1/a" "$1/b"', 'stat -c %h "$1/a"', 'echo two >> "$1/b"', 'cat "$1/a"',
      'mv "$1/b" "$1/c"', 'test -e "$1/b" || echo "b gone"', 'cat "$1/c"', 'rm "$1/a"', 'stat -c %h "$1/c"',
      'test -e "$1/a" || echo "a gone"', 'mkdir "$1/d"', 'mv "$1/c" "$1/d/e"', 'cat "$1/d/e"', 'rm -r "$1/d"', 'ls -A "$1"',
    ].join('; '), 'sh', m.dir]);
    assert.equal(sh.code, 0, sh.stderr);
    assert.equal(sh.stdout, '2\none\ntwo\nb gone\none\ntwo\n1\na gone\none\ntwo\n');
    assert.equal(fs.existsSync(a), false);
  });

  for (const mode of ['auto', 'never'] as const) {
    test(`--cache ${mode}, in place: a missing name is ${mode === 'auto' ? 'kept by the kernel' : 'asked every time'}; one created through the mount is seen at once`, T, async (t) => {
      const m = await mount(t, user, { args: ['--cache', mode] });
      const name = path.join(m.dir, 'missing');
      let out = '';
      // 100 stats in one tight loop: with the name kept (1 s), nearly all are answered by the kernel.
      const asked = await counted(m, async () => void (out = (await m.run('python3', ['-c', STATS, name, '100'])).stdout));
      assert.equal(out, 'missing\n'.repeat(100));
      if (mode === 'auto') assert.ok(asked.getattr! < 50, `getattr requests for 100 stats of a missing name: ${asked.getattr}`);
      else assert.ok(asked.getattr! >= 100, `getattr requests for 100 stats of a missing name: ${asked.getattr}`);
      const touch = await m.run('touch', [name]);
      assert.equal(touch.code, 0, touch.stderr);
      assert.equal((await m.run('python3', ['-c', STATS, name, '1'])).stdout, 'found\n');
      const rm = await m.run('rm', [name]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal((await m.run('python3', ['-c', STATS, name, '1'])).stdout, 'missing\n');
    });
  }
});
