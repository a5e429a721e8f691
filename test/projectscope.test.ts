// The project scope (issue 11) through real mounts: a link resolves to the version the caller's project
// asks for (.tool-versions, the one-value files, .varsymfs-env, --project-file mappings), found by walking up
// from the caller's working directory. Every caller is a real process with an explicit working directory
// and exactly the environment given (started through `env -i`, so nothing is inherited, as an IDE or cron
// starts programs). What each test asserts is the target the caller got: readlink's output, or the path
// of the stand-in `go` the kernel ran through the link.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { alive, chownTree, mount, onCleanup, tempDir, type Mounted, waitFor } from './helpers/mount';
import { settle } from './helpers/prober';
import { asUser, baseEnv, describeEachUser, plainUser, rootUser, type TestUser } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();
const needsRootAndPlain = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
/** A second unprivileged identity, by raw ids (no account needed). */

/** Each mount holds `<NAME> -> $<NAME:-none>` for these, so readlink shows what NAME resolved to. */
const VARIABLES = ['GO_VERSION', 'NODE_VERSION', 'PYTHON_VERSION', 'RUBY_VERSION', 'JAVA_VERSION', 'TERRAFORM_VERSION', 'BUN_VERSION', 'NVM_NODE_VERSION', 'JAVA_HOME', 'ANY_THING', 'V'];
/** Versions in the simulated install tree: <installs>/<version>/bin/go. */
const VERSIONS = ['1.21.0', '1.22.3', '9.9.9'];

// The stand-in toolchain: `bin/go` prints the path the kernel ran it from. A binary, not a script: a script
// is opened again by its interpreter (a second resolution, after the exec), so only a binary shows what the
// exec itself resolved to.
const STAND_IN_GO = String.raw`
#include <stdio.h>
#include <unistd.h>
int main (void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return 1;
  exe[n] = 0;
  printf("%s\n", exe);
  return 0;
}
`;

let installs = '';
before(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-installs-'));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'go.c'), STAND_IN_GO);
  const bin = path.join(dir, 'go');
  const r = spawnSync('gcc', ['-O1', '-o', bin, path.join(dir, 'go.c')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `gcc: ${r.stderr}`);
  installs = path.join(dir, 'installs');
  for (const v of VERSIONS) {
    fs.mkdirSync(path.join(installs, v, 'bin'), { recursive: true });
    fs.copyFileSync(bin, path.join(installs, v, 'bin', 'go'));
    fs.chmodSync(path.join(installs, v, 'bin', 'go'), 0o755);
  }
});
after(() => {
  if (installs !== '') fs.rmSync(path.dirname(installs), { recursive: true, force: true });
});

/** The stand-in `go` of `version`, as its output names it. */
const goOf = (version: string) => path.join(installs, version, 'bin', 'go');

/** Mount setup: one link per variable, and `go -> <installs>/$<GO_VERSION:-none>`. */
function variantLinks(dir: string): void {
  for (const v of VARIABLES) fs.symlinkSync(`$<${v}:-none>`, path.join(dir, v));
  fs.symlinkSync(`${installs}/$<GO_VERSION:-none>`, path.join(dir, 'go'));
}

/** A mount of `user` holding the variant links. */
function linksMount(t: TestContext, user: TestUser, args: string[] = []): Promise<Mounted> {
  return mount(t, user, { args, setup: variantLinks });
}

/** A root --allow-other mount holding the variant links, for other users' callers. */
async function sharedMount(t: TestContext): Promise<Mounted> {
  return mount(t, root!, { args: ['--allow-other'], setup: (d) => (fs.chmodSync(d, 0o755), variantLinks(d)) });
}

/**
 * Makes a project tree under `base` (a directory of `owner`): each key is a path relative to `base`; a key
 * ending in `/` is a directory, any other key a file holding the value (bytes as given). Parents are made
 * as needed; everything made is `owner`'s. Returns `base`.
 */
function projectTree(base: string, files: Record<string, string | Buffer>, owner: TestUser): string {
  for (const [rel, contents] of Object.entries(files)) {
    const p = path.join(base, rel);
    if (rel.endsWith('/')) {
      fs.mkdirSync(p, { recursive: true });
    } else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, contents);
    }
  }
  if (process.geteuid?.() === 0) chownTree(base, owner);
  return base;
}

/** A fresh project tree of `user` (see projectTree). */
function newProject(t: TestContext, user: TestUser, files: Record<string, string | Buffer>): string {
  return projectTree(tempDir(t, user, 'varsymfs-proj-'), files, user);
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs `argv` as `user`, working in `cwd`, with exactly `env` (through `env -i`: not even PATH is
 * inherited). The directory is entered as `user` (`env -C`), so it may lie in a mount only that user may
 * enter. Output is kept as bytes. Time-bounded (SIGKILL).
 */
function runIn(user: TestUser, cwd: string, argv: readonly string[], env: Record<string, string> = {}, timeoutMs = 300000): Promise<Ran> {
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const [file, args] = asUser(user, '/usr/bin/env', ['-i', '-C', cwd, ...assignments, ...argv]);
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: baseEnv(user), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => (clearTimeout(timer), resolve({ code: 127, signal: null, stdout: Buffer.concat(out), stderr: stderr + err.message })));
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout: Buffer.concat(out), stderr })));
  });
}

/** What `link` resolves to for a process of `user` working in `cwd` with exactly `env` (readlink's answer). */
async function resolveIn(user: TestUser, cwd: string, link: string, env: Record<string, string> = {}): Promise<string> {
  const r = await runIn(user, cwd, ['/usr/bin/readlink', link], env);
  assert.equal(r.code, 0, `readlink ${link} in ${cwd}: exit ${r.code} ${r.signal ?? ''} ${r.stderr}`);
  return r.stdout.toString().replace(/\n$/, '');
}

/** The environment for the varsymfs CLI run as `user`: the base one, `state` (a mount's XDG_STATE_HOME), `extra`. */
function cliEnv(user: TestUser, state: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...baseEnv(user), ...state, ...extra })) if (v !== undefined) env[k] = v;
  return env;
}

