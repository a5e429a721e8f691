// The exec-env helper (issue 13): installed by `varsymfs setup` with CAP_SYS_PTRACE, driven directly
// (its answer and each refusal, with real processes held inside execve by a stalling FUSE mount), and
// used by real mounts with the daemon's own ptrace reads switched off (VARSYMFS_NO_DIRECT_PTRACE=1, which
// is what kernel.yama.ptrace_scope=1 does to a normal user's daemon; this kernel has no Yama).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GO_THROUGH_LINK, PROTOCOL, goVersionsStore, rootFile, stallMount, startHelper, startProcess } from './helpers/execenv';
import { mount, tempDir, waitFor } from './helpers/mount';
import { PROJECT_BIN, plainUser, rootUser, run, testUsers, type TestUser } from './helpers/users';

const E = os.constants.errno;
const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();

// The process questioned: waits (until the test kills it), or execs `target` (on the stalling mount) with a chosen environment.
/** A gid no account has. */
const OTHER_GID = 47111;

const SUBJECT = `
import ctypes, mmap, os, signal, sys
mode, target = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
if mode in ('sleep', 'nondumpable'):
    if mode == 'nondumpable': libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    print('ok', flush=True)
    while True: signal.pause()  # until the test kills it
if mode == 'file':
    # envp's one string lies in a private mapping of a file
    f = open(sys.argv[3], 'rb')
    m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    buf = (ctypes.c_char * len(m)).from_buffer(m)
    envp = (ctypes.c_char_p * 2)(ctypes.cast(ctypes.addressof(buf), ctypes.c_char_p), None)
    argv = (ctypes.c_char_p * 2)(target.encode(), None)
    print('ok', flush=True); libc.execve(target.encode(), argv, envp); sys.exit(1)
env = {'env': {'A': 'x', 'B': 'y=z'}, 'big': {'V%d' % i: 'x' * 100000 for i in range(70)}, 'long': {'V': 'x' * 200000}}[mode]
print('ok', flush=True)
os.execve(target, [target], env)
`;

let names = 0;
/** A process of `user` inside execve of a path on `stall` (held there until released), or asleep. Each
 * gets a directory of its own (see stallfs.ts). */
async function subject(t: Parameters<typeof startProcess>[0], user: TestUser, mode: string, stall?: Awaited<ReturnType<typeof stallMount>>, extra: string[] = []): Promise<number> {
  const child = await startProcess(t, user, SUBJECT, [mode, stall ? path.join(stall.dir, 'hold', String(++names), 'x') : '/nonexistent', ...extra]);
  if (stall) await stall.held();
  return child.pid!;
}

