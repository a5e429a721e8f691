// The pending-exec decision (src/pendingexec.ts) is pure: the host facts in, available / via helper /
// unavailable with why and the fix out. Table cases, the exact line a stock Ubuntu user sees, properties.
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { test } from 'node:test';
import fc from 'fast-check';
import { decidePendingExec, directAccess, explainPendingExec, INSTALLED_HELPER, pendingExecSettings, pendingExecWarning, SETUP_FIX, type HelperCheck, type PtraceFacts } from '../src/pendingexec';
import { formatPendingExec } from '../src/status';

const E = constants.errno;
const facts = (f: Partial<PtraceFacts>): PtraceFacts => ({ yamaScope: undefined, capSysPtrace: false, directDisabled: false, directProbe: undefined, ...f });
const missing: HelperCheck = { path: INSTALLED_HELPER, found: 'missing' };
const probed = (result: number): HelperCheck => ({ path: INSTALLED_HELPER, found: 'probed', result });

test('direct access: who may read callers\' syscall and mem itself', () => {
  const ok = (f: Partial<PtraceFacts>) => directAccess(facts(f)).ok;
  assert.equal(ok({}), true);                                   // no Yama
  assert.equal(ok({ yamaScope: 0 }), true);
  assert.equal(ok({ yamaScope: 1 }), false);                    // Ubuntu, a normal user's daemon
  assert.equal(ok({ yamaScope: 2 }), false);
  assert.equal(ok({ yamaScope: 1, capSysPtrace: true }), true); // root
  assert.equal(ok({ yamaScope: 2, capSysPtrace: true }), true);
  assert.equal(ok({ yamaScope: 3, capSysPtrace: true }), false);
  assert.equal(ok({ capSysPtrace: true, directDisabled: true }), false);
  assert.equal(ok({ yamaScope: 0, directProbe: { pid: 42, errno: -E.EPERM! } }), false);
  assert.equal(ok({ yamaScope: 0, directProbe: { pid: 42, errno: 0 } }), true);
});

test('the line a stock Ubuntu user sees at mount (kernel.yama.ptrace_scope=1, no helper), and after setup', () => {
  const s = decidePendingExec(directAccess(facts({ yamaScope: 1 })), missing);
  const line = pendingExecWarning(s);
  process.stdout.write(`# Warning: ${line}\n`);
  assert.equal(line, 'pending exec is unavailable: kernel.yama.ptrace_scope is 1: a daemon without CAP_SYS_PTRACE may not read the memory of processes it did not start, and the exec-env helper is not installed. A variable set for one command (GO_VERSION=x ~/vs/go/bin/go) falls back to the shell\'s own environment. Fix: sudo varsymfs setup, then remount');
  assert.equal(formatPendingExec(s), 'unavailable (kernel.yama.ptrace_scope is 1: a daemon without CAP_SYS_PTRACE may not read the memory of processes it did not start, and the exec-env helper is not installed); fix: sudo varsymfs setup, then remount');
  const after = decidePendingExec(directAccess(facts({ yamaScope: 1 })), probed(1));
  assert.deepEqual(after, { state: 'via helper', reason: 'kernel.yama.ptrace_scope is 1: a daemon without CAP_SYS_PTRACE may not read the memory of processes it did not start', helper: INSTALLED_HELPER });
  assert.equal(pendingExecWarning(after), undefined);
});

test('scope 3: nothing helps, and the message says so', () => {
  const s = decidePendingExec(directAccess(facts({ yamaScope: 3 })), probed(1));
  assert.equal(s.state, 'unavailable');
  assert.match(s.reason, /ptrace_scope is 3/);
  assert.match(s.fix!, /^none/);
});

