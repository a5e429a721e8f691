// Who the integration tests run varsymfs as: root (when the suite runs as root) and an unprivileged user
// that test/run.js sets up (created, /dev/fuse 0666, the project readable). Described by environment
// variables test/run.js passes down.
import { spawn } from 'node:child_process';
import { describe } from 'node:test';

export interface TestUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** The varsymfs launcher this user can execute. */
  readonly bin: string;
}

export const PROJECT_BIN = require.resolve('../../../bin/varsymfs');

/** Root, when the suite runs as root. */
export function rootUser(): TestUser | undefined {
  if (process.geteuid?.() !== 0) return undefined;
  return { name: 'root', uid: 0, gid: 0, home: process.env.HOME ?? '/root', bin: PROJECT_BIN };
}

/** The unprivileged user (the current user when the suite itself is not root). */
export function plainUser(): TestUser | undefined {
  const e = process.env;
  if (e.VARSYMFS_TEST_USER && e.VARSYMFS_TEST_UID) {
    return { name: e.VARSYMFS_TEST_USER, uid: Number(e.VARSYMFS_TEST_UID), gid: Number(e.VARSYMFS_TEST_GID), home: e.VARSYMFS_TEST_HOME!, bin: e.VARSYMFS_TEST_BIN! };
  }
  if (process.geteuid?.() !== 0) {
    return { name: 'self', uid: process.geteuid!(), gid: process.getegid!(), home: e.HOME ?? '/tmp', bin: PROJECT_BIN };
  }
  return undefined;
}

/** Both users a test should run as, labelled; missing ones are left out (see describeEachUser). */
export function testUsers(): Array<[string, TestUser]> {
  return userSuites().filter((u) => u.user !== undefined).map((u) => [u.label, u.user!]);
}

/** Each user the integration tests run as, with the reason when that user is not available here. */
export function userSuites(): Array<{ label: string; user: TestUser | undefined; skip: string | false }> {
  const r = rootUser();
  const p = plainUser();
  return [
    { label: 'as root', user: r, skip: r ? false : 'needs root: run `npm test` as root' },
    { label: `as unprivileged user${p ? ` ${p.name}` : ''}`, user: p, skip: p ? false : 'needs the unprivileged test user that test/run.js creates: run `npm test`' },
  ];
}

/** Declares `body` once per user, each in its own describe(); a user not available here is reported as a
 * skipped suite with the reason, never silently left out. */
export function describeEachUser(body: (user: TestUser) => void): void {
  for (const { label, user, skip } of userSuites()) describe(label, { skip }, () => body(user!));
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The base environment of a command run as `user`: nothing inherited but PATH. */
export function baseEnv(user: TestUser): NodeJS.ProcessEnv {
  // A system PATH: root's may hold private directories (~/.pyenv) another user cannot enter.
  return { PATH: user.uid === 0 ? process.env.PATH ?? SYSTEM_PATH : SYSTEM_PATH, HOME: user.home, LANG: 'C.UTF-8' };
}

/**
 * How a command run as another user is parented. 'user': under a process of that user, as a user's
 * programs are started by its shell, so the daemon can compare the caller's memory with its parent's
 * (kcmp) and cache the caller; run() does this unless told otherwise. 'runner': a direct child of this
 * (root) test runner, whose memory a plain user's daemon cannot compare (such a caller is never cached);
 * asUser() does this unless told otherwise, since its callers use the spawned pid as the command's.
 */
export type Parent = 'user' | 'runner';

/** The argv that runs `cmd args` as `user` (setpriv when switching from root); by default the command
 * keeps the spawned pid (parent 'runner'). */
export function asUser(user: TestUser, cmd: string, args: readonly string[], opts: { parent?: Parent } = {}): [string, string[]] {
  if (process.geteuid?.() === user.uid) return [cmd, [...args]];
  // setpriv's own image changed credentials, so the kernel makes it non-dumpable and its /proc files
  // root's; exec'ing another program first gives the command an ordinary process of the user, like a
  // login shell's.
  const setpriv = ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', '--'];
  if (opts.parent !== 'user') return ['setpriv', [...setpriv, '/usr/bin/env', cmd, ...args]];
  // `timeout 0` (no time limit) waits for the command as its parent and passes on its exit; the inner
  // setpriv makes the command die with it, so killing what was spawned leaves nothing behind.
  return ['setpriv', [...setpriv, 'timeout', '0', 'setpriv', '--pdeathsig', 'KILL', '--', cmd, ...args]];
}

/** Runs a command as `user` with exactly `env` (plus the base environment), under a parent of that user
 * unless `parent` says otherwise. Bounded for liveness only (`timeoutMs`, 5 minutes unless given: a bound
 * of minutes, never a clock the test depends on on a busy machine); a command killed by the bound says so
 * in its stderr. */
export function run(user: TestUser, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, opts: { timeoutMs?: number; cwd?: string; input?: string; parent?: Parent } = {}): Promise<RunResult> {
  const [file, argv] = asUser(user, cmd, args, { parent: opts.parent ?? 'user' });
  return new Promise((resolve) => {
    const child = spawn(file, argv, { env: { ...baseEnv(user), ...env }, cwd: opts.cwd ?? '/', stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const bound = opts.timeoutMs ?? 300000;
    let killed = false;
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, bound);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, signal: null, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr: killed ? `${stderr}[killed by the test's liveness bound after ${bound / 1000} s: ${cmd}]\n` : stderr });
    });
    child.stdin.on('error', () => {}); // a command that exits at once closes its stdin
    child.stdin.end(opts.input ?? '');
  });
}
