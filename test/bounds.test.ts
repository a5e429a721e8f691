// Bounds on what one caller can make the daemon do (issue 17, items 3 and 4): an expansion's length is known
// before it is built; through real mounts, as root and as the unprivileged test user.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { mount, tempDir } from './helpers/mount';
import { describeEachUser } from './helpers/users';

const T = { timeout: 180000 };

/** A node one-liner printing the link's target length, or the error code readlink gave. */
const READLINK = `try { process.stdout.write(String(require('fs').readlinkSync(process.argv[1]).length)); } catch (e) { process.stdout.write(e.code); }`;

/** The daemon's peak resident set (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

describeEachUser((user) => {
  test('an expansion over PATH_MAX is ENAMETOOLONG, and the daemon never builds it', T, async (t) => {
    // 1023 references in a 4 092-byte target, each naming a 127 KiB value: naively a 133 MB expansion.
    const target = '$<A>'.repeat(1023);
    const m = await mount(t, user, { dir: tempDir(t, user, 'bounds-'), setup: (d) => fs.symlinkSync(target, path.join(d, 'huge')) });
    const big = 'x'.repeat(130000);
    const before = peakRss(m.pid);
    const link = path.join(m.dir, 'huge');
    // Several fresh callers: each a new environment, so each a memo miss resolved in JS.
    for (let i = 0; i < 4; i++) {
      const r = await m.run(process.execPath, ['-e', READLINK, link], { A: big, I: String(i) });
      assert.equal(r.stdout, 'ENAMETOOLONG', r.stderr);
    }
    const st = await m.run('stat', ['-c', '%s', link], { A: big });
    assert.equal(st.stdout.trim(), String(1023 * big.length), 'lstat tells the length it would have');
    const grew = peakRss(m.pid) - before;
    assert.ok(grew < 32 * 1024 * 1024, `the daemon's peak memory grew by ${grew} bytes resolving a link it must refuse`);
  });

  test('the boundary: an expansion of 4 095 bytes is answered, 4 096 is ENAMETOOLONG', T, async (t) => {
    const m = await mount(t, user, { dir: tempDir(t, user, 'bounds-'), setup: (d) => fs.symlinkSync('/$<A>', path.join(d, 'edge')) });
    const link = path.join(m.dir, 'edge');
    for (const [len, want] of [[4095, '4095'], [4096, 'ENAMETOOLONG'], [4094, '4094']] as const) {
      const value = 'y'.repeat(len - 1);
      const r = await m.run(process.execPath, ['-e', READLINK, link], { A: value });
      assert.equal(r.stdout, want, `${len} bytes: ${r.stderr}`);
      const st = await m.run('stat', ['-c', '%s', link], { A: value });
      assert.equal(st.stdout.trim(), String(len), `${len} bytes: lstat's size`);
    }
  });
});
