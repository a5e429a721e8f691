// The mount fixture: a temp directory owned by the test user, mounted with the real CLI, and always
// unmounted (and its daemon killed) when the test ends, pass or fail.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { readMounts } from '../../src/mountinfo';
import { logFile } from '../../src/paths';
import { run, type Parent, type RunResult, type TestUser } from './users';

export interface Mounted {
  readonly user: TestUser;
  /** The mount point (also the backing directory when mounted in place). */
  readonly dir: string;
  /** The daemon's pid. */
  readonly pid: number;
  /** What `varsymfs mount` printed (its warnings on stderr). */
  readonly output: RunResult;
  /** The environment the mount and `cli()` run with (XDG_STATE_HOME, and any `env` given to mount()). */
  readonly env: NodeJS.ProcessEnv;
  /** The daemon's log file. */
  readonly log: string;
  /** Runs a command as the test user with exactly `env`. */
  run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv, opts?: { timeoutMs?: number; cwd?: string; parent?: Parent }): Promise<RunResult>;
  /** Runs the varsymfs CLI as the test user. */
  cli(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunResult>;
}

const cleanups = new WeakMap<TestContext, Array<() => unknown>>();

/**
 * Runs `fn` when test `t` ends. Node's runner stops at the first after-hook that throws, so one failed
 * cleanup would skip the rest (a mount or a daemon left behind): here every cleanup runs, in order, and
 * their failures then fail the test together. From the first call on, the test's own `t.after` hooks
 * join the same list, so they too run whatever failed before them.
 */
export function onCleanup(t: TestContext, fn: () => unknown): void {
  let steps = cleanups.get(t);
  if (steps === undefined) {
    const list: Array<() => unknown> = [];
    steps = list;
    cleanups.set(t, list);
    t.after(async () => {
      const errors: unknown[] = [];
      for (const step of list) {
        try {
          await step();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, errors.map(String).join('; '));
    });
    t.after = ((hook: () => unknown) => void list.push(hook)) as TestContext['after'];
  }
  steps.push(fn);
}

/** A fresh directory owned by `user`, removed after the test. */
export function tempDir(t: TestContext, user: TestUser, prefix = 'varsymfs-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  if (process.geteuid?.() === 0) fs.chownSync(dir, user.uid, user.gid);
  // Cleanups run in the order they were added, so a mount on this directory may still be up: take it
  // down first (lazily, never hanging). Whatever cannot be cleaned up fails the test: a leaked mount or a
  // directory that cannot be removed is a bug to see, not a line in the log.
  onCleanup(t, () => {
    for (const m of mountsUnder(dir)) {
      spawnSync('fusermount3', ['-u', '-z', '--', m], { timeout: 60000 });
      if (isMounted(m)) spawnSync('umount', ['-l', m], { timeout: 60000 });
    }
    const leaked = mountsUnder(dir);
    if (leaked.length > 0) throw new Error(`cleanup: ${leaked.join(', ')} still mounted after unmounting`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Mount points at or below `dir`, deepest first (mountinfo's escapes undone: names may hold spaces). */
export function mountsUnder(dir: string): string[] {
  return readMounts().map((m) => m.mountPoint).filter((m) => m === dir || m.startsWith(dir + '/')).sort((a, b) => b.length - a.length);
}

export function isMounted(dir: string): boolean {
  return readMounts().some((m) => m.mountPoint === dir);
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

/** Polls `cond` every 50 ms until it holds, for up to `ms` (a liveness bound of minutes: it returns as soon
 * as `cond` holds, so only a test that is failing anyway waits that long); its last value. */
export async function waitFor(cond: () => boolean, ms = 120000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/**
 * Teardown that cannot hang: lazy unmount, then wait for the daemon to exit (as it must once its mount is
 * gone). Throws, failing the test, when the mount stays or the daemon had to be killed.
 */
export async function forceCleanup(user: TestUser, dir: string, pid: number | undefined): Promise<void> {
  for (let i = 0; i < 3 && isMounted(dir); i++) {
    await run(user, 'fusermount3', ['-u', '-z', '--', dir], {}, { timeoutMs: 120000 });
  }
  const problems: string[] = [];
  if (isMounted(dir)) problems.push(`${dir} is still mounted`);
  if (pid !== undefined && !(await waitFor(() => !alive(pid), 120000))) {
    process.kill(pid, 'SIGKILL');
    problems.push(`daemon ${pid} was still running 2 min after its mount was removed (killed)`);
  }
  if (problems.length > 0) throw new Error(`cleanup: ${problems.join('; ')}`);
}

/** Mounts `dir` (default: a fresh temp dir, prepared by `setup` before mounting) as `user`. */
export async function mount(t: TestContext, user: TestUser, opts: { dir?: string; args?: string[]; env?: NodeJS.ProcessEnv; setup?: (dir: string) => void } = {}): Promise<Mounted> {
  const dir = opts.dir ?? tempDir(t, user);
  if (opts.setup) {
    opts.setup(dir);
    if (process.geteuid?.() === 0) chownTree(dir, user);
  }
  const env = { XDG_STATE_HOME: path.join(tempDir(t, user, 'varsymfs-state-'), 'state'), ...opts.env };
  const r = await run(user, user.bin, ['mount', dir, ...(opts.args ?? [])], env);
  const m = /daemon pid (\d+)/.exec(r.stdout);
  if (r.code !== 0 || !m) {
    await forceCleanup(user, dir, undefined);
    throw new Error(`varsymfs mount ${dir} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }
  const pid = Number(m[1]);
  onCleanup(t, () => forceCleanup(user, dir, pid));
  return {
    user,
    dir,
    pid,
    output: r,
    env,
    log: logFile(dir, env),
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

/**
 * A store for telling which program the kernel ran through a link: A/prog, B/prog and C/prog, copies of
 * `binary` (test/fixtures/hostile.c prints the directory its binary is in when run without arguments),
 * and the link `d -> $<V:-C>`. A binary, not a script: a script is opened again by its interpreter, with
 * the new program's own environment.
 */
export function whichProgramStore(dir: string, binary: string): void {
  for (const v of ['A', 'B', 'C']) {
    fs.mkdirSync(path.join(dir, v));
    fs.copyFileSync(binary, path.join(dir, v, 'prog'));
    fs.chmodSync(path.join(dir, v, 'prog'), 0o755);
  }
  fs.symlinkSync('$<V:-C>', path.join(dir, 'd'));
}