test('a failed self-probe names the cause', () => {
  const reason = (r: number) => decidePendingExec(directAccess(facts({ yamaScope: 1 })), probed(r)).reason;
  assert.match(reason(-E.EPERM!), /without CAP_SYS_PTRACE/);
  assert.match(reason(-E.EACCES!), /ptrace_scope 3, or a security module/);
  assert.match(reason(-E.EPROTO!), /another version of varsymfs/);
  assert.match(reason(-E.ETIMEDOUT!), /ETIMEDOUT/);
  const unsafe = decidePendingExec(directAccess(facts({ yamaScope: 1 })), { path: '/x/h', found: 'unsafe', why: '/x/h is not owned by root' });
  assert.match(unsafe.reason, /helper \/x\/h is not used: \/x\/h is not owned by root/);
});

test('resolve --explain: the check, and why it was denied', () => {
  const env = (denied: boolean, source = 'cached') => ({ execCheck: denied ? ('denied' as const) : ('checked' as const), source });
  const direct = decidePendingExec(directAccess(facts({})), undefined);
  const helper = decidePendingExec(directAccess(facts({ yamaScope: 1 })), probed(1));
  const none = decidePendingExec(directAccess(facts({ yamaScope: 1 })), missing);
  assert.equal(explainPendingExec(undefined, direct), 'not needed');
  assert.equal(explainPendingExec(env(false), direct), 'available');
  assert.equal(explainPendingExec(env(false), helper), 'available (through the exec-env helper)');
  assert.match(explainPendingExec(env(true), none), /^denied: kernel\.yama\.ptrace_scope is 1: .*; the process's own environment was used\. Fix: sudo varsymfs setup, then remount$/);
  assert.match(explainPendingExec(env(true, 'unreadable'), helper), /^denied for this process \(another user's, not dumpable.*exec-env helper answers only for this user's own dumpable processes\)$/);
  assert.match(explainPendingExec({ execCheck: 'refused', source: 'unreadable' }, direct), /^refused \(its new environment lies outside anonymous memory or past the exec size limit/);
});

test('settings: the installed helper unless VARSYMFS_EXECENV_HELPER; direct reads off only with VARSYMFS_NO_DIRECT_PTRACE=1', () => {
  assert.deepEqual(pendingExecSettings({}), { helper: INSTALLED_HELPER, directDisabled: false });
  assert.deepEqual(pendingExecSettings({ VARSYMFS_EXECENV_HELPER: '/h', VARSYMFS_NO_DIRECT_PTRACE: '1' }), { helper: '/h', directDisabled: true });
  assert.deepEqual(pendingExecSettings({ VARSYMFS_NO_DIRECT_PTRACE: 'yes' }), { helper: INSTALLED_HELPER, directDisabled: false });
});

test('properties: available iff direct access; unavailable always has a reason, a fix and the one warning; scope 3 never uses the helper', () => {
  const factsArb = fc.record({
    yamaScope: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    capSysPtrace: fc.boolean(),
    directDisabled: fc.boolean(),
    directProbe: fc.option(fc.record({ pid: fc.integer({ min: 2, max: 1 << 22 }), errno: fc.constantFrom(0, -E.EPERM!, -E.EACCES!) }), { nil: undefined }),
  });
  const helperArb = fc.option(fc.oneof(
    fc.constant(missing),
    fc.constant<HelperCheck>({ path: '/h', found: 'unsafe', why: 'w' }),
    fc.integer({ min: -130, max: 1 }).filter((r) => r !== 0).map(probed),
  ), { nil: undefined });
  fc.assert(fc.property(factsArb, helperArb, (f, h) => {
    const d = directAccess(f);
    const s = decidePendingExec(d, h);
    assert.equal(s.state === 'available', d.ok);
    if (s.state === 'unavailable') {
      assert.ok(s.reason.length > 0 && s.fix !== undefined);
      assert.equal(pendingExecWarning(s)!.includes('\n'), false);
    } else {
      assert.equal(pendingExecWarning(s), undefined);
    }
    if (f.yamaScope === 3 || f.directDisabled) assert.notEqual(s.state, 'available');
    if (f.yamaScope === 3) assert.equal(s.state, 'unavailable');
    if (s.state === 'via helper') assert.ok(h?.found === 'probed' && h.result === 1);
    if (s.state === 'unavailable' && d.ok === false && d.helperCanFix) assert.equal(s.fix, SETUP_FIX);
  }));
});
