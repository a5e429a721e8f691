// Shared by the hostile tests of test/hostile/ that run as both users through their own mounts: the users, the
// timeout, and two C fixtures for what a shell cannot do, compiled once per test process by useFixtures():
// `hostile` (test/fixtures/hostile.c) and `attack` (ATTACK_C below).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { plainUser, rootUser } from './users';

export const T = { timeout: 300000 };
export const root = rootUser();
export const plain = plainUser();
export const needsRootAndPlain = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
/** A second unprivileged identity, by raw ids (no account needed). */
export const OTHER_UID = 47111;

// A small C fixture for what a shell cannot do.
//   attack vm-exec LINK          clone(CLONE_VM) a sibling that sleeps (it shares our memory), readlink LINK,
//                                then execve ourselves with exactly V=new; prints "before X" and "after Y"
//   attack inplace LINK          readlink LINK, overwrite V's value in the environment block in place (as
//                                setproctitle-style code does), readlink again; prints "before X", "after Y"
//   attack misalign PATH N=V     execve(PATH) with an envp array that is not 8-byte aligned and whose first
//                                slot crosses a page boundary (the kernel accepts it)
const ATTACK_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static char buf[4096];
static const char *rl (const char *p) { ssize_t n = readlink(p, buf, sizeof buf - 1); buf[n < 0 ? 0 : n] = 0; return buf; }
static int sleeper (void *a) { (void) a; for (;;) pause(); return 0; }
int main (int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "after") == 0) {
    printf("after %s\n", rl(argv[2]));
    kill(atoi(argv[3]), SIGKILL);
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "vm-exec") == 0) {
    char *stack = malloc(1 << 16);
    pid_t c = clone(sleeper, stack + (1 << 16), CLONE_VM | SIGCHLD, NULL);
    if (c < 0) return 111;
    printf("before %s\n", rl(argv[2]));
    fflush(stdout);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", c);
    char *nargv[] = { "attack", "after", argv[2], pid, NULL };
    char *nenv[] = { "V=new", NULL };
    execve("/proc/self/exe", nargv, nenv);
    kill(c, SIGKILL);
    return 112;
  }
  if (argc >= 3 && strcmp(argv[1], "inplace") == 0) {
    printf("before %s\n", rl(argv[2]));
    char *v = getenv("V");
    if (v == NULL) return 113;
    memset(v, 'z', strlen(v));
    printf("after %s\n", rl(argv[2]));
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "misalign") == 0) {
    long page = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, 3 * (size_t) page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *s = mem + 100, *nul = NULL, *slots = mem + page - 4;
    strcpy(s, argv[3]);
    memcpy(slots, &s, 8);
    memcpy(slots + 8, &nul, 8);
    char *nargv[] = { argv[2], NULL };
    execve(argv[2], nargv, (char **) slots);
    printf("exec failed: %d\n", errno);
    return 114;
  }
  return 2;
}
`;

/** The compiled fixtures, once useFixtures()'s before() hook has run. */
export let hostile = '';
export let attack = '';

/** Compiles `hostile` and `attack` before the file's first test, and removes them after its last. */
export function useFixtures(): void {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-hostile-'));
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'attack.c'), ATTACK_C);
    attack = path.join(dir, 'attack');
    let r = spawnSync('gcc', ['-O1', '-o', attack, path.join(dir, 'attack.c')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `gcc: ${r.stderr}`);
    hostile = path.join(dir, 'hostile');
    r = spawnSync('gcc', ['-O1', '-pthread', '-o', hostile, path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'hostile.c')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `gcc: ${r.stderr}`);
  });
  after(() => {
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });
}
