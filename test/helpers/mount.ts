// The mount fixture: a temp directory owned by the test user, mounted with the real CLI, and always
// unmounted (and its daemon killed) when the test ends, pass or fail.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { run, type RunResult, type TestUser } from './users';

export interface Mounted {
  readonly user: TestUser;
  /** The mount point (also the backing directory when mounted in place). */
  readonly dir: string;
  /** The daemon's pid. */
  readonly pid: number;
  /** What `varsymfs mount` printed (its warnings on stderr). */
  readonly output: RunResult;
  /** Runs a command as the test user with exactly `env`. */
  run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv, opts?: { timeoutMs?: number; cwd?: string }): Promise<RunResult>;
  /** Runs the varsymfs CLI as the test user. */
  cli(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunResult>;
}

/** A fresh directory owned by `user`, removed after the test. */
export function tempDir(t: TestContext, user: TestUser, prefix = 'varsymfs-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  if (process.geteuid?.() === 0) fs.chownSync(dir, user.uid, user.gid);
  // Hooks run in the order they were added, so a mount on this directory may still be up: take it down
  // first (lazily, never hanging), and never let cleanup throw.
  t.after(() => {
    try {
      for (const m of mountsUnder(dir)) {
        spawnSync('fusermount3', ['-u', '-z', '--', m], { timeout: 10000 });
        if (isMounted(m)) spawnSync('umount', ['-l', m], { timeout: 10000 });
      }
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      process.stderr.write(`# cleanup of ${dir}: ${String(err)}\n`);
    }
  });
  return dir;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m === dir || m.startsWith(dir + '/')).sort((a, b) => b.length - a.length);
}

export function isMounted(dir: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
}

/** True while process `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `cond` every 50 ms for up to `ms`; its last value. */
export async function waitFor(cond: () => boolean, ms = 10000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** Best-effort teardown that cannot hang: lazy unmount, then kill the daemon. */
export async function forceCleanup(user: TestUser, dir: string, pid: number | undefined): Promise<void> {
  for (let i = 0; i < 3 && isMounted(dir); i++) {
    await run(user, 'fusermount3', ['-u', '-z', '--', dir], {}, { timeoutMs: 10000 });
  }
  if (pid !== undefined) {
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** Mounts `dir` (default: a fresh temp dir, prepared by `setup` before mounting) as `user`. */
export async function mount(t: TestContext, user: TestUser, opts: { dir?: string; args?: string[]; setup?: (dir: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<Mounted> {
  const dir = opts.dir ?? tempDir(t, user);
  if (opts.setup) {
    opts.setup(dir);
    if (process.geteuid?.() === 0) chownTree(dir, user);
  }
  const env = { XDG_STATE_HOME: path.join(tempDir(t, user, 'varsymfs-state-'), 'state') };
  const r = await run(user, user.bin, ['mount', dir, ...(opts.args ?? [])], { ...opts.env, ...env });
  const m = /daemon pid (\d+)/.exec(r.stdout);
  if (r.code !== 0 || !m) {
    await forceCleanup(user, dir, undefined);
    throw new Error(`varsymfs mount ${dir} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }
  const pid = Number(m[1]);
  t.after(() => forceCleanup(user, dir, pid));
  return {
    user,
    dir,
    pid,
    output: r,
    run: (cmd, args, e = {}, o = {}) => run(user, cmd, args, e, o),
    cli: (args, e = {}) => run(user, user.bin, args, { ...env, ...e }),
  };
}

/** Gives a tree prepared by root to the test user. */
export function chownTree(dir: string, user: TestUser): void {
  if (user.uid === 0) return; // root prepared it: already root's
  fs.lchownSync(dir, user.uid, user.gid);
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) return;
  for (const name of fs.readdirSync(dir)) chownTree(path.join(dir, name), user);
}
