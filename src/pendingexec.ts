// Whether this daemon can read the environment a caller passes to execve ("pending exec"), and how:
// directly (/proc/<tid>/syscall and mem, which need ptrace-attach access), through the exec-env helper
// (installed by `sudo varsymfs setup` where Yama denies that access), or not at all, with why and the fix.
// Decided once at mount, before the mount exists; the decision is pure (decidePendingExec).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants } from 'node:os';

/** Where `varsymfs setup` installs the helper. */
export const INSTALLED_HELPER = '/usr/local/libexec/varsymfs/varsymfs-execenv';
/** The one command that enables pending exec where Yama restricts ptrace. */
export const SETUP_FIX = 'sudo varsymfs setup, then remount';

const CAP_SYS_PTRACE = 19n;

/** Test and diagnosis settings, read from the environment of `varsymfs mount`. */
export interface PendingExecSettings {
  /** VARSYMFS_EXECENV_HELPER: the helper to use instead of the installed one. */
  readonly helper: string;
  /** VARSYMFS_NO_DIRECT_PTRACE=1: never read callers' syscall/mem directly, as if ptrace were denied. */
  readonly directDisabled: boolean;
}

/** The settings in `env` (the daemon's own environment). */
export function pendingExecSettings(env: NodeJS.ProcessEnv): PendingExecSettings {
  return { helper: env.VARSYMFS_EXECENV_HELPER || INSTALLED_HELPER, directDisabled: env.VARSYMFS_NO_DIRECT_PTRACE === '1' };
}

/** What the host says about this daemon's own ptrace access. */
export interface PtraceFacts {
  /** kernel.yama.ptrace_scope, undefined without Yama. */
  readonly yamaScope: number | undefined;
  /** CAP_SYS_PTRACE is in the daemon's effective set (root). */
  readonly capSysPtrace: boolean;
  readonly directDisabled: boolean;
  /** Reading /proc/<pid>/syscall of a process of this user that the daemon did not start: 0 or -errno. */
  readonly directProbe: { readonly pid: number; readonly errno: number } | undefined;
}

/** What was found at the helper's path: absent, unfit to trust, or its self-probe result (1 or -errno). */
export type HelperCheck = { readonly path: string } & ({ readonly found: 'missing' } | { readonly found: 'unsafe'; readonly why: string } | { readonly found: 'probed'; readonly result: number });

export interface PendingExecState {
  readonly state: 'available' | 'via helper' | 'unavailable';
  /** Why: the fact that decided it. */
  readonly reason: string;
  /** For 'unavailable': what the user can do. */
  readonly fix?: string;
  /** For 'via helper': the helper's path. */
  readonly helper?: string;
}

type Direct = { ok: true; reason: string } | { ok: false; reason: string; helperCanFix: boolean };

/** Whether the daemon may read callers' syscall and mem itself. */
export function directAccess(f: PtraceFacts): Direct {
  // Scope 3 first: nothing helps there, whatever else is switched.
  if (f.yamaScope !== undefined && f.yamaScope >= 3) return { ok: false, reason: `kernel.yama.ptrace_scope is ${f.yamaScope}: no process may read another's memory, not even root`, helperCanFix: false };
  if (f.directDisabled) return { ok: false, reason: 'reading callers\' memory directly is switched off (VARSYMFS_NO_DIRECT_PTRACE=1)', helperCanFix: true };
  if (f.capSysPtrace) return { ok: true, reason: 'the daemon has CAP_SYS_PTRACE' };
  if (f.yamaScope !== undefined && f.yamaScope >= 1) {
    return { ok: false, reason: `kernel.yama.ptrace_scope is ${f.yamaScope}: a daemon without CAP_SYS_PTRACE may not read the memory of processes it did not start`, helperCanFix: true };
  }
  if (f.directProbe !== undefined && f.directProbe.errno < 0) {
    return { ok: false, reason: `reading /proc/${f.directProbe.pid}/syscall of this user's own process was denied (${errnoName(f.directProbe.errno)}): a security module restricts ptrace`, helperCanFix: true };
  }
  return { ok: true, reason: f.yamaScope === undefined ? 'no Yama ptrace restriction' : `kernel.yama.ptrace_scope is ${f.yamaScope}` };
}

/** Why a helper's self-probe failed, in words. */
function probeFailure(result: number): string {
  switch (-result) {
    case constants.errno.EPERM: return 'it runs without CAP_SYS_PTRACE (copied without its capability, or on a nosuid filesystem)';
    case constants.errno.EACCES: return 'the kernel denied it this daemon\'s own /proc/<pid>/syscall (kernel.yama.ptrace_scope 3, or a security module)';
    case constants.errno.EPROTO: return 'it is from another version of varsymfs';
    case constants.errno.ENOENT: return 'it is missing';
    default: return `it failed (${errnoName(result)})`;
  }
}

