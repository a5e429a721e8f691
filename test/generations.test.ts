// Environment generations never wrap into another caller's memoized answers (issue 17, item 9). Every
// fresh read of a caller's environment takes a new generation, the memo's key for that environment's
// answers; were the counter to come round to a generation a live caller still holds, another caller's
// answer would be kept under it. VARSYMFS_TEST_GENERATION_STRIDE moves the counter by 2^31 per read, so
// a 32-bit counter would come round after two reads.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { isMounted, mount, tempDir } from './helpers/mount';
import { asUser, baseEnv, plainUser, rootUser, run } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();
const skip = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;

// Reads the link, prints it, then again at each line on stdin: one process, one environment generation.
const HOLD = `
import os, sys
print(os.readlink(sys.argv[1]), flush=True)
for _ in sys.stdin:
    print(os.readlink(sys.argv[1]), flush=True)
`;

describe('environment generations', { skip }, () => {
  test('a caller holding a generation keeps its own answer however many generations others take after it', T, async (t) => {
    const m = await mount(t, root!, {
      args: ['--allow-other'],
      env: { VARSYMFS_TEST_GENERATION_STRIDE: String(2 ** 31) },
      setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('$<X>', path.join(d, 'l'))),
    });
    const link = path.join(m.dir, 'l');
    const [file, argv] = asUser(root!, 'python3', ['-c', HOLD, link]);
    const holder = spawn(file, argv, { env: { ...baseEnv(root!), X: 'root-value' }, stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => holder.kill('SIGKILL'));
    const lines: string[] = [];
    let more: () => void = () => {};
    holder.stdout.setEncoding('utf8').on('data', (d: string) => (lines.push(...d.split('\n').filter(Boolean)), more()));
    const nextLine = (n: number) => new Promise<void>((resolve) => ((more = () => lines.length >= n && resolve()), more()));
    await nextLine(1);
    assert.equal(lines[0], 'root-value');
    // Two callers of the other user, each reading twice (a fresh read: a new generation; then a cached
    // one, answered from the memo): whatever else took a generation meanwhile, one of them lands where a
    // 32-bit counter wraps to the holder's.
    for (let i = 0; i < 2; i++) {
      const r = await run(plain!, 'python3', ['-c', 'import os,sys; print(os.readlink(sys.argv[1])); print(os.readlink(sys.argv[1]))', link], { X: `plain-value-${i}` });
      assert.equal(r.stdout, `plain-value-${i}\nplain-value-${i}\n`, `another user got the holder's memoized answer: ${r.stderr}`);
    }
    holder.stdin.write('again\n');
    await nextLine(2);
    assert.equal(lines[1], 'root-value', 'the holder got another user\'s memoized answer');
    holder.stdin.end();
  });

  test('a stride that is not a positive integer is one line at mount, and nothing is mounted', T, async (t) => {
    const dir = tempDir(t, root!);
    const r = await run(root!, root!.bin, ['mount', dir], { VARSYMFS_TEST_GENERATION_STRIDE: '0x10', XDG_STATE_HOME: tempDir(t, root!, 'varsymfs-state-') });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error: VARSYMFS_TEST_GENERATION_STRIDE must be a positive integer below 2^53, not "0x10"\n');
    assert.equal(isMounted(dir), false);
  });
});
