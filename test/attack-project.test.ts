// A hostile review of the project scope (issue 11): each test is one finding, reproduced through a real
// mount, with real processes, explicit environments and working directories. The callers that matter most
// are long-lived ones (an IDE, a language server, a shell): the same thread of the same program image asks
// again and again, so the project.c fast path (a walk kept by tid, environment generation and working
// directory identity, invalidated by inotify events and mount-table changes) answers them. A test that
// needs the fast path works in a directory tree outside os.tmpdir(): every directory of a walk up to / is
// watched, and a busy /tmp (other test suites removing their temp dirs) starts new epochs all the time,
// which would hide a stale answer rather than show it.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, before, describe, test, type TestContext } from 'node:test';
import { stallMount } from './helpers/execenv';
import { chownTree, isMounted, mount, mountsUnder, onCleanup, type Mounted } from './helpers/mount';
import { asUser, baseEnv, plainUser, rootUser, type TestUser } from './helpers/users';

const T = { timeout: 120000 };
const root = rootUser();
const plain = plainUser();
const needsRoot = !root ? 'needs root (mounts, chroot, other users)' : false;
const needsRootAndPlain = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
const OTHER_UID = 47111;

// A caller that stays: one thread, one program image, answering commands on stdin, one line each.
//   r PATH   readlink PATH (prints the target, or "ERR errno")
//   c DIR    chdir
//   R DIR    chroot
//   o FILE   prints the first line of FILE (as this process can open it), or "ERR errno"
const PROBER_C = String.raw`
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
const RACE_C = String.raw`
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

let bin = '';
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

/** A fresh directory in a quiet place (see the top of this file), removed (mounts below it first) after `t`. */
function quietDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join('/var/tmp', 'varsymfs-attack-'));
  fs.chmodSync(dir, 0o755);
  onCleanup(t, () => {
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], { timeout: 10000 });
    const leaked = mountsUnder(dir);
    if (leaked.length > 0) throw new Error(`cleanup: ${leaked.join(', ')} still mounted`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Files under `base`: a key ending in `/` is a directory, any other a file with that content. */
function tree(base: string, files: Record<string, string>): void {
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
function goMount(t: TestContext, args: string[] = []): Promise<Mounted> {
  return mount(t, root!, { args: ['--allow-other', ...args], setup: (d) => (fs.chmodSync(d, 0o755), fs.symlinkSync('$<GO_VERSION:-none>', path.join(d, 'GO'))) });
}

/** Lets directory and file timestamps settle (project.c keeps nothing whose ctime is under 50 ms old). */
const settle = () => new Promise((r) => setTimeout(r, 200));

interface Prober {
  readonly pid: number;
  ask(cmd: string): Promise<string>;
}

/** A long-lived caller of `user` working in `cwd` with exactly `env` (a non-empty one: it is cached). */
async function prober(t: TestContext, user: TestUser, cwd: string, env: Record<string, string> = { EDITOR: 'vi' }): Promise<Prober> {
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

/** Runs `argv` as `user` in `cwd` with exactly `env`; killed (SIGKILL) after `timeoutMs`. */
function runIn(user: TestUser, cwd: string, argv: readonly string[], env: Record<string, string> = {}, timeoutMs = 30000): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const [file, args] = asUser(user, '/usr/bin/env', ['-i', '-C', cwd, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv]);
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: baseEnv(user), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout, stderr })));
  });
}