describe('exec-env helper', { skip: root === undefined ? 'only root can give the helper its capability (npm test runs as root in CI)' : false }, () => {
  let installDir = '';
  let helper = '';
  before(async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-helper-'));
    fs.chmodSync(base, 0o755);
    installDir = path.join(base, 'libexec');
    const r = await run(root!, PROJECT_BIN, ['setup', '--dir', installDir]);
    assert.equal(r.code, 0, r.stderr);
    helper = path.join(installDir, 'varsymfs-execenv');
  });
  after(() => fs.rmSync(path.dirname(installDir), { recursive: true, force: true }));

  test('the protocol constants the tests use are execenv_protocol.h\'s', () => {
    const h = fs.readFileSync(path.resolve(__dirname, '..', '..', 'src', 'binding', 'execenv_protocol.h'), 'utf8');
    assert.match(h, new RegExp(`#define EXECENV_MAGIC 0x${PROTOCOL.magic.toString(16)}u`));
    assert.match(h, new RegExp(`#define EXECENV_VERSION ${PROTOCOL.version}u`));
    assert.match(h, /#define EXECENV_MAX_BYTES VSF_EXEC_MAX_BYTES/);
    const envp = fs.readFileSync(path.resolve(__dirname, '..', '..', 'src', 'binding', 'envp.h'), 'utf8');
    assert.match(envp, /#define VSF_EXEC_MAX_BYTES \(6u << 20\)/, 'the bound the daemon and the helper share');
  });

  test('setup installs it root-owned, 0755, with cap_sys_ptrace=ep; a normal user is refused in one line; --remove undoes it', T, async (t) => {
    const st = fs.statSync(helper);
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o7777, 0o755);
    const getcap = await run(root!, 'getcap', [helper]);
    assert.match(getcap.stdout, /cap_sys_ptrace[=+]ep/);
    if (plain) {
      const r = await run(plain, plain.bin, ['setup']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'Error: setup must run as root: sudo varsymfs setup\n');
    }
    const other = path.join(tempDir(t, root!, 'varsymfs-setup-'), 'x');
    assert.equal((await run(root!, PROJECT_BIN, ['setup', '--dir', other])).code, 0);
    const removed = await run(root!, PROJECT_BIN, ['setup', '--remove', '--dir', other]);
    assert.equal(removed.stdout, `removed ${other}/varsymfs-execenv\n`);
    assert.equal(fs.existsSync(other), false);
    const inModules = await run(root!, PROJECT_BIN, ['setup', '--dir', path.join(other, 'node_modules', 'x')]);
    assert.match(inModules.stderr, /^Error: .* is inside node_modules, which npm replaces; choose a system directory\n$/);
  });

  for (const [label, user] of testUsers()) {
    test(`${label}: answers with the envp strings of its own user's process inside execve, 0 when not in execve`, T, async (t) => {
      const stall = await stallMount(t);
      const h = startHelper(t, user, helper);
      assert.deepEqual(await h.hello(), { magic: PROTOCOL.magic, version: PROTOCOL.version, status: 0, uid: user.uid });
      const inExec = await subject(t, user, 'env', stall);
      const a = await h.ask(inExec);
      process.stdout.write(`# helper answer for a process inside execve: ${JSON.stringify({ status: a.status, env: a.env?.toString('latin1') })}\n`);
      assert.equal(a.status, 1);
      assert.equal(a.env!.toString('latin1'), 'A=x\0B=y=z\0');
      const asleep = await subject(t, user, 'sleep');
      assert.deepEqual(await h.ask(asleep), { status: 0 });
      stall.release();
    });
  }

  test('refusals, by number: another uid, another gid, not dumpable, oversize, a string too long, file-backed envp, gone, tid 0', T, async (t) => {
    const user = plain ?? root!;
    const stall = await stallMount(t);
    const h = startHelper(t, user, helper);
    assert.equal((await h.hello()).status, 0);
    const results: Record<string, number> = {};
    const ask = async (what: string, tid: number) => (results[what] = (await h.ask(tid)).status);
    if (plain) await ask('another uid', await subject(t, root!, 'sleep'));
    // The caller's uid, another gid: refused by the helper's own check, not only by the kernel's (EACCES).
    if (plain) await ask('another gid', await subject(t, { ...plain, gid: OTHER_GID }, 'sleep'));
    if (plain) await ask('not dumpable', await subject(t, user, 'nondumpable'));
    await ask('over 6 MiB', await subject(t, user, 'big', stall));
    await ask('a string over 128 KiB', await subject(t, user, 'long', stall));
    await ask('file-backed', await subject(t, user, 'file', stall, [rootFile(t, Buffer.from('A=from-a-file\0'))]));
    const gone = await startProcess(t, user, 'print("ok")');
    await new Promise((r) => (gone.exitCode !== null ? r(null) : gone.on('close', r)));
    await ask('gone', gone.pid!);
    await ask('tid 0', 0);
    stall.release();
    process.stdout.write(`# helper refusals: ${JSON.stringify(results)}\n`);
    assert.deepEqual(results, {
      ...(plain ? { 'another uid': -E.EPERM!, 'another gid': -E.EPERM!, 'not dumpable': -E.EACCES! } : {}),
      'over 6 MiB': -E.E2BIG!, 'a string over 128 KiB': -E.E2BIG!, 'file-backed': -E.ENXIO!, gone: -E.ESRCH!, 'tid 0': -E.EINVAL!,
    });
  });

  test('as root: another user\'s process is refused too', { ...T, skip: plain === undefined }, async (t) => {
    const h = startHelper(t, root!, helper);
    assert.equal((await h.hello()).status, 0);
    assert.deepEqual(await h.ask(await subject(t, plain!, 'sleep')), { status: -E.EPERM! });
  });

  test('exits when its input closes; refuses arguments; a copy without the capability says so and exits', T, async (t) => {
    const user = plain ?? root!;
    const h = startHelper(t, user, helper);
    assert.equal((await h.hello()).status, 0);
    assert.deepEqual(await h.close(), { code: 0, stderr: '' });
    const withArg = await startHelper(t, user, helper, ['--tid=1']).exited;
    assert.equal(withArg.code, 2);
    assert.match(withArg.stderr, /^varsymfs-execenv: takes no arguments.*\n$/);
    if (plain) {
      const copy = path.join(tempDir(t, root!, 'varsymfs-nocap-'), 'varsymfs-execenv');
      fs.copyFileSync(helper, copy);  // a copy loses the capability
      const n = startHelper(t, plain, copy);
      assert.equal((await n.hello()).status, -E.EPERM!);
      assert.match((await n.exited).stderr, /runs without CAP_SYS_PTRACE \(install it with: sudo varsymfs setup\)/);
    }
  });

  for (const [label, user] of testUsers()) {
    describe(label, () => {
      test('with direct reads off, pending exec works through the helper; status and explain say so', T, async (t) => {
        const m = await mount(t, user, { setup: goVersionsStore, env: { VARSYMFS_NO_DIRECT_PTRACE: '1', VARSYMFS_EXECENV_HELPER: helper } });
        assert.equal(m.output.stderr, '');
        const r = await m.run('sh', ['-c', GO_THROUGH_LINK, m.dir], { GO_VERSION: 'go1.0.3' });
        assert.equal(r.stdout, 'go1.2.1\ngo1.0.3\n', r.stderr);
        const s = JSON.parse((await m.cli(['status', m.dir, '--json'])).stdout)[0].pendingExec;
        assert.equal(s.state, 'via helper');
        assert.equal(s.helper, helper);
        assert.ok(s.helperStats.answered >= 1, JSON.stringify(s));
        const text = (await m.cli(['status', m.dir])).stdout;
        assert.match(text, /\n {2}pending exec via helper .*varsymfs-execenv \(reading callers' memory directly is switched off/);
        const explain = await m.cli(['resolve', path.join(m.dir, 'go'), '--explain'], { GO_VERSION: 'go1.0.3' });
        assert.match(explain.stdout, /\npending exec available \(through the exec-env helper\)\n/);
      });

      test('no helper: one warning line at mount; status and explain say why and what to do; the command falls back', T, async (t) => {
        const m = await mount(t, user, { setup: goVersionsStore, env: { VARSYMFS_NO_DIRECT_PTRACE: '1', VARSYMFS_EXECENV_HELPER: '/nonexistent/varsymfs-execenv' } });
        process.stdout.write(`# mount said: ${m.output.stderr}`);
        assert.match(m.output.stderr, /^Warning: pending exec is unavailable: reading callers' memory directly is switched off \(VARSYMFS_NO_DIRECT_PTRACE=1\), and the exec-env helper is not installed \(no \/nonexistent\/varsymfs-execenv\)\. A variable set for one command \(GO_VERSION=x ~\/vs\/go\/bin\/go\) falls back to the shell's own environment\. Fix: sudo varsymfs setup, then remount\n$/);
        const r = await m.run('sh', ['-c', GO_THROUGH_LINK, m.dir], { GO_VERSION: 'go1.0.3' });
        assert.equal(r.stdout, 'go1.0.3\ngo1.0.3\n', r.stderr);
        const s = JSON.parse((await m.cli(['status', m.dir, '--json'])).stdout)[0].pendingExec;
        assert.equal(s.state, 'unavailable');
        assert.equal(s.fix, 'sudo varsymfs setup, then remount');
        assert.match((await m.cli(['status', m.dir])).stdout, /\n {2}pending exec unavailable \(.*\); fix: sudo varsymfs setup, then remount\n/);
        const explain = await m.cli(['resolve', path.join(m.dir, 'go'), '--explain'], { GO_VERSION: 'go1.0.3' });
        assert.match(explain.stdout, /\npending exec denied: reading callers' memory directly is switched off .*the process's own environment was used\. Fix: sudo varsymfs setup, then remount\n/);
      });
    });
  }

  test('the helper exits when its daemon dies', T, async (t) => {
    const user = plain ?? root!;
    const m = await mount(t, user, { setup: goVersionsStore, env: { VARSYMFS_NO_DIRECT_PTRACE: '1', VARSYMFS_EXECENV_HELPER: helper } });
    const children = fs.readdirSync(`/proc/${m.pid}/task`).flatMap((tid) => fs.readFileSync(`/proc/${m.pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    const helpers = children.filter((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8') === 'varsymfs-execen\n');
    assert.equal(helpers.length, 1, `children of the daemon: ${children.join(' ')}`);
    process.kill(m.pid, 'SIGKILL');
    // Gone, or a zombie waiting for whoever adopted it.
    const ended = (pid: number) => !fs.existsSync(`/proc/${pid}`) || /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    assert.ok(await waitFor(() => ended(helpers[0]!)), 'the helper outlived its daemon');
  });

  for (const [name, errno] of [['ENXIO', E.ENXIO!], ['EFAULT', E.EFAULT!], ['E2BIG', E.E2BIG!], ['EAGAIN', E.EAGAIN!]] as const) {
    test(`a helper that refuses a pending exec (${name}): the exec falls back as the direct path does, to no environment, never the old one`, T, async (t) => {
      // A stand-in helper: passes the self-probe (a question about its parent), then refuses every question.
      const dir = tempDir(t, root!, 'varsymfs-refusing-');
      const refusing = path.join(dir, 'refusing-helper');
      fs.writeFileSync(refusing, `#!/usr/bin/python3
import os, struct
os.write(1, struct.pack('<IIiI', ${PROTOCOL.magic}, ${PROTOCOL.version}, 0, os.getuid()))
while True:
    q = os.read(0, 8)
    if len(q) < 8: break
    seq, tid = struct.unpack('<Ii', q)
    os.write(1, struct.pack('<IiII', seq, 0 if tid == os.getppid() else -${errno}, 0, 0))
`, { mode: 0o755 });
      const user = plain ?? root!;
      const m = await mount(t, user, { setup: goVersionsStore, args: ['--default', 'GO_VERSION=go1.2.1'], env: { VARSYMFS_NO_DIRECT_PTRACE: '1', VARSYMFS_EXECENV_HELPER: refusing } });
      assert.equal(m.output.stderr, '');
      // The shell's own environment says go1.0.3; the refused exec must get the mount default instead.
      const r = await m.run('sh', ['-c', '"$0/go/bin/go" | cut -d" " -f1', m.dir], { GO_VERSION: 'go1.0.3' });
      assert.equal(r.stdout, 'go1.2.1\n', r.stderr);
      const s = JSON.parse((await m.cli(['status', m.dir, '--json'])).stdout)[0].pendingExec.helperStats;
      assert.ok(s.refused >= 1, JSON.stringify(s));
    });
  }

  test('a helper that stops answering is killed after its deadline; the request falls back and the mount goes on', T, async (t) => {
    // A stand-in helper: passes the self-probe (a question about its parent), then never answers.
    const dir = tempDir(t, root!, 'varsymfs-stuck-');
    const stuck = path.join(dir, 'stuck-helper');
    fs.writeFileSync(stuck, `#!/usr/bin/python3
import os, struct, time
os.write(1, struct.pack('<IIiI', ${PROTOCOL.magic}, ${PROTOCOL.version}, 0, os.getuid()))
while True:
    q = os.read(0, 8)
    if len(q) < 8: break
    seq, tid = struct.unpack('<Ii', q)
    if tid != os.getppid(): time.sleep(3600)
    os.write(1, struct.pack('<IiII', seq, 0, 0, 0))
`, { mode: 0o755 });
    const user = plain ?? root!;
    const m = await mount(t, user, { setup: goVersionsStore, env: { VARSYMFS_NO_DIRECT_PTRACE: '1', VARSYMFS_EXECENV_HELPER: stuck } });
    assert.equal(m.output.stderr, '');
    const first = await m.run('sh', ['-c', GO_THROUGH_LINK, m.dir], { GO_VERSION: 'go1.0.3' });
    assert.equal(first.stdout, 'go1.0.3\ngo1.0.3\n', first.stderr);
    const again = await m.run('cat', [path.join(m.dir, 'go1.2.1', 'bin', 'go')]);
    assert.equal(again.stdout, '#!/bin/echo go1.2.1\n');
    const s = JSON.parse((await m.cli(['status', m.dir, '--json'])).stdout)[0].pendingExec.helperStats;
    assert.ok(s.failed >= 1 && s.started >= 2, JSON.stringify(s));
  });
});
