// The /proc parsers the daemon and the exec-env helper share (src/binding/procfs.c), met through real
// mounts by callers whose /proc files are unusual: what a caller controls (its inode numbers on a FUSE
// mount it serves, its supplementary groups) must not make either reader answer differently.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GO_THROUGH_LINK, goVersionsStore } from './helpers/execenv';
import { mount, onCleanup, tempDir, whichProgramStore } from './helpers/mount';
import { PROJECT_BIN, baseEnv, plainUser, rootUser, run } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();
const skip = !root || !plain || plain.uid === 0 ? 'needs root (FUSE server, helper install) and the unprivileged test user' : false;

// execve(PROG) with an envp whose one string lies in a private mapping of FILE (never written: a file page).
const EXEC_FROM_FILE = `
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
f = open(sys.argv[1], 'rb')
m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
buf = (ctypes.c_char * len(m)).from_buffer(m)
envp = (ctypes.c_char_p * 2)(ctypes.cast(ctypes.addressof(buf), ctypes.c_char_p), None)
argv = (ctypes.c_char_p * 2)(sys.argv[2].encode(), None)
libc.execve(sys.argv[2].encode(), argv, envp)
print('exec failed', ctypes.get_errno())
`;

/** test/helpers/inozerofs.ts mounted by root for `t`: its /envdata holds `bytes` and reports inode 0. */
async function inodeZeroFile(t: Parameters<typeof mount>[0], bytes: Buffer): Promise<string> {
  const dir = tempDir(t, root!, 'varsymfs-inozero-');
  const child = spawn(process.execPath, [path.join(__dirname, 'helpers', 'inozerofs.js'), dir, bytes.toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
  onCleanup(t, async () => {
    child.stdin!.end();
    if (child.exitCode === null) await new Promise((r) => child.on('close', r));
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => ((out += d.toString()), out.includes('ready\n') && resolve()));
    child.on('close', (code) => reject(new Error(`inozerofs exited (${code}) before it was ready`)));
  });
  const file = path.join(dir, 'envdata');
  assert.equal(fs.statSync(file).ino, 0, 'the FUSE server chose inode 0');
  return file;
}

describe('the /proc readers of the daemon and the helper', { skip }, () => {
  let helper = '';
  let hostile = '';
  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-hostile-'));
    fs.chmodSync(dir, 0o755);
    hostile = path.join(dir, 'hostile');
    const cc = spawnSync('gcc', ['-O1', '-pthread', '-o', hostile, path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'hostile.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `gcc: ${cc.stderr}`);
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-helper-'));
    fs.chmodSync(base, 0o755);
    const r = await run(root!, PROJECT_BIN, ['setup', '--dir', path.join(base, 'libexec')]);
    assert.equal(r.code, 0, r.stderr);
    helper = path.join(base, 'libexec', 'varsymfs-execenv');
  });
  after(() => {
    if (hostile !== '') fs.rmSync(path.dirname(hostile), { recursive: true, force: true });
    if (helper !== '') fs.rmSync(path.dirname(path.dirname(helper)), { recursive: true, force: true });
  });

  // /proc/<tid>/maps and PROCMAP_QUERY show a FUSE file's inode as its server chose it: an inode of 0 is
  // no proof of anonymous memory (the page could stall on the caller's own server), its name and device are.
  for (const [how, env] of [['the daemon', {}], ['the helper', { VARSYMFS_NO_DIRECT_PTRACE: '1' }]] as const) {
    test(`maps: envp in a file page whose inode number is 0 is refused by ${how}, as any file page`, T, async (t) => {
      const file = await inodeZeroFile(t, Buffer.from('V=A\0'));
      const m = await mount(t, plain!, { setup: (d) => whichProgramStore(d, hostile), env: { ...env, VARSYMFS_EXECENV_HELPER: helper } });
      // The program prints which of A, B, C the kernel found it in (test/fixtures/hostile.c, no arguments).
      const r = await m.run('python3', ['-c', EXEC_FROM_FILE, file, path.join(m.dir, 'd', 'prog')], { V: 'B' });
      assert.equal(r.stdout, 'C\n', `refused: neither the file page (A) nor the old environment (B); ${r.stderr}`);
    });
  }

  // /proc/<tid>/status lists the supplementary groups before CapPrm: a caller in many groups has a status
  // past 8 KiB, which must still be read whole (the daemon's bound, 1 MiB), never cut short.
  for (const [how, env] of [['the daemon', {}], ['the helper', { VARSYMFS_NO_DIRECT_PTRACE: '1' }]] as const) {
    test(`status: a caller in 1000 groups (a status past 8 KiB) gets its pending exec through ${how}`, T, async (t) => {
      const m = await mount(t, plain!, { setup: goVersionsStore, env: { ...env, VARSYMFS_EXECENV_HELPER: helper } });
      const groups = Array.from({ length: 1000 }, (_, i) => String(2000000000 + i)).join(',');
      const cmd = ['--reuid', String(plain!.uid), '--regid', String(plain!.gid), '--groups', groups, '--', '/usr/bin/env', 'sh', '-c', GO_THROUGH_LINK, m.dir];
      const r = await run(root!, 'setpriv', cmd, { ...baseEnv(plain!), GO_VERSION: 'go1.0.3' });
      assert.equal(r.stdout, 'go1.2.1\ngo1.0.3\n', r.stderr);
    });
  }
});

