// Each documented limit at the limit, one below and one above, through a real mount (docs/testing.md,
// "Claims and their tests"): an expansion of 4095 bytes is a path and 4096 is ENAMETOOLONG (docs/security.md,
// link targets), a pending exec's string of exactly MAX_ARG_STRLEN (128 KiB with its NUL) is read and one
// byte more is the kernel's own E2BIG (the pending-exec bounds), rmdir cleans libfuse's hidden files of
// exactly 16 hex digits and no other length (acting as the caller), and a caller in 1024 supplementary groups
// is served while one in 1025 is refused (acting as the caller).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { callers, compileCallers, ERRNO } from './helpers/callers';
import { mount, whichProgramStore } from './helpers/mount';
import { rootUser, testUsers } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
/** A second unprivileged identity, by raw ids (no account needed). */
const OTHER_UID = 47111;
const GROUP = 4711;
/** MAX_ARG_STRLEN: the kernel's bound on one exec string, its NUL counted. */
const MAX_ARG_STRLEN = 32 * 4096;

compileCallers();

for (const [label, user] of testUsers()) {
  describe(label, () => {
    test('an expansion of 4094 and 4095 bytes reads back whole; 4096 is ENAMETOOLONG, read after read', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => fs.symlinkSync('$<V>', path.join(d, 'l')) });
      const l = path.join(m.dir, 'l');
      for (const [size, want] of [[4094, null], [4095, null], [4096, ERRNO.ENAMETOOLONG]] as const) {
        const value = 'v'.repeat(size);
        // Twice in one process: the first answer comes from JS, the second from the memo (a cached caller).
        const r = await m.run(callers.bin, ['readlink', l, l], { V: value });
        const expected = want === null ? `${value}\n` : `ERR ${want}\n`;
        assert.equal(r.stdout, expected.repeat(2), `an expansion of ${size} bytes: ${r.stdout.slice(0, 40)}… ${r.stderr}`);
        // Twice in one process too: the second lstat of a cached caller is answered from the memo.
        const st = await m.run('stat', ['-c', '%s', l, l], { V: value });
        assert.equal(st.stdout, `${size}\n`.repeat(2), `lstat's size of an expansion of ${size} bytes`);
        // `varsymfs resolve` (JS's own expansion, never through the mount's reply) draws the same line.
        const said = await m.cli(['resolve', l], { ...m.env, V: value });
        const text = said.stdout + said.stderr;
        if (want === null) assert.ok(!text.includes('too long') && text.includes(value), `resolve, ${size} bytes: ${text.slice(0, 80)}`);
        else assert.ok(text.includes(`too long: ${size} bytes`), `resolve, ${size} bytes: ${text.slice(0, 80)}`);
      }
    });

    test('rmdir cleans only libfuse\'s exact hidden-file form: .fuse_hidden and 16 hex digits, not 15 or 17', T, async (t) => {
      const m = await mount(t, user);
      for (const digits of [15, 16, 17]) {
        const d = path.join(m.dir, `d${digits}`);
        const name = `.fuse_hidden${'0123456789abcdef0'.slice(0, digits)}`;
        assert.equal((await m.run('sh', ['-c', 'mkdir "$0" && echo notes > "$0/$1"', d, name])).code, 0);
        const r = await m.run('rmdir', [d]);
        if (digits === 16) {
          assert.equal(r.code, 0, `libfuse's own form is its leftover: ${r.stderr}`);
        } else {
          assert.notEqual(r.code, 0, `${digits} hex digits: a file of the user's, so the directory is not empty`);
          assert.equal((await m.run('cat', [path.join(d, name)])).stdout, 'notes\n');
        }
      }
    });

    test('a pending exec with a string of exactly 128 KiB is read; one byte less too; one more is the kernel\'s E2BIG', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => whichProgramStore(d, callers.bin) });
      const prog = path.join(m.dir, 'd', 'prog');
      // The exec'ing program's own environment says B: only the pending exec's (after the big string) says A.
      for (const len of [MAX_ARG_STRLEN - 1, MAX_ARG_STRLEN]) {
        const r = await m.run(callers.bin, ['execstr', prog, String(len), 'V=A'], { V: 'B' });
        assert.equal(r.stdout, 'A\n', `a string of ${len} bytes: ${r.stderr}`);
      }
      const over = await m.run(callers.bin, ['execstr', prog, String(MAX_ARG_STRLEN + 1), 'V=A'], { V: 'B' });
      assert.equal(over.stdout, `exec failed: ${ERRNO.E2BIG}\n`, over.stderr);
    });
  });
}

describe('supplementary groups (a root daemon serving others)', { skip: !root ? 'needs root' : false }, () => {
  test('a caller in 1023 or 1024 groups is served with all of them; one in 1025 is refused', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: (d) => {
      fs.chmodSync(d, 0o755);
      fs.writeFileSync(path.join(d, 'f'), 'group data');
      fs.chownSync(path.join(d, 'f'), 0, GROUP);
      fs.chmodSync(path.join(d, 'f'), 0o640);
    } });
    const f = path.join(m.dir, 'f');
    const cat = (n: number, where: 'first' | 'last') => m.run(callers.bin, ['groups', String(n), where, String(GROUP), String(OTHER_UID), 'cat', f]);
    // The group that grants the read is the last one: a list cut short would lose it.
    for (const n of [1023, 1024]) {
      const r = await cat(n, 'last');
      assert.equal(r.stdout, 'group data', `${n} groups: ${r.stderr}`);
    }
    // The kernel lets it in (its group is the first); the daemon cannot know all its groups: refused, never
    // served with the first 1024 (fewer groups can grant more: a group-deny ACL entry).
    const over = await cat(1025, 'first');
    assert.equal(over.code, 1, over.stdout);
    assert.match(over.stderr, /Permission denied/);
  });
});