describe('project scope under attack: stale answers from the fast path', { skip: needsRoot }, () => {
  test('a project file edited through a hard link in another directory is seen by the next resolution of a long-lived caller', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/': '', 'elsewhere/gv': '1.21.0\n' });
    fs.linkSync(path.join(base, 'elsewhere', 'gv'), path.join(base, 'proj', '.go-version'));
    await settle();
    const p = await prober(t, root!, path.join(base, 'proj'));
    const link = `r ${path.join(m.dir, 'GO')}`;
    for (let i = 0; i < 3; i++) assert.equal(await p.ask(link), '1.21.0');
    // The same inode, written through its other name: no event in any directory of the walk.
    fs.writeFileSync(path.join(base, 'elsewhere', 'gv'), '1.22.3\n');
    await settle();
    assert.equal(fs.readFileSync(path.join(base, 'proj', '.go-version'), 'utf8'), '1.22.3\n');
    assert.equal((await runIn(root!, path.join(base, 'proj'), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' })).stdout, '1.22.3\n', 'a new process sees the edit');
    assert.equal(await p.ask(link), '1.22.3', 'the long-lived caller sees the edit too');
    assert.equal(await p.ask(link), '1.22.3');
  });

  test('a project file written through a shared mmap (the writer still holds its mapping) is seen by the next resolution', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/.go-version': '1.21.0\n' });
    await settle();
    const p = await prober(t, root!, path.join(base, 'proj'));
    const link = `r ${path.join(m.dir, 'GO')}`;
    for (let i = 0; i < 3; i++) assert.equal(await p.ask(link), '1.21.0');
    // Writes through a mapping raise no inotify event; the file's fd is closed at once, the mapping stays.
    const py = "import mmap,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nm=mmap.mmap(fd,7)\nos.close(fd)\nm[0:7]=b'1.22.3\\n'\nm.flush()\nprint('ok',flush=True)\nsys.stdin.read()";
    const writer = spawn('python3', ['-c', py, path.join(base, 'proj', '.go-version')], { stdio: ['pipe', 'pipe', 'inherit'] });
    onCleanup(t, () => {
      if (writer.exitCode === null && writer.signalCode === null) writer.kill('SIGKILL');
    });
    await new Promise<void>((resolve, reject) => {
      writer.stdout!.on('data', (d: Buffer) => d.toString().includes('ok') && resolve());
      writer.on('close', (c) => reject(new Error(`mmap writer exited (${c})`)));
    });
    await settle();
    assert.equal(fs.readFileSync(path.join(base, 'proj', '.go-version'), 'utf8'), '1.22.3\n');
    assert.equal(await p.ask(link), '1.22.3', 'the long-lived caller sees the new bytes');
    writer.stdin!.end();
  });

  test('the same directory reached through a bind mount walks the bind mount\'s own parents (chdir in one process)', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'a/.go-version': '1.21.0\n', 'a/proj/': '', 'b/.go-version': '1.22.3\n', 'b/proj/': '' });
    assert.equal(spawnSync('mount', ['--bind', path.join(base, 'a', 'proj'), path.join(base, 'b', 'proj')]).status, 0);
    assert.ok(isMounted(path.join(base, 'b', 'proj')));
    await settle();
    const p = await prober(t, root!, path.join(base, 'a', 'proj'));
    const link = `r ${path.join(m.dir, 'GO')}`;
    for (let i = 0; i < 3; i++) assert.equal(await p.ask(link), '1.21.0');
    assert.equal(await p.ask(`c ${path.join(base, 'b', 'proj')}`), 'ok');
    assert.equal((await runIn(root!, path.join(base, 'b', 'proj'), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' })).stdout, '1.22.3\n', 'a new process in b/proj gets b\'s version');
    assert.equal(await p.ask(link), '1.22.3', 'so does the process that moved there (same directory inode, other parents)');
  });

  test('a process that chroots never gets a project file above its new root', T, async (t) => {
    const base = quietDir(t);  // first: its cleanup takes the jail's bind mount of the mount down before the mount itself
    const m = await goMount(t);
    tree(base, { '.go-version': 'OUTSIDE-THE-JAIL\n', 'jail/proj/': '', 'jail/m/': '' });
    // The link is reachable inside the jail (mounted before anything is asked: a mount starts a new epoch).
    assert.equal(spawnSync('mount', ['--bind', m.dir, path.join(base, 'jail', 'm')]).status, 0);
    await settle();
    const p = await prober(t, root!, path.join(base, 'jail', 'proj'));
    for (let i = 0; i < 3; i++) assert.equal(await p.ask(`r ${path.join(base, 'jail', 'm', 'GO')}`), 'OUTSIDE-THE-JAIL');
    assert.equal(await p.ask(`R ${path.join(base, 'jail')}`), 'ok');
    assert.equal(await p.ask('o /.go-version'), 'ERR 2', 'inside the jail the outer file is out of sight');
    assert.equal(await p.ask('r /m/GO'), 'none', 'the walk stops at the caller\'s root');
  });

  test('another thread\'s chdir during a walk never files that walk under the new working directory', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'x/.go-version': '1.21.0\n', 'y/.go-version': '1.22.3\n' });
    await settle();
    // Racy by nature: the window is the walk itself. Ten runs of 2000 readlinks; every answer after the
    // process settled in y must be y's.
    const seen: string[] = [];
    for (let run = 0; run < 10; run++) {
      const r = await runIn(root!, base, [path.join(bin, 'race'), path.join(base, 'x'), path.join(base, 'y'), path.join(m.dir, 'GO'), '2000'], { EDITOR: 'vi' });
      assert.equal(r.code, 0, r.stderr);
      seen.push(...r.stdout.trim().split('\n'));
    }
    assert.deepEqual([...new Set(seen)], ['1.22.3'], `answers in y: ${seen.filter((s) => s !== '1.22.3').length} of ${seen.length} were not y's`);
  });
});