interface ProjectCounters {
  enabled: boolean;
  files: string[];
  walks: number;
  answered: number;
  timedOut: number;
}

/** The `project` object of `status --json`. */
async function projectStatus(m: Mounted): Promise<ProjectCounters> {
  const r = await m.cli(['status', '--json', m.dir]);
  assert.equal(r.code, 0, r.stderr);
  const [s] = JSON.parse(r.stdout) as Array<{ project: ProjectCounters }>;
  assert.ok(s?.project, `status --json has a project object: ${r.stdout}`);
  return s.project;
}

/** The kernel wait channel of each of the daemon's threads. */
function daemonWaits(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8');
    } catch {
      return '';
    }
  });
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}


// ---- the walk and the resolution order ---------------------------------------------------------------

describeEachUser((user) => {
  test('a .tool-versions in the working directory answers its tools; elsewhere nothing does', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': '# tools\ngolang 1.22.3 1.21.0   # first wins\nnodejs 20.11.1\npython system\nruby\n' });
    const outside = newProject(t, user, {});
    const at = (cwd: string, v: string) => resolveIn(user, cwd, path.join(m.dir, v));
    assert.equal(await at(proj, 'GO_VERSION'), '1.22.3');
    assert.equal(await at(proj, 'NODE_VERSION'), '20.11.1');
    assert.equal(await at(proj, 'PYTHON_VERSION'), 'none', '`system` is no project value: the inline fallback');
    assert.equal(await at(proj, 'RUBY_VERSION'), 'none', 'a tool without a version answers nothing');
    assert.equal(await at(outside, 'GO_VERSION'), 'none', 'a directory with no project file above it');
    assert.equal(await at('/', 'GO_VERSION'), 'none');
  });

  test('a working directory three levels below the project directory', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.22.3\n', 'a/b/c/': '' });
    assert.equal(await resolveIn(user, path.join(proj, 'a', 'b', 'c'), path.join(m.dir, 'GO_VERSION')), '1.22.3');
    assert.equal((await runIn(user, path.join(proj, 'a', 'b', 'c'), [path.join(m.dir, 'go', 'bin', 'go')])).stdout.toString(), `${goOf('1.22.3')}\n`);
  });

  test('nested projects: the nearest directory naming a variable wins, for each variable separately', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, {
      '.tool-versions': 'golang 1.21.0\nnodejs 18.0.0\n',
      'sub/.tool-versions': 'golang 1.22.3\n',
      'sub/x/.nvmrc': '20.11.1\n',
      'sub/x/y/': '',
    });
    const at = (rel: string, v: string) => resolveIn(user, path.join(proj, rel), path.join(m.dir, v));
    assert.equal(await at('.', 'GO_VERSION'), '1.21.0');
    assert.equal(await at('sub', 'GO_VERSION'), '1.22.3');
    assert.equal(await at('sub', 'NODE_VERSION'), '18.0.0', 'the parent still answers what the subproject does not pin');
    assert.equal(await at('sub/x/y', 'GO_VERSION'), '1.22.3');
    assert.equal(await at('sub/x/y', 'NODE_VERSION'), '20.11.1', 'a nearer .nvmrc beats the root .tool-versions');
  });

  test('the environment beats a project file; an empty value counts as unset', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.22.3\n' });
    const link = path.join(m.dir, 'GO_VERSION');
    assert.equal(await resolveIn(user, proj, link, { GO_VERSION: '1.21.0' }), '1.21.0');
    assert.equal(await resolveIn(user, proj, link, { GO_VERSION: '' }), '1.22.3');
    assert.equal(await resolveIn(user, proj, link), '1.22.3');
    assert.equal((await runIn(user, proj, [path.join(m.dir, 'go', 'bin', 'go')], { GO_VERSION: '1.21.0' })).stdout.toString(), `${goOf('1.21.0')}\n`);
  });

  test('a project file beats a mount default; `system` falls through to it', T, async (t) => {
    const m = await linksMount(t, user, ['--default', 'GO_VERSION=9.9.9', '--default', 'PYTHON_VERSION=3.0.0']);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.22.3\npython system\n' });
    const outside = newProject(t, user, {});
    assert.equal(await resolveIn(user, proj, path.join(m.dir, 'GO_VERSION')), '1.22.3');
    assert.equal(await resolveIn(user, outside, path.join(m.dir, 'GO_VERSION')), '9.9.9');
    assert.equal(await resolveIn(user, proj, path.join(m.dir, 'PYTHON_VERSION')), '3.0.0');
    assert.equal((await runIn(user, outside, [path.join(m.dir, 'go', 'bin', 'go')])).stdout.toString(), `${goOf('9.9.9')}\n`);
    assert.equal((await runIn(user, proj, [path.join(m.dir, 'go', 'bin', 'go')])).stdout.toString(), `${goOf('1.22.3')}\n`);
  });

  test('each one-value file answers its variable; precedence inside one directory', T, async (t) => {
    const m = await linksMount(t, user);
    const cases: Array<[file: string, variable: string, contents: string, expected: string]> = [
      ['.go-version', 'GO_VERSION', '1.22.3\n', '1.22.3'],
      ['.node-version', 'NODE_VERSION', 'v20.11.1\n', 'v20.11.1'],
      ['.nvmrc', 'NODE_VERSION', '# pinned\n\n  18.19.0  extra words\n', '18.19.0'],
      ['.python-version', 'PYTHON_VERSION', '3.12.1\n3.11.7\n', '3.12.1'],
      ['.ruby-version', 'RUBY_VERSION', '3.3.0', '3.3.0'],
      ['.java-version', 'JAVA_VERSION', '21\r\n', '21'],
      ['.terraform-version', 'TERRAFORM_VERSION', '1.7.4\n', '1.7.4'],
    ];
    for (const [file, variable, contents, expected] of cases) {
      const proj = newProject(t, user, { [file]: contents, 'deep/er/': '' });
      assert.equal(await resolveIn(user, path.join(proj, 'deep', 'er'), path.join(m.dir, variable)), expected, file);
      assert.equal(await resolveIn(user, proj, path.join(m.dir, 'GO_VERSION')), variable === 'GO_VERSION' ? expected : 'none', `${file} answers only ${variable}`);
    }
    const both = newProject(t, user, { '.nvmrc': '20.0.0\n', '.node-version': '18.0.0\n', '.varsymfs-env': 'GO_VERSION=1.21.0\n', '.tool-versions': 'golang 9.9.9\n', '.go-version': '1.22.3\n' });
    assert.equal(await resolveIn(user, both, path.join(m.dir, 'NODE_VERSION')), '20.0.0', '.nvmrc before .node-version');
    assert.equal(await resolveIn(user, both, path.join(m.dir, 'GO_VERSION')), '1.21.0', '.varsymfs-env before .tool-versions before .go-version');
    fs.rmSync(path.join(both, '.varsymfs-env'));
    assert.equal(await resolveIn(user, both, path.join(m.dir, 'GO_VERSION')), '9.9.9', '.tool-versions before .go-version');
    const empty = newProject(t, user, { '.go-version': '1.21.0\n', 'sub/.go-version': '# nothing\n\n' });
    assert.equal(await resolveIn(user, path.join(empty, 'sub'), path.join(m.dir, 'GO_VERSION')), '1.21.0', 'a one-value file with no word answers nothing');
  });

  test('.varsymfs-env: NAME=VALUE lines answer any variable', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, {
      '.varsymfs-env': '# any variable\nGO_VERSION=1.22.3\nexport JAVA_VERSION="21"\n  ANY_THING = a#b=c:d  \nV=\nPYTHON_VERSION=system\nGO_VERSION=1.21.0\nJAVA_HOME=/usr/lib/jvm/java-21\nnot a line\n',
      'sub/': '',
    });
    const at = (v: string) => resolveIn(user, path.join(proj, 'sub'), path.join(m.dir, v));
    assert.equal(await at('GO_VERSION'), '1.22.3', 'the first line naming a variable wins');
    assert.equal(await at('JAVA_VERSION'), '21');
    assert.equal(await at('ANY_THING'), 'a#b=c:d');
    assert.equal(await at('JAVA_HOME'), 'none', 'a value with a / is refused (not one path component)');
    assert.equal(await at('V'), 'none', 'an empty value counts as unset');
    assert.equal(await at('PYTHON_VERSION'), 'system', 'no special values in the own file');
  });

  test('values are bytes: a non-UTF-8 value in .varsymfs-env resolves to exactly those bytes', T, async (t) => {
    const m = await linksMount(t, user);
    const value = Buffer.from([0x67, 0x6f, 0xff, 0xfe, 0x80, 0x2d, 0x31]);
    const proj = newProject(t, user, { '.varsymfs-env': Buffer.concat([Buffer.from('V='), value, Buffer.from('\n')]) });
    const r = await runIn(user, proj, ['/usr/bin/readlink', path.join(m.dir, 'V')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString('hex'), Buffer.concat([value, Buffer.from('\n')]).toString('hex'));
    const size = await runIn(user, proj, ['/usr/bin/stat', '-c', '%s', path.join(m.dir, 'V')]);
    assert.equal(size.stdout.toString().trim(), String(value.length), 'the link\'s size is that of the bytes it resolves to');
  });

  // ---- exact and fresh -------------------------------------------------------------------------------

  test('an edit to a project file is seen by the next resolution', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.21.0\n' });
    const file = path.join(proj, '.tool-versions');
    const link = path.join(m.dir, 'GO_VERSION');
    assert.equal(await resolveIn(user, proj, link), '1.21.0');
    fs.writeFileSync(file, 'golang 1.22.3\n');
    assert.equal(await resolveIn(user, proj, link), '1.22.3');
    fs.writeFileSync(file, 'golang 1.22.4\n'); // same size, same second
    assert.equal(await resolveIn(user, proj, link), '1.22.4');
    // One process, one thread, in a loop (its environment cached, its answers memoised): each edit, in
    // place or by rename as editors save, is seen by the very next readlink. Started from a shell of
    // the user, so that the daemon's caller cache does work for it.
    const py = String.raw`
import os, sys
link = sys.argv[1]
for i in range(200):
    want = "1.%d.0" % i
    if i % 2:
        with open(".tool-versions.tmp", "w") as f: f.write("golang %s\n" % want)
        os.rename(".tool-versions.tmp", ".tool-versions")
    else:
        with open(".tool-versions", "r+") as f: f.truncate(0); f.write("golang %s\n" % want)
    got = os.readlink(link)
    if got != want: print("stale at %d: %s, wanted %s" % (i, got, want)); sys.exit(1)
print("ok")
`;
    const r = await runIn(user, proj, ['/bin/sh', '-c', '/usr/bin/python3 -c "$0" "$1"; true', py, link], {}, 60000);
    assert.equal(r.stdout.toString(), 'ok\n', r.stderr);
  });

  test('a project file created in a directory on the walk is seen by the next resolution', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.21.0\n', 'a/b/c/': '' });
    const cwd = path.join(proj, 'a', 'b', 'c');
    const link = path.join(m.dir, 'GO_VERSION');
    assert.equal(await resolveIn(user, cwd, link), '1.21.0');
    projectTree(proj, { 'a/.go-version': '1.22.3\n' }, user);
    assert.equal(await resolveIn(user, cwd, link), '1.22.3', 'a new file in an intermediate directory');
    projectTree(proj, { 'a/b/c/.varsymfs-env': 'GO_VERSION=9.9.9\n' }, user);
    assert.equal(await resolveIn(user, cwd, link), '9.9.9', 'a new file in the working directory');
    fs.rmSync(path.join(proj, 'a', 'b', 'c', '.varsymfs-env'));
    fs.rmSync(path.join(proj, 'a', '.go-version'));
    assert.equal(await resolveIn(user, cwd, link), '1.21.0', 'removed files answer no more');
    const py = String.raw`
import os, sys
link, mid = sys.argv[1], sys.argv[2]
for i in range(200):
    if i % 2:
        with open(os.path.join(mid, ".go-version"), "w") as f: f.write("1.%d.0\n" % i)
        want = "1.%d.0" % i
    else:
        if os.path.exists(os.path.join(mid, ".go-version")): os.unlink(os.path.join(mid, ".go-version"))
        want = "1.21.0"
    got = os.readlink(link)
    if got != want: print("stale at %d: %s, wanted %s" % (i, got, want)); sys.exit(1)
print("ok")
`;
    const r = await runIn(user, cwd, ['/bin/sh', '-c', '/usr/bin/python3 -c "$0" "$1" "$2"; true', py, link, path.join(proj, 'a', 'b')], {}, 60000);
    assert.equal(r.stdout.toString(), 'ok\n', r.stderr);
  });

  // ---- where the working directory is --------------------------------------------------------------

  test('one program moving between two projects gets each one\'s value, however often it asked in the other', T, async (t) => {
    // Its environment cached, its answers kept by its project state: a kept answer of one project is never
    // the answer in the other (the state is part of the memo's key). Files and directories dated in the
    // past, so that each walk's state is one that may be kept.
    const m = await linksMount(t, user);
    const a = newProject(t, user, { '.tool-versions': 'golang 1.21.0\n' });
    const b = newProject(t, user, { '.tool-versions': 'golang 1.22.3\n' });
    const past = new Date(Date.now() - 3600_000);
    for (const p of [a, b, path.join(a, '.tool-versions'), path.join(b, '.tool-versions')]) fs.utimesSync(p, past, past);
    const py = String.raw`
import os, sys
link, a, b = sys.argv[1:4]
got = []
for i in range(6):
    os.chdir(a if i % 2 == 0 else b)
    got.append(os.readlink(link)); got.append(os.readlink(link))
print(" ".join(got))
`;
    const link = path.join(m.dir, 'GO_VERSION');
    // Started from a shell of the user, so that the daemon's caller cache does work for it.
    const r = await runIn(user, '/', ['/bin/sh', '-c', '/usr/bin/python3 -c "$0" "$1" "$2" "$3"; true', py, link, a, b], {}, 60000);
    assert.equal(r.stdout.toString().trim(), Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? '1.21.0 1.21.0' : '1.22.3 1.22.3')).join(' '), r.stderr);
  });

  test('a project file created while one program asks is seen by its next resolutions, after a fallback answered', T, async (t) => {
    // The fallback's answer depends on the project files too (none named the variable): kept by the project
    // state, never as an answer independent of it.
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { 'a/': '' });
    const py = String.raw`
import os, sys
link = sys.argv[1]
first = os.readlink(link); again = os.readlink(link)
with open(os.path.join("..", ".tool-versions"), "w") as f: f.write("golang 1.22.3\n")
last = again
for i in range(400):
    last = os.readlink(link)
    if last == "1.22.3": break
print(first, again, last)
`;
    // Started from a shell of the user, so that the daemon's caller cache does work for it.
    const r = await runIn(user, path.join(proj, 'a'), ['/bin/sh', '-c', '/usr/bin/python3 -c "$0" "$1"; true', py, path.join(m.dir, 'GO_VERSION')], {}, 60000);
    assert.equal(r.stdout.toString(), 'none none 1.22.3\n', r.stderr);
  });

  test('a program that keeps resolving after its memoized answer was evicted still gets its project\'s value', T, async (t) => {
    // Found by the bench: the per-image walk kept on the fast path knew the project state but not the
    // files, so a memo miss under that state handed JS no files (the inline fallback answered).
    const many = 6000; // more distinct answers than the memo keeps (4096), all made by this one program
    const m = await mount(t, user, { setup: (d) => { variantLinks(d); for (let i = 0; i < many; i++) fs.symlinkSync(`$<V>/${i}`, path.join(d, `f${i}`)); } });
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.22.3\n' });
    const script = `import os,sys
d=sys.argv[1]
first=os.readlink(d+'/GO_VERSION')
for i in range(${many}): os.readlink(d+'/f%d' % i)
print(first, os.readlink(d+'/GO_VERSION'))`;
    const r = await runIn(user, proj, ['/usr/bin/python3', '-c', script, m.dir], { V: 'v' }, 120000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), '1.22.3 1.22.3');
  });

  test('a working directory inside the mount: project files are read from the backing store', T, async (t) => {
    const m = await mount(t, user, {
      setup: (d) => {
        variantLinks(d);
        projectTree(d, { 'proj/.tool-versions': 'golang 1.22.3\n', 'proj/a/b/': '', 'real-versions': 'golang 9.9.9\n', 'linked/': '' }, user);
        fs.symlinkSync('../real-versions', path.join(d, 'linked', '.tool-versions'));
      },
    });
    const link = path.join(m.dir, 'GO_VERSION');
    assert.equal(await resolveIn(user, path.join(m.dir, 'proj', 'a', 'b'), link), '1.22.3');
    assert.equal((await runIn(user, path.join(m.dir, 'proj'), [path.join(m.dir, 'go', 'bin', 'go')])).stdout.toString(), `${goOf('1.22.3')}\n`);
    // An edit made through the mount is seen by the next resolution.
    const w = await runIn(user, path.join(m.dir, 'proj'), ['/bin/sh', '-c', 'printf "golang 1.21.0\\n" > .tool-versions']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(await resolveIn(user, path.join(m.dir, 'proj', 'a', 'b'), link), '1.21.0');
    assert.equal(await resolveIn(user, path.join(m.dir, 'linked'), link), 'none', 'a symlinked project file inside the backing store counts as absent');
    assert.ok(alive(m.pid));
  });

  test('a working directory inside the mount also gets the project files above the mount point', T, async (t) => {
    // A file name only this mount looks for (--project-file), in the mount point's parent directory.
    const name = `.varsymfs-test-${process.pid}-${Date.now()}`;
    const m = await mount(t, user, { args: ['--project-file', `${name}=ANY_THING`], setup: (d) => (variantLinks(d), projectTree(d, { 'sub/': '' }, user)) });
    const above = path.join(path.dirname(m.dir), name);
    fs.writeFileSync(above, 'from-above\n', { mode: 0o644 });
    t.after(() => fs.rmSync(above, { force: true }));
    assert.equal(await resolveIn(user, path.join(m.dir, 'sub'), path.join(m.dir, 'ANY_THING')), 'from-above');
  });

  test('a deleted working directory has no project files: the inline fallback answers', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.21.0\n', 'gone/.tool-versions': 'golang 1.22.3\n' });
    const gone = path.join(proj, 'gone');
    const link = path.join(m.dir, 'GO_VERSION');
    assert.equal(await resolveIn(user, gone, link), '1.22.3');
    const r = await runIn(user, gone, ['/bin/sh', '-c', '/bin/rm -rf "$0" && /usr/bin/readlink "$1" && /usr/bin/readlink /proc/self/cwd', gone, link]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), `none\n${gone} (deleted)\n`, 'neither the deleted directory\'s file nor its parent\'s');
  });

  // ---- exec through the link ---------------------------------------------------------------------------

  test('pending exec: <mount>/go/bin/go run in a project with no variable set is the project\'s version', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.22.3\n', 'cmd/server/': '' });
    const cwd = path.join(proj, 'cmd', 'server');
    const go = path.join(m.dir, 'go', 'bin', 'go');
    assert.equal((await runIn(user, cwd, [go])).stdout.toString(), `${goOf('1.22.3')}\n`);
    // The exec'ing process (env) has GO_VERSION=1.21.0 in its own environment; the program it execs
    // through the link has none: the pending exec's environment is empty, so the project answers.
    const r = await runIn(user, cwd, ['/usr/bin/env', '-i', go], { GO_VERSION: '1.21.0' });
    assert.equal(r.stdout.toString(), `${goOf('1.22.3')}\n`, r.stderr);
    // And the other way: set for the one command only, it beats the project.
    const r2 = await runIn(user, cwd, ['/usr/bin/env', 'GO_VERSION=1.21.0', go]);
    assert.equal(r2.stdout.toString(), `${goOf('1.21.0')}\n`, r2.stderr);
  });

  test('env -i: a process started with no environment at all (as an IDE starts one) gets the project\'s toolchain', T, async (t) => {
    const m = await linksMount(t, user, ['--default', 'GO_VERSION=9.9.9']);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.22.3\n', 'internal/pkg/': '' });
    const cwd = path.join(proj, 'internal', 'pkg');
    const r = await runIn(user, cwd, ['/usr/bin/env', '-i', '/usr/bin/readlink', path.join(m.dir, 'GO_VERSION')], { GO_VERSION: '1.21.0', HOME: user.home });
    assert.equal(r.stdout.toString(), '1.22.3\n', r.stderr);
    const go = await runIn(user, cwd, ['/usr/bin/env', '-i', path.join(m.dir, 'go', 'bin', 'go')], { GO_VERSION: '1.21.0' });
    assert.equal(go.stdout.toString(), `${goOf('1.22.3')}\n`, go.stderr);
  });

  // ---- the mount's flags ---------------------------------------------------------------------------------

  test('--no-project-files: project files are ignored; the environment and defaults still answer', T, async (t) => {
    const m = await linksMount(t, user, ['--no-project-files', '--default', 'NODE_VERSION=18.0.0']);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.22.3\nnodejs 20.11.1\n', '.varsymfs-env': 'V=x\n' });
    assert.equal(await resolveIn(user, proj, path.join(m.dir, 'GO_VERSION')), 'none');
    assert.equal(await resolveIn(user, proj, path.join(m.dir, 'V')), 'none');
    assert.equal(await resolveIn(user, proj, path.join(m.dir, 'NODE_VERSION')), '18.0.0');
    assert.equal(await resolveIn(user, proj, path.join(m.dir, 'GO_VERSION'), { GO_VERSION: '1.21.0' }), '1.21.0');
    const p = await projectStatus(m);
    assert.equal(p.enabled, false);
    assert.equal(p.answered, 0);
  });

  test('--project-file FILE=VARIABLE: a file name mapped to a variable, after the built-in ones', T, async (t) => {
    const m = await linksMount(t, user, ['--project-file', '.bun-version=BUN_VERSION', '--project-file', '.nvmrc=NVM_NODE_VERSION']);
    const proj = newProject(t, user, { '.bun-version': '1.1.8\n', '.nvmrc': 'v20.11.1\n', 'a/b/': '' });
    const cwd = path.join(proj, 'a', 'b');
    assert.equal(await resolveIn(user, cwd, path.join(m.dir, 'BUN_VERSION')), '1.1.8');
    assert.equal(await resolveIn(user, cwd, path.join(m.dir, 'NVM_NODE_VERSION')), 'v20.11.1', 'a built-in file given a second variable');
    assert.equal(await resolveIn(user, cwd, path.join(m.dir, 'NODE_VERSION')), 'v20.11.1', 'and it still answers its own');
    const p = await projectStatus(m);
    assert.ok(p.files.includes('.bun-version'), `status lists the mapped file: ${JSON.stringify(p.files)}`);
    // Without the mapping the file means nothing.
    const plainMount = await linksMount(t, user);
    assert.equal(await resolveIn(user, cwd, path.join(plainMount.dir, 'BUN_VERSION')), 'none');
  });

  test('a bad --project-file: one line `Error: invalid --project-file ...`, exit 2 (a bad command line), no mount', T, async (t) => {
    const state = path.join(tempDir(t, user, 'varsymfs-state-'), 'state');
    for (const bad of ['no-equals-sign', '.tool-versions=GO_VERSION', '.varsymfs-env=V', 'a/b=X', '.=X', '..=X', '=X', '.bun-version=1BAD', '.bun-version=']) {
      const dir = tempDir(t, user);
      const r = await runIn(user, '/', [user.bin, 'mount', dir, '--project-file', bad], cliEnv(user, { XDG_STATE_HOME: state }));
      assert.equal(r.code, 2, `${bad}: a bad command line (exit 2): ${r.stderr}`);
      assert.match(r.stderr, /^Error: invalid --project-file '.*': .+\n$/, `${bad}: ${JSON.stringify(r.stderr)}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout.toString(), '');
      assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir), `${bad}: nothing mounted`);
    }
  });

  // ---- visible -----------------------------------------------------------------------------------------

  test('resolve --explain names the file and line that answered; --json gives it as `file`', T, async (t) => {
    // The answer exists in the store: resolve exits 1 for a target that is not installed.
    const m = await mount(t, user, { setup: (d) => (variantLinks(d), fs.symlinkSync('$<GO_VERSION:-none>/$<V:-none>', path.join(d, 'pair')), fs.mkdirSync(path.join(d, '1.22.3', 'from-env'), { recursive: true })) });
    const proj = newProject(t, user, { '.tool-versions': '# pins\n\ngolang 1.22.3\n', 'a/b/c/': '' });
    const cwd = path.join(proj, 'a', 'b', 'c');
    const pair = path.join(m.dir, 'pair');
    const ex = await runIn(user, cwd, [user.bin, 'resolve', pair, '--explain'], cliEnv(m.user, m.env, { V: 'from-env' }));
    assert.equal(ex.code, 0, ex.stderr);
    const text = ex.stdout.toString();
    assert.match(text, /^resolves to\s+1\.22\.3\/from-env$/m, text);
    const line = /^\s+\$<GO_VERSION>\s+project file\s+"1\.22\.3"\s+(\S+)\s*$/m.exec(text);
    assert.ok(line, `a project file line for GO_VERSION in:\n${text}`);
    assert.equal(line[1], `${proj}/.tool-versions:3`);
    assert.match(text, /^\s+\$<V>\s+environment\s+"from-env"\s*$/m, text);
    const js = await runIn(user, cwd, [user.bin, 'resolve', pair, '--json'], cliEnv(m.user, m.env, { V: 'from-env' }));
    assert.equal(js.code, 0, js.stderr);
    const refs = (JSON.parse(js.stdout.toString()) as { refs: Array<{ name: string; scope: string; value: string; file?: string }> }).refs;
    const go = refs.find((r) => r.name === 'GO_VERSION');
    assert.deepEqual([go?.scope, go?.value, go?.file], ['project file', '1.22.3', `${proj}/.tool-versions:3`]);
    assert.equal(refs.find((r) => r.name === 'V')?.file, undefined, 'only a project answer names a file');
    // Outside the project: no project file is named.
    const out = await runIn(user, '/', [user.bin, 'resolve', pair, '--explain'], cliEnv(m.user, m.env));
    assert.doesNotMatch(out.stdout.toString(), /project file/);
  });

  test('status --json counts the resolutions a project file answered; the text status has a project files line', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.22.3\n' });
    const outside = newProject(t, user, {});
    const link = path.join(m.dir, 'GO_VERSION');
    const s0 = await projectStatus(m);
    assert.equal(s0.enabled, true);
    for (const f of ['.varsymfs-env', '.tool-versions', '.go-version', '.nvmrc']) assert.ok(s0.files.includes(f), `${f} in ${JSON.stringify(s0.files)}`);
    assert.equal(await resolveIn(user, proj, link), '1.22.3');
    const s1 = await projectStatus(m);
    assert.ok(s1.answered > s0.answered, `answered ${s0.answered} -> ${s1.answered}`);
    assert.ok(s1.walks > s0.walks, `walks ${s0.walks} -> ${s1.walks}`);
    assert.equal(await resolveIn(user, proj, link, { GO_VERSION: '1.21.0' }), '1.21.0');
    assert.equal(await resolveIn(user, outside, link), 'none');
    const s2 = await projectStatus(m);
    assert.equal(s2.answered, s1.answered, 'answers from the environment or from nothing are not project answers');
    assert.equal(s2.timedOut, 0);
    const text = await m.cli(['status', m.dir]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^\s*project files\b/m, text.stdout);
  });

  test('the debug log names the project file and line that answered', T, async (t) => {
    const m = await linksMount(t, user, ['--log-level', 'debug']);
    const proj = newProject(t, user, { '.tool-versions': '# pins\ngolang 1.22.3\n', 'a/': '' });
    // The daemon reads the caller's name (/proc/<pid>/comm) just after its reply: the caller stays until the
    // line is written (then its stdin is closed), so that its name is still there to read.
    const py = 'import os,sys\nprint(os.getpid()); print(os.readlink(sys.argv[1]), flush=True); sys.stdin.read()';
    const [file, args] = asUser(user, '/usr/bin/env', ['-i', '-C', path.join(proj, 'a'), '/usr/bin/python3', '-c', py, path.join(m.dir, 'GO_VERSION')]);
    const caller = spawn(file, args, { env: baseEnv(user), cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
    onCleanup(t, () => {
      if (caller.exitCode === null && caller.signalCode === null) caller.kill('SIGKILL');
    });
    let said = '';
    caller.stdout.on('data', (d: Buffer) => (said += d.toString()));
    assert.ok(await waitFor(() => said.split('\n').length > 2 || caller.exitCode !== null), 'the caller printed its pid and the target');
    const [pid, target] = said.split('\n');
    assert.equal(target, '1.22.3', said);
    const escaped = `${proj}/.tool-versions:2`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const line = new RegExp(`^\\S+ debug resolve pid=${pid} \\(python3\\) /GO_VERSION -> 1\\.22\\.3 \\[GO_VERSION:project file ${escaped}\\] env=`);
    const lines = () => fs.readFileSync(m.log, 'utf8').split('\n');
    // The line is written just after the reply.
    const logged = await waitFor(() => lines().some((l) => line.test(l)));
    caller.stdin.end();
    assert.ok(logged, lines().join('\n'));
  });

  // ---- hostile project files ---------------------------------------------------------------------------

  test('a FIFO named .tool-versions never hangs the daemon: the caller and everyone else get answers', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.21.0\n', 'fifo/': '' });
    const fifo = path.join(proj, 'fifo', '.tool-versions');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    if (process.geteuid?.() === 0) fs.lchownSync(fifo, user.uid, user.gid);
    const link = path.join(m.dir, 'GO_VERSION');
    const inFifoDir = runIn(user, path.join(proj, 'fifo'), ['/usr/bin/readlink', link], {}, 600000);
    const blockedThreads = () => daemonWaits(m.pid).filter((w) => /fifo|wait_for_partner/.test(w)).length;
    let stuck: number;
    let other: string;
    try {
      // Either the caller is answered (its walk is over: no thread of it can be blocked on the FIFO), or a
      // daemon thread blocks opening it: whichever comes first, then the count.
      let answered = false;
      void inFifoDir.then(() => (answered = true));
      await waitFor(() => answered || blockedThreads() > 0, 600000);
      stuck = blockedThreads();
      other = await resolveIn(user, proj, link);
    } finally {
      // Release anything blocked opening the FIFO for reading (ENXIO when nobody is).
      try {
        fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        /* nobody was waiting */
      }
    }
    const r = await inFifoDir;
    assert.equal(stuck, 0, 'a daemon thread blocked on the FIFO');
    assert.equal(other, '1.21.0', 'another caller is answered meanwhile');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '1.21.0\n', 'a FIFO is no project file: the parent answers');
    assert.ok(alive(m.pid));
  });

  test('a directory named .tool-versions (or .varsymfs-env, .go-version) is no project file', T, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.21.0\nnodejs 20.0.0\n', 'sub/.tool-versions/golang': '9.9.9\n', 'sub/.varsymfs-env/x': 'GO_VERSION=9.9.9\n', 'sub/.nvmrc/': '' });
    assert.equal(await resolveIn(user, path.join(proj, 'sub'), path.join(m.dir, 'GO_VERSION')), '1.21.0');
    assert.equal(await resolveIn(user, path.join(proj, 'sub'), path.join(m.dir, 'NODE_VERSION')), '20.0.0');
    assert.ok(alive(m.pid));
  });

  test('a 50 MB .tool-versions: bounded work and memory, the daemon lives and answers', { timeout: 300000 }, async (t) => {
    const m = await linksMount(t, user);
    const proj = newProject(t, user, { '.tool-versions': 'golang 1.21.0\n', 'huge/': '' });
    const huge = path.join(proj, 'huge', '.tool-versions');
    const filler = Buffer.from(`# ${'x'.repeat(1021)}\n`);
    const fd = fs.openSync(huge, 'w');
    fs.writeSync(fd, 'golang 1.22.3\n');
    for (let i = 0; i < 50 * 1024; i++) fs.writeSync(fd, filler);
    fs.writeSync(fd, 'nodejs 20.0.0\n');
    fs.closeSync(fd);
    if (process.geteuid?.() === 0) fs.chownSync(huge, user.uid, user.gid);
    const before = rssBytes(m.pid);
    const cwd = path.join(proj, 'huge');
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) answers.push(await resolveIn(user, cwd, path.join(m.dir, 'NODE_VERSION')));
    assert.deepEqual(answers, Array(5).fill('none'), 'a line 50 MB into the file is past any bound: it never answers');
    // Past the bound (64 KiB, VSF_PROJECT_FILE_MAX) the whole file counts as absent: the parent answers.
    assert.equal(await resolveIn(user, cwd, path.join(m.dir, 'GO_VERSION')), '1.21.0');
    const grown = rssBytes(m.pid) - before;
    t.diagnostic(`daemon RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
    assert.ok(grown < 32 * 1048576, `daemon RSS grew by ${(grown / 1048576).toFixed(1)} MiB reading a 50 MB project file`);
    assert.equal(await resolveIn(user, proj, path.join(m.dir, 'GO_VERSION')), '1.21.0', 'the daemon still answers');
    assert.ok(alive(m.pid));
  });
});

// ---- across users: a root --allow-other daemon reads project files as the caller -------------------------

describe('a root --allow-other daemon serving an unprivileged user reads project files as that user', { skip: needsRootAndPlain }, () => {
  test('an unreadable project file (root\'s, 0600) counts as absent; a readable one in a parent answers', T, async (t) => {
    const m = await sharedMount(t);
    const proj = newProject(t, plain!, { '.tool-versions': 'golang 1.21.0\nnodejs 18.0.0\n', 'secret/': '' });
    const secret = path.join(proj, 'secret');
    // Root's (trusted by everyone: trust.test.ts has the other users' files), readable by root only.
    for (const [file, contents] of [['.tool-versions', 'golang 1.22.3\n'], ['.varsymfs-env', 'V=other-users-secret\n'], ['.nvmrc', '20.11.1\n']] as const) {
      fs.writeFileSync(path.join(secret, file), contents, { mode: 0o600 });
      fs.chownSync(path.join(secret, file), 0, 0);
    }
    const at = (u: TestUser, v: string) => resolveIn(u, secret, path.join(m.dir, v));
    assert.equal(await at(plain!, 'GO_VERSION'), '1.21.0');
    assert.equal(await at(plain!, 'NODE_VERSION'), '18.0.0');
    assert.equal(await at(plain!, 'V'), 'none');
    assert.equal((await runIn(plain!, secret, [path.join(m.dir, 'go', 'bin', 'go')])).stdout.toString(), `${goOf('1.21.0')}\n`);
    // The same files answer a caller who may read them.
    assert.equal(await at(root!, 'GO_VERSION'), '1.22.3');
    assert.equal(await at(root!, 'V'), 'other-users-secret');
    // Made readable, they answer the unprivileged caller at once.
    fs.chmodSync(path.join(secret, '.tool-versions'), 0o644);
    assert.equal(await at(plain!, 'GO_VERSION'), '1.22.3');
  });

  test('a .tool-versions symlinked to a root-only file is never disclosed to a caller who cannot read it', T, async (t) => {
    const m = await sharedMount(t);
    const vault = tempDir(t, root!, 'varsymfs-vault-');
    fs.writeFileSync(path.join(vault, 'shadow'), 'golang SECRET-1.0\nnodejs SECRET-2.0\n', { mode: 0o600 });
    fs.writeFileSync(path.join(vault, 'shadow-env'), 'V=SECRET-3.0\n', { mode: 0o600 });
    fs.writeFileSync(path.join(vault, 'shadow-one'), 'SECRET-4.0\n', { mode: 0o600 });
    fs.writeFileSync(path.join(vault, 'public'), 'golang 1.22.3\n', { mode: 0o644 });
    const proj = newProject(t, plain!, { '.tool-versions': 'golang 1.21.0\n', 'sub/': '', 'pub/': '' });
    const sub = path.join(proj, 'sub');
    for (const [name, target] of [['.tool-versions', 'shadow'], ['.varsymfs-env', 'shadow-env'], ['.nvmrc', 'shadow-one']]) {
      fs.symlinkSync(path.join(vault, target!), path.join(sub, name!));
      fs.lchownSync(path.join(sub, name!), plain!.uid, plain!.gid);
    }
    fs.symlinkSync(path.join(vault, 'public'), path.join(proj, 'pub', '.tool-versions'));
    fs.lchownSync(path.join(proj, 'pub', '.tool-versions'), plain!.uid, plain!.gid);
    // What the caller sees: the target and the link's size (lstat), for each link.
    const py = 'import os,sys\nfor n in sys.argv[1:]: print(os.readlink(n), os.lstat(n).st_size)';
    const links = ['GO_VERSION', 'NODE_VERSION', 'V'].map((v) => path.join(m.dir, v));
    const seen = await runIn(plain!, sub, ['/usr/bin/python3', '-c', py, ...links]);
    assert.equal(seen.code, 0, seen.stderr);
    assert.doesNotMatch(seen.stdout.toString(), /SECRET/);
    assert.equal(seen.stdout.toString(), '1.21.0 6\nnone 4\nnone 4\n');
    assert.equal(await resolveIn(plain!, path.join(proj, 'pub'), path.join(m.dir, 'GO_VERSION')), '1.22.3', 'a symlink to a file the caller may read is followed');
    // For root, the unprivileged user's links are not trusted (docs/security.md); a link of root's is followed.
    assert.equal(await resolveIn(root!, sub, path.join(m.dir, 'GO_VERSION')), 'none', 'another user\'s link is never followed for root');
    fs.mkdirSync(path.join(proj, 'roots'));
    fs.symlinkSync(path.join(vault, 'shadow'), path.join(proj, 'roots', '.tool-versions'));
    assert.equal(await resolveIn(root!, path.join(proj, 'roots'), path.join(m.dir, 'GO_VERSION')), 'SECRET-1.0', 'followed for a caller who may read the target');
  });

  test('a setuid program ignores the project scope; an ordinary one of the same user does not', T, async (t) => {
    const m = await sharedMount(t);
    const proj = newProject(t, plain!, { '.tool-versions': 'golang 1.22.3\n', '.varsymfs-env': 'V=project\n' });
    const bin = tempDir(t, root!, 'varsymfs-suid-');
    fs.copyFileSync('/usr/bin/readlink', path.join(bin, 'suid-readlink'));
    fs.chmodSync(path.join(bin, 'suid-readlink'), 0o4755);
    for (const v of ['GO_VERSION', 'V']) {
      const link = path.join(m.dir, v);
      const suid = await runIn(plain!, proj, [path.join(bin, 'suid-readlink'), link]);
      assert.equal(suid.code, 0, suid.stderr);
      assert.equal(suid.stdout.toString(), 'none\n', `${v}: a secure-exec caller gets no project value`);
      assert.notEqual(await resolveIn(plain!, proj, link), 'none', `${v}: an ordinary program of the user in the same directory does`);
    }
  });

  test('a secure exec gets no project value kept for an answer without an environment in the same directory', T, async (t) => {
    // Another user's link: its follower's environment is not read, its project files are, and that answer is
    // kept under "no environment" and the project state. A secure exec is also "no environment": it must
    // skip its project files before any kept answer is looked up (planted bug 50).
    const m = await sharedMount(t);
    const proj = newProject(t, plain!, { '.varsymfs-env': 'V=project\n' });
    const link = path.join(m.dir, 'theirs');
    fs.symlinkSync('$<V:-none>', link);
    fs.lchownSync(link, 65534, 65534);
    await settle();  // a project file younger than 50 ms is never part of a kept answer's key
    assert.equal(await resolveIn(plain!, proj, link), 'project', 'an ordinary program: its project file answers another user\'s link');
    // A secure exec of the same fs uid (file capabilities: AT_SECURE without setuid), so that its walk of
    // the same directory is the same project state, under which that answer is kept.
    const bin = tempDir(t, root!, 'varsymfs-caps-');
    const capped = path.join(bin, 'capped-readlink');
    fs.copyFileSync('/usr/bin/readlink', capped);
    fs.chmodSync(capped, 0o755);
    const cap = spawnSync('setcap', ['cap_net_raw+p', capped], { encoding: 'utf8' });
    assert.equal(cap.status, 0, `setcap (libcap2-bin, which .ci/run installs): ${cap.stderr}`);
    const secure = await runIn(plain!, proj, [capped, link]);
    assert.equal(secure.code, 0, secure.stderr);
    assert.equal(secure.stdout.toString(), 'none\n', 'a secure-exec caller gets no project value, kept or not');
  });
});
