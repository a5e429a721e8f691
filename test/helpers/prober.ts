// Shared by the tests of the project scope through long-lived callers (test/trust.test.ts, mise-config-dirs.test.ts,
// test/hostile/project-files.test.ts, trust.test.ts, writes.test.ts):
// the long-lived "prober" caller and a racing one (compiled once per test process, by the before() hook this
// module registers when imported), a quiet directory outside /tmp and /var/tmp, a root --allow-other mount with
// `GO -> $<GO_VERSION:-none>`, and a caller run with exactly the environment and working directory given.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, before, type TestContext } from 'node:test';
import { alive, mountsUnder, onCleanup, mount, type Mounted } from './mount';
import { asUser, baseEnv, plainUser, rootUser, type TestUser } from './users';

export const T = { timeout: 120000 };
export const root = rootUser();
export const plain = plainUser();
export const needsRoot = !root ? 'needs root (mounts, chroot, other users)' : false;
export const needsRootAndPlain = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
export const OTHER_UID = 47111;

// A caller that stays: one thread, one program image, answering commands on stdin, one line each.
//   r PATH   readlink PATH (prints the target, or "ERR errno")
//   c DIR    chdir
//   R DIR    chroot
//   o FILE   prints the first line of FILE (as this process can open it), or "ERR errno"
export const PROBER_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main (void) {
  char line[8192], buf[8192];
  setvbuf(stdout, NULL, _IONBF, 0);
  while (fgets(line, sizeof line, stdin) != NULL) {
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
    if (n < 3) { printf("ERR bad\n"); continue; }
    char *arg = line + 2;
    if (line[0] == 'r') {
      ssize_t k = readlink(arg, buf, sizeof buf - 1);
      if (k < 0) printf("ERR %d\n", errno); else { buf[k] = 0; printf("%s\n", buf); }
    } else if (line[0] == 'c') printf(chdir(arg) == 0 ? "ok\n" : "ERR %d\n", errno);
    else if (line[0] == 'R') printf(chroot(arg) == 0 ? "ok\n" : "ERR %d\n", errno);
    else if (line[0] == 'o') {
      FILE *f = fopen(arg, "r");
      if (f == NULL) { printf("ERR %d\n", errno); continue; }
      if (fgets(buf, sizeof buf, f) == NULL) buf[0] = 0;
      fclose(f);
      buf[strcspn(buf, "\n")] = 0;
      printf("%s\n", buf);
    } else printf("ERR bad\n");
  }
  return 0;
}
`;

// One thread reads LINK ROUNDS times while another moves the process's working directory (shared by all
// its threads) between X and Y; then it stays in Y and the first thread reads LINK five more times.
export const RACE_C = String.raw`
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static const char *X, *Y;
static volatile int stop;
static void *toggler (void *a) { (void) a; while (!stop) { if (chdir(X) != 0 || chdir(Y) != 0) return NULL; } return NULL; }
int main (int argc, char **argv) {
  if (argc < 5) return 2;
  X = argv[1]; Y = argv[2];
  char buf[4096];
  pthread_t t;
  pthread_create(&t, NULL, toggler, NULL);
  for (int i = 0; i < atoi(argv[4]); i++) (void) readlink(argv[3], buf, sizeof buf);
  stop = 1;
  pthread_join(t, NULL);
  if (chdir(Y) != 0) return 3;
  for (int i = 0; i < 5; i++) { ssize_t n = readlink(argv[3], buf, sizeof buf - 1); buf[n < 0 ? 0 : n] = 0; printf("%s\n", buf); }
  return 0;
}
`;

export let bin = '';
before(() => {
  bin = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-attack-bin-'));
  fs.chmodSync(bin, 0o755);
  for (const [name, src, extra] of [['prober', PROBER_C, []], ['race', RACE_C, ['-pthread']]] as const) {
    fs.writeFileSync(path.join(bin, `${name}.c`), src);
    const r = spawnSync('gcc', ['-O1', ...extra, '-o', path.join(bin, name), path.join(bin, `${name}.c`)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `gcc ${name}: ${r.stderr}`);
  }
});
after(() => {
  if (bin !== '') fs.rmSync(bin, { recursive: true, force: true });
});

// Where quietDir makes its directories. A walk watches every directory up to /, and any entry of one of them
// removed, renamed or chmod'ed starts a new epoch, which hides a stale answer rather than shows it: so not
// /tmp or /var/tmp, which every suite writes. This folder is made once and kept; each test process has its
// own folder in it (made before its first walk, removed after its last), so the only directories above a
// test's own that anything writes are written by the test process itself, one test at a time.
const QUIET_ROOT = '/var/lib/varsymfs-test';
let quietProcessDir = '';
let quietCount = 0;
after(() => {
  if (quietProcessDir !== '') fs.rmSync(quietProcessDir, { recursive: true, force: true });
});

/** A directory made with `mode` (no chmod afterwards: that would be an event in the watched parent). */
function quietMkdir(dir: string): void {
  fs.mkdirSync(dir, { mode: 0o755 });
  if ((fs.statSync(dir).mode & 0o777) !== 0o755) fs.chmodSync(dir, 0o755);
}

/** A fresh root-owned 0755 directory in a quiet place (see QUIET_ROOT), removed (mounts below it first) after `t`. */
export function quietDir(t: TestContext): string {
  if (quietProcessDir === '') {
    fs.mkdirSync(QUIET_ROOT, { recursive: true, mode: 0o755 });
    if ((fs.statSync(QUIET_ROOT).mode & 0o777) !== 0o755) fs.chmodSync(QUIET_ROOT, 0o755);
    // What a killed test process left (never with a mount still below it).
    for (const name of fs.readdirSync(QUIET_ROOT)) {
      const pid = /^run-(\d+)$/.exec(name)?.[1];
      const stale = path.join(QUIET_ROOT, name);
      if (pid !== undefined && !alive(Number(pid)) && mountsUnder(stale).length === 0) fs.rmSync(stale, { recursive: true, force: true });
    }
    quietProcessDir = path.join(QUIET_ROOT, `run-${process.pid}`);
    fs.rmSync(quietProcessDir, { recursive: true, force: true });
    quietMkdir(quietProcessDir);
  }
  const dir = path.join(quietProcessDir, `t${++quietCount}`);
  quietMkdir(dir);
  onCleanup(t, () => {
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], { timeout: 60000 });
    const leaked = mountsUnder(dir);
    if (leaked.length > 0) throw new Error(`cleanup: ${leaked.join(', ')} still mounted`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Files under `base`: a key ending in `/` is a directory, any other a file with that content. */
export function tree(base: string, files: Record<string, string>): void {
  for (const [rel, contents] of Object.entries(files)) {
    const p = path.join(base, rel);
    if (rel.endsWith('/')) fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, contents);
    }
  }
}

/** A root --allow-other mount holding `GO -> $<GO_VERSION:-none>`. */
export function goMount(t: TestContext, args: string[] = []): Promise<Mounted> {
  return mount(t, root!, { args: ['--allow-other', ...args], setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('$<GO_VERSION:-none>', path.join(d, 'GO'))) });
}

/** Lets directory and file timestamps settle (project/fast.c keeps nothing whose ctime is under 50 ms old). */
export const settle = () => new Promise((r) => setTimeout(r, 200));

export interface Prober {
  readonly pid: number;
  ask(cmd: string): Promise<string>;
}

/** A long-lived caller of `user` working in `cwd` with exactly `env` (a non-empty one: it is cached). */
export async function prober(t: TestContext, user: TestUser, cwd: string, env: Record<string, string> = { EDITOR: 'vi' }): Promise<Prober> {
  const [file, args] = asUser(user, '/usr/bin/env', ['-i', '-C', cwd, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), path.join(bin, 'prober')]);
  const child: ChildProcess = spawn(file, args, { env: baseEnv(user), cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
  onCleanup(t, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  readline.createInterface({ input: child.stdout! }).on('line', (l) => (lines.push(l), waiters.splice(0).forEach((w) => w())));
  child.on('close', () => waiters.splice(0).forEach((w) => w()));
  const ask = async (cmd: string): Promise<string> => {
    child.stdin!.write(`${cmd}\n`);
    while (lines.length === 0) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`prober exited before answering ${cmd}`);
      await new Promise<void>((r) => waiters.push(r));
    }
    return lines.shift()!;
  };
  return { pid: child.pid!, ask };
}

/** Runs `argv` as `user` in `cwd` with exactly `env`; killed (SIGKILL) after `timeoutMs` (a liveness bound
 * of minutes unless given), saying so in its stderr. */
export function runIn(user: TestUser, cwd: string, argv: readonly string[], env: Record<string, string> = {}, timeoutMs = 300000): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const [file, args] = asUser(user, '/usr/bin/env', ['-i', '-C', cwd, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv]);
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: baseEnv(user), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed = false;
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout, stderr: killed ? `${stderr}[killed by the test's liveness bound after ${timeoutMs / 1000} s]\n` : stderr })));
  });
}