/** The decision: direct access, else the helper, else unavailable with the reason and the fix. */
export function decidePendingExec(direct: Direct, helper: HelperCheck | undefined): PendingExecState {
  if (direct.ok) return { state: 'available', reason: direct.reason };
  if (!direct.helperCanFix) return { state: 'unavailable', reason: direct.reason, fix: 'none while that setting holds (it can be lowered only by rebooting)' };
  if (helper === undefined || helper.found === 'missing') {
    return { state: 'unavailable', reason: `${direct.reason}, and the exec-env helper is not installed${helper && helper.path !== INSTALLED_HELPER ? ` (no ${helper.path})` : ''}`, fix: SETUP_FIX };
  }
  if (helper.found === 'unsafe') return { state: 'unavailable', reason: `${direct.reason}, and the exec-env helper ${helper.path} is not used: ${helper.why}`, fix: SETUP_FIX };
  if (helper.result === 1) return { state: 'via helper', reason: direct.reason, helper: helper.path };
  return { state: 'unavailable', reason: `${direct.reason}, and the exec-env helper ${helper.path} failed its self-probe: ${probeFailure(helper.result)}`, fix: SETUP_FIX };
}

/** The one line printed at mount when pending exec is unavailable. */
export function pendingExecWarning(s: PendingExecState): string | undefined {
  if (s.state !== 'unavailable') return undefined;
  return `pending exec is unavailable: ${s.reason}. A variable set for one command (GO_VERSION=x ~/vs/go/bin/go) falls back to the shell's own environment. Fix: ${s.fix}`;
}

/** What `resolve --explain` says about the pending-exec check for one resolution. */
export function explainPendingExec(env: { readonly execCheck: 'checked' | 'denied' | 'refused'; readonly source: string } | undefined, s: PendingExecState): string {
  if (env === undefined) return 'not needed';
  if (env.execCheck === 'checked') return s.state === 'via helper' ? 'available (through the exec-env helper)' : 'available';
  if (env.execCheck === 'refused') return 'refused (its new environment lies outside anonymous memory or past the exec size limit: not used)';
  const fellBack = env.source === 'unreadable' || env.source === 'secure' || env.source === 'linkOwner' ? '' : '; the process\'s own environment was used';
  if (s.state === 'unavailable') return `denied: ${s.reason}${fellBack}. Fix: ${s.fix}`;
  const who = s.state === 'via helper' ? 'the exec-env helper answers only for this user\'s own dumpable processes' : 'no ptrace-read access';
  return `denied for this process (another user's, not dumpable: setuid or changed credentials, or gone; ${who})${fellBack}`;
}

function errnoName(errno: number): string {
  const name = Object.entries(constants.errno).find(([, n]) => n === -errno)?.[0];
  return name ?? `errno ${-errno}`;
}

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The facts of this process and host. Reads /proc only; call before mounting. */
export function ptraceFacts(settings: PendingExecSettings): PtraceFacts {
  const scopeText = readOr('/proc/sys/kernel/yama/ptrace_scope');
  const yamaScope = scopeText === undefined ? undefined : Number(scopeText.trim());
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readOr('/proc/self/status') ?? '')?.[1];
  const capSysPtrace = capEff !== undefined && ((BigInt('0x' + capEff) >> CAP_SYS_PTRACE) & 1n) === 1n;
  let directProbe: PtraceFacts['directProbe'];
  // The daemon's parent (the `varsymfs mount` that started it, or the user's shell or service manager)
  // is a process of this user that the daemon did not start: what Yama or a security module would refuse.
  const ppid = process.ppid;
  if (!settings.directDisabled && !capSysPtrace && !(yamaScope !== undefined && yamaScope >= 1) && ppid > 1) {
    try {
      if (fs.statSync(`/proc/${ppid}`).uid === process.getuid?.()) {
        fs.readFileSync(`/proc/${ppid}/syscall`);
        directProbe = { pid: ppid, errno: 0 };
      }
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).errno;
      // A parent that exited or is another user's now says nothing about access.
      if (errno === -constants.errno.EPERM || errno === -constants.errno.EACCES) directProbe = { pid: ppid, errno };
    }
  }
  return { yamaScope: Number.isInteger(yamaScope) ? yamaScope : undefined, capSysPtrace, directDisabled: settings.directDisabled, directProbe };
}

/** Whether the helper at `file` may be trusted with callers' environments: root's, and only root's to change. */
export function inspectHelper(file: string): { found: 'missing' } | { found: 'unsafe'; why: string } | { found: 'ok' } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return { found: 'missing' };
  }
  if (!st.isFile()) return { found: 'unsafe', why: 'it is not a regular file' };
  for (const [what, s] of [[file, st], [path.dirname(file), fs.statSync(path.dirname(file))]] as const) {
    if (s.uid !== 0 || (s.mode & 0o022) !== 0) return { found: 'unsafe', why: `${what} is not owned by root, or is writable by others than root` };
  }
  return { found: 'ok' };
}

/** The binding's part: configure the native client (execenvConfigure in varsymfs_native). */
export interface ExecenvBinding {
  execenvConfigure(helper: string | null, directDisabled: boolean): number;
}

/** Decides and configures the native side accordingly; before mounting (it waits for the helper). */
export function setupPendingExec(native: ExecenvBinding, settings: PendingExecSettings): PendingExecState {
  const direct = directAccess(ptraceFacts(settings));
  if (direct.ok || !direct.helperCanFix) {
    native.execenvConfigure(null, settings.directDisabled);
    return decidePendingExec(direct, undefined);
  }
  const found = inspectHelper(settings.helper);
  if (found.found !== 'ok') {
    native.execenvConfigure(null, settings.directDisabled);
    return decidePendingExec(direct, { path: settings.helper, ...found });
  }
  const result = native.execenvConfigure(settings.helper, settings.directDisabled);
  return decidePendingExec(direct, { path: settings.helper, found: 'probed', result });
}