describe('project scope under attack: disclosure', { skip: needsRoot }, () => {
  test('a uid-0 caller without capabilities never gets a value from a file it cannot read', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/.go-version': 'SECRET-9\n' });
    fs.chownSync(path.join(base, 'proj', '.go-version'), OTHER_UID, OTHER_UID);
    fs.chmodSync(path.join(base, 'proj', '.go-version'), 0o600);
    await settle();
    // Root with no capabilities at all, and none regained on exec (as a hardened service or a container's root).
    const capless = ['/usr/bin/setpriv', '--securebits', '+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked', '--inh-caps=-all', '--bounding-set=-all', '--'];
    const cat = await runIn(root!, path.join(base, 'proj'), [...capless, '/bin/cat', '.go-version']);
    assert.notEqual(cat.code, 0, `the capless caller cannot read the file itself: ${cat.stdout}`);
    const r = await runIn(root!, path.join(base, 'proj'), [...capless, '/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /SECRET/);
    assert.equal(r.stdout, 'none\n');
  });
});

describe('project scope under attack: daemon survival', { skip: needsRoot }, () => {
  test('a project file symlinked onto a hung FUSE filesystem (working directory local) gives up within the timeout', T, async (t) => {
    const stall = await stallMount(t);
    const m = await goMount(t, ['--project-timeout', '0.5']);
    const base = quietDir(t);
    tree(base, { 'proj/': '' });
    fs.symlinkSync(path.join(stall.dir, 'hold', 'a', 'x'), path.join(base, 'proj', '.go-version'));
    await settle();
    // A caller whose request the daemon holds cannot even be killed (FUSE waits out a request userspace has
    // read), so the stall is released once the caller has waited 40 times the timeout: a liveness bound, not
    // a timing assertion.
    const caller = runIn(root!, path.join(base, 'proj'), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' }, 600000);
    let stuck = false;
    let waited: NodeJS.Timeout | undefined;
    const timer = new Promise<void>((r) => (waited = setTimeout(r, 20000)));
    let releasing: NodeJS.Timeout | undefined;
    // Each later lookup on the hung filesystem is held again: released over and over until the caller is done.
    await Promise.race([caller, timer.then(() => { stuck = true; releasing = setInterval(() => stall.release(), 100); })]);
    const r = await caller;
    clearTimeout(waited);  // the race is over: neither timer may outlive the test (it would keep the process alive)
    clearInterval(releasing);
    assert.equal(stuck, false, 'the caller was still waiting 20 s later, past --project-timeout 0.5: the walk was never given up');
    assert.equal(r.stdout, 'none\n');
  });
});

describe('project scope under attack: wrong answers', { skip: needsRoot }, () => {
  test('the walk goes up to /: 64 project files nearer the working directory do not hide a farther one', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    const files: Record<string, string> = { 'top/.go-version': '1.22.3\n' };
    let dir = 'top';
    for (let level = 1; level <= 8; level++) {
      dir = `${dir}/l${level}`;
      // Eight files each answering some other variable (none answers GO_VERSION).
      files[`${dir}/.varsymfs-env`] = 'X=1\n';
      for (const f of ['.tool-versions', '.nvmrc', '.node-version', '.python-version', '.ruby-version', '.java-version', '.terraform-version']) files[`${dir}/${f}`] = f === '.tool-versions' ? 'nodejs 20\n' : '1\n';
    }
    tree(base, files);
    await settle();
    const r = await runIn(root!, path.join(base, dir), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' });
    assert.equal(r.stdout, '1.22.3\n');
  });
});

describe('project scope under attack: a root --allow-other daemon serving another user', { skip: needsRootAndPlain }, () => {
  test('an ancestor the caller cannot search does not hide a project file in its working directory it can read', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'locked/proj/.go-version': '1.22.3\n' });
    chownTree(path.join(base, 'locked', 'proj'), plain!);
    await settle();
    const p = await prober(t, plain!, path.join(base, 'locked', 'proj'));
    assert.equal(await p.ask(`r ${path.join(m.dir, 'GO')}`), '1.22.3');
    // The caller is already inside; the directory above is then closed to it.
    fs.chmodSync(path.join(base, 'locked'), 0o700);
    assert.equal(await p.ask('o .go-version'), '1.22.3', 'the caller still reads its own project file');
    assert.equal(await p.ask(`r ${path.join(m.dir, 'GO')}`), '1.22.3', 'so the link answers from it');
  });
});
