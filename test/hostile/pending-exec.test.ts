// The pending exec under attack (src/binding/envp.c): an envp that crosses page boundaries or is not aligned
// is read exactly, one in a file's page is refused and never read, one too big is the kernel's E2BIG (issue
// 9, finding 6; the native-path review, J: "At e111b13" says what it did there).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { T, attack, hostile, useFixtures } from '../helpers/hostile';
import { mount, whichProgramStore } from '../helpers/mount';
import { testUsers } from '../helpers/users';

useFixtures();

for (const [label, user] of testUsers()) {
  describe(`${label}`, () => {
    test('6. pending exec: an envp crossing page boundaries reads exactly; one in a file\'s page is refused, never read', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => whichProgramStore(d, hostile) });
      const prog = path.join(m.dir, 'd', 'prog');
      // The exec'ing program's own environment says B: only the pending exec's may say A.
      assert.equal((await m.run(hostile, ['exec', 'straddle', prog, 'V=A'], { V: 'B' })).stdout, 'A\n');
      assert.equal((await m.run(hostile, ['exec', 'filebacked', prog, 'V=A'], { V: 'B' })).stdout, 'C\n', 'refused: neither the file page (A) nor the old environment (B)');
      const big = await m.run(hostile, ['exec', 'big', prog, 'V=A'], { V: 'B' });
      assert.match(big.stdout, /exec failed: 7\n/, 'the kernel refuses it too (E2BIG)');
      assert.equal((await m.run('readlink', [path.join(m.dir, 'd')], { V: 'A' })).stdout, 'A\n', 'the mount still answers');
    });

    test('J. pending exec: an unaligned envp crossing a page boundary reads exactly (the kernel accepted it)', T, async (t) => {
      const m = await mount(t, user, { setup: (d) => whichProgramStore(d, hostile) });
      // At e111b13: "C" (refused: the 8-byte slot straddles a window, read_window returns < 8 bytes).
      assert.equal((await m.run(attack, ['misalign', path.join(m.dir, 'd', 'prog'), 'V=A'], { V: 'B' })).stdout, 'A\n');
    });
  });
}
