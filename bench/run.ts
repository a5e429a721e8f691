// The benchmark suite (`npm run bench [-- --quick]`): the hot path of a variant link against the physical
// limit, a plain symlink, the FUSE floors (C libfuse2 and fuse-native constant readlink) and bindfs; exec
// through a link against shims; passthrough data and metadata against direct access, bindfs and libfuse3's
// passthrough_ll; the daemon's own CPU and memory; and the toolchain day (real Go and Python through a
// variant link). Every figure is measured in this run; ratios are against this run's baselines. Writes a
// table to stdout and bench/results/<date>-<host>.json. bench/install-deps installs its peers and tools.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import pidusage from 'pidusage';

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const BENCH = path.join(ROOT, 'bench');
const BUILD = path.join(BENCH, 'build');
const QUICK = process.argv.includes('--quick');
// `--only fairness` or `--only toolchain`: just that section (each mounts its own store).
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] ?? '' : undefined;
const N = QUICK ? 20000 : 200000; // stats per hot-path repeat
const REPEATS = 5;
const COLD_N = QUICK ? 1000 : 5000;
const RESOLUTIONS = QUICK ? 100000 : 1000000;
const FILE_MIB = QUICK ? 64 : 256;
const META_FILES = QUICK ? 2000 : 10000;
const SMALL_ENTRIES = 3400;
const SMALL_REPEATS = QUICK ? 3 : 5;
// Toolchain day: rounds of runs per command and column (a round runs every column once), after one warm-up.
const TC_ROUNDS = QUICK ? 1 : 2;
const TC_RUNS = QUICK ? 3 : 5;
const TC_IMPORTS = 'import json, asyncio, email, http.client, decimal, fractions, statistics, csv, argparse, logging, unittest, xml.etree.ElementTree';
const INSTALL = 'bench/install-deps installs it';
// The hot path's two varsymfs rows: the same link, answered by the caller's environment or by a project file.
const WARM = 'varsymfs variant link (warm)';
const WARM_PROJECT = 'varsymfs variant link (warm, project file)';

type Stats = { median: number; min: number; max: number };
const results: Record<string, any> = {};
const cleanups: Array<() => Promise<void> | void> = [];
const log = (s: string) => process.stdout.write(s + '\n');

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    if (dir && fs.existsSync(p)) return p;
  }
  return undefined;
}

async function waitMounted(dir: string, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${dir} did not mount`);
}

async function build(): Promise<void> {
  if (!which('gcc')) throw new Error('gcc is not installed (bench/install-deps installs it): the bench compiles its C client and floor');
  fs.mkdirSync(BUILD, { recursive: true });
  await exec('gcc', ['-O2', '-o', path.join(BUILD, 'statloop'), path.join(BENCH, 'statloop.c')]);
  const include = path.join(ROOT, 'node_modules', 'fuse-shared-library-linux', 'libfuse', 'include');
  const libfuse = ['/lib/x86_64-linux-gnu/libfuse.so.2', '/usr/lib/x86_64-linux-gnu/libfuse.so.2', '/lib/aarch64-linux-gnu/libfuse.so.2'].find((p) => fs.existsSync(p));
  if (!libfuse) throw new Error('libfuse.so.2 not found (apt-get install libfuse2)');
  await exec('gcc', ['-O2', '-D_FILE_OFFSET_BITS=64', '-I', include, '-o', path.join(BUILD, 'constfs'), path.join(BENCH, 'constfs.c'), libfuse, '-lpthread']);
}

/** Who runs a statloop: its environment and working directory (the bench's own when not given). */
type Caller = { env: NodeJS.ProcessEnv; cwd?: string };

/** Runs statloop; returns ns per operation. */
async function statloop(target: string, n: number, caller: Caller, fork = false): Promise<number> {
  const { stdout } = await exec(path.join(BUILD, 'statloop'), [...(fork ? ['--fork'] : []), target, String(n)], caller);
  return Number(stdout.trim()) / n;
}

async function main(): Promise<void> {
  const started = Date.now();
  await build();
  if (ONLY !== undefined) {
    if (ONLY === 'fairness') {
      const f = await fairnessBench();
      log(JSON.stringify({ mode: QUICK ? 'quick' : 'full', fairness: f }, null, 2));
      return;
    }
    if (ONLY !== 'toolchain') throw new Error(`--only: expected fairness or toolchain, got ${ONLY === '' ? 'nothing' : ONLY}`);
    results.toolchain = await toolchainBench();
    await finish(started);
    reportToolchain(results.toolchain);
    writeResults('-toolchain');
    return;
  }
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-bench-'));
  cleanups.push(() => fs.rmSync(ws, { recursive: true, force: true }));
  const store = path.join(ws, 'store');
  for (const v of ['go1.0.3', 'go1.2.1']) {
    fs.mkdirSync(path.join(store, v, 'bin'), { recursive: true });
    fs.copyFileSync('/usr/bin/true', path.join(store, v, 'bin', 'go'));
    fs.chmodSync(path.join(store, v, 'bin', 'go'), 0o755);
  }
  const target = path.join(store, 'go1.2.1');
  fs.symlinkSync(target, path.join(store, 'plain'));
  fs.symlinkSync(path.join(store, '$<GO_VERSION>'), path.join(store, 'go'));
  const env = { ...process.env, GO_VERSION: 'go1.2.1' };
  const byEnv: Caller = { env };
  // The project caller: no GO_VERSION anywhere (environment, mount defaults), working three levels below
  // the .tool-versions that names the version; the link resolves only if the project scope answers.
  const proj = path.join(ws, 'proj');
  fs.mkdirSync(path.join(proj, 'a', 'b', 'c'), { recursive: true });
  fs.writeFileSync(path.join(proj, '.tool-versions'), 'go go1.2.1\n');
  const noVersion = { ...process.env };
  delete noVersion.GO_VERSION;
  const byProject: Caller = { env: noVersion, cwd: path.join(proj, 'a', 'b', 'c') };

  // The mounts under test.
  const mnt = (name: string) => (fs.mkdirSync(path.join(ws, name)), path.join(ws, name));
  const vs = mnt('vs');
  const bin = path.join(ROOT, 'bin', 'varsymfs');
  const vsEnv = { ...process.env, XDG_STATE_HOME: path.join(ws, 'state'), XDG_RUNTIME_DIR: path.join(ws, 'run') };
  const mounted = await exec(bin, ['mount', vs, '--source', store], { env: vsEnv });
  cleanups.push(async () => void (await exec(bin, ['unmount', '--lazy', vs]).catch(() => undefined)));
  const daemonPid = Number(/daemon pid (\d+)/.exec(mounted.stdout)![1]);
  const cc = mnt('constfs');
  await exec(path.join(BUILD, 'constfs'), [cc, '-o', `target=${target}`, '-o', 'entry_timeout=1,attr_timeout=0']);
  cleanups.push(async () => void (await exec('fusermount3', ['-u', '-z', cc]).catch(() => undefined)));
  const cn = mnt('constfs-native');
  const native: ChildProcess = spawn(process.execPath, [path.join(BENCH, 'constfs-native.js'), cn, target], { stdio: 'ignore' });
  cleanups.push(() => void native.kill('SIGTERM'));
  await waitMounted(cn);
  let bind: string | undefined;
  if (which('bindfs')) {
    bind = mnt('bindfs');
    await exec('bindfs', [store, bind]);
    cleanups.push(async () => void (await exec('fusermount3', ['-u', '-z', bind!]).catch(() => undefined)));
  } else log(`# bindfs is not installed (${INSTALL}): its rows are skipped`);
  const passthroughLl = await buildPassthroughLl();
  let pll: string | undefined;
  if (passthroughLl) {
    pll = mnt('passthrough_ll');
    await mountPassthroughLl(passthroughLl, store, pll);
  }

  // 1. Hot path: stat <x>/go/bin/go in one process, repeated.
  const configs: Array<[string, string, Caller]> = [
    ['direct (no link)', path.join(target, 'bin', 'go'), byEnv],
    ['plain kernel symlink', path.join(store, 'plain', 'bin', 'go'), byEnv],
    ['libfuse2 C constant readlink', path.join(cc, 'go', 'bin', 'go'), byEnv],
    ['fuse-native constant readlink', path.join(cn, 'go', 'bin', 'go'), byEnv],
    ...(bind ? [['bindfs plain symlink', path.join(bind, 'plain', 'bin', 'go'), byEnv] as [string, string, Caller]] : []),
    [WARM, path.join(vs, 'go', 'bin', 'go'), byEnv],
    [WARM_PROJECT, path.join(vs, 'go', 'bin', 'go'), byProject],
  ];
  const hot: Record<string, Stats & { opsPerSec: number }> = {};
  for (const [name, p, caller] of configs) {
    await statloop(p, 1000, caller); // warm up
    const runs: number[] = [];
    for (let i = 0; i < REPEATS; i++) runs.push((await statloop(p, N, caller)) / 1000);
    const s = stats(runs);
    hot[name] = { ...s, opsPerSec: 1e6 / s.median };
  }
  results.hotPath = {
    unit: 'µs/op',
    iterations: N,
    repeats: REPEATS,
    callers: { [WARM]: 'GO_VERSION in the environment', [WARM_PROJECT]: 'no GO_VERSION set; cwd proj/a/b/c, proj/.tool-versions names the version' },
    rows: hot,
  };

  // Cold: a new process each time (cache miss), against the same fork loop on the direct path.
  const cold: Record<string, Stats> = {};
  for (const [name, p] of [['direct (no link)', path.join(target, 'bin', 'go')], ['fuse-native constant readlink', path.join(cn, 'go', 'bin', 'go')], ['varsymfs variant link (cold)', path.join(vs, 'go', 'bin', 'go')]] as const) {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) runs.push((await statloop(p, COLD_N, byEnv, true)) / 1000);
    cold[name] = stats(runs);
  }
  results.cold = { unit: 'µs per fork+stat+exit', iterations: COLD_N, rows: cold };

  // Concurrency: K processes at once, aggregate operations per second.
  const conc: Record<string, Record<string, number>> = {};
  for (const [name, p, caller] of configs) {
    conc[name] = {};
    for (const k of [1, 2, 8]) {
      const per = Math.floor(N / k);
      const t0 = process.hrtime.bigint();
      await Promise.all(Array.from({ length: k }, () => statloop(p, per, caller)));
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      conc[name]![`${k}`] = (per * k) / secs;
    }
  }
  results.concurrency = { unit: 'ops/s (all clients together)', rows: conc };

  // 2. Exec through a link, against the alternatives.
  results.exec = await execBench(ws, store, vs, env);

  // 3. Passthrough data and metadata.
  results.passthrough = await passthroughBench(store, vs, bind, pll);

  // 4. The daemon's own cost under the hot-path load.
  const before = await pidusage(daemonPid);
  const cpu0 = cpuSeconds(daemonPid);
  let peak = before.memory;
  const sampler = setInterval(() => void pidusage(daemonPid).then((u) => (peak = Math.max(peak, u.memory)), () => {}), 200);
  const clients = 4;
  await Promise.all(Array.from({ length: clients }, () => statloop(path.join(vs, 'go', 'bin', 'go'), RESOLUTIONS / clients, byEnv)));
  clearInterval(sampler);
  const cpu1 = cpuSeconds(daemonPid);
  const after = await pidusage(daemonPid);
  results.daemon = {
    resolutions: RESOLUTIONS,
    cpuSecondsPer100k: ((cpu1 - cpu0) / RESOLUTIONS) * 100000,
    rssMiB: { before: before.memory / 1048576, peak: peak / 1048576, after: after.memory / 1048576 },
  };

  // 5. Fairness: another user's storm against this user's cold resolutions and plain stats.
  results.fairness = await fairnessBench();

  // 6. The toolchain day: real Go and Python through a variant link.
  results.toolchain = await toolchainBench();

  results.ratios = ratios(hot, cold);
  const small = results.passthrough.smallFiles.rows as Record<string, Record<string, number>>;
  if (small.bindfs) results.ratios['small files total / bindfs'] = small.varsymfs!.total! / small.bindfs.total!;
  results.ratios['small files total / direct'] = small.varsymfs!.total! / small.direct!.total!;
  if (small.passthrough_ll) results.ratios['small files total / passthrough_ll'] = small.varsymfs!.total! / small.passthrough_ll.total!;
  const meta = results.passthrough.metadata.rows as Record<string, Record<string, number>>;
  if (meta.passthrough_ll) results.ratios['metadata total / passthrough_ll'] = meta.varsymfs!.total! / meta.passthrough_ll.total!;
  await finish(started);
  report();
}

/** Stamps the results with the machine, commit, date, mode and duration. */
async function finish(started: number): Promise<void> {
  results.machine = await machine();
  results.commit = (await exec('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).catch(() => ({ stdout: 'unknown' }))).stdout.trim();
  results.date = new Date().toISOString();
  results.mode = QUICK ? 'quick' : 'full';
  results.seconds = Math.round((Date.now() - started) / 1000);
}

/**
 * Fairness (issue 17): STORMERS processes of another user (nobody) fork-and-stat a variant link with 1 MiB
 * environments (every one a cold resolution, passed to JS) while this user measures a cold resolution (a
 * new process per stat) and a plain stat of a regular file in the same mount; each against the same
 * measured with no storm. Root only (a root --allow-other mount serving two users).
 */
async function fairnessBench(): Promise<Record<string, unknown>> {
  if (process.geteuid?.() !== 0) {
    log('# fairness needs root (a root --allow-other mount serving another user): skipped');
    return { skipped: 'not root' };
  }
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-bench-fair-'));
  fs.chmodSync(ws, 0o755);
  cleanups.push(() => fs.rmSync(ws, { recursive: true, force: true }));
  const store = path.join(ws, 'store');
  for (const v of ['go1.0.3', 'go1.2.1']) {
    fs.mkdirSync(path.join(store, v, 'bin'), { recursive: true });
    fs.copyFileSync('/usr/bin/true', path.join(store, v, 'bin', 'go'));
    fs.chmodSync(path.join(store, v, 'bin', 'go'), 0o755);
  }
  fs.symlinkSync('$<GO_VERSION>', path.join(store, 'go'));
  const vs = path.join(ws, 'vs');
  fs.mkdirSync(vs);
  const bin = path.join(ROOT, 'bin', 'varsymfs');
  const vsEnv = { ...process.env, XDG_STATE_HOME: path.join(ws, 'state'), XDG_RUNTIME_DIR: path.join(ws, 'run') };
  const mounted = await exec(bin, ['mount', vs, '--source', store, '--allow-other'], { env: vsEnv });
  cleanups.push(async () => void (await exec(bin, ['unmount', '--lazy', vs]).catch(() => undefined)));
  const daemonPid = Number(/daemon pid (\d+)/.exec(mounted.stdout)![1]);
  const link = path.join(vs, 'go', 'bin', 'go');
  const plainFile = path.join(vs, 'go1.2.1', 'bin', 'go');
  const victim: Caller = { env: { PATH: process.env.PATH, GO_VERSION: 'go1.2.1' } };
  const coldN = QUICK ? 200 : 1000;
  const statN = QUICK ? 20000 : 100000;
  const measure = async () => ({ coldUs: (await statloop(link, coldN, victim, true)) / 1000, plainStatUs: (await statloop(plainFile, statN, victim)) / 1000 });
  const idle = await measure();
  // The storm: 8 variables of 127 KiB each; restarted when a stat of its fails (refused: EAGAIN).
  const big: NodeJS.ProcessEnv = { GO_VERSION: 'go1.0.3' };
  for (let i = 0; i < 8; i++) big[`BIG${i}`] = 'x'.repeat(127 * 1024);
  const STORMERS = 32;
  let storming = true;
  let refusedRuns = 0;
  const storm = async () => {
    while (storming) {
      await exec('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', '--', path.join(BUILD, 'statloop'), '--fork', link, '200'], { env: big }).catch(() => void refusedRuns++);
    }
  };
  const before = await pidusage(daemonPid);
  let peak = before.memory;
  const sampler = setInterval(() => void pidusage(daemonPid).then((u) => (peak = Math.max(peak, u.memory)), () => {}), 200);
  const stormers = Array.from({ length: STORMERS }, storm);
  await new Promise((r) => setTimeout(r, 2000));  // the storm under way
  const during = await measure();
  storming = false;
  await Promise.all(stormers);
  clearInterval(sampler);
  const status = JSON.parse((await exec(bin, ['status', vs, '--json'], { env: vsEnv })).stdout) as Array<{ cache: { shareRefused?: number } }>;
  return {
    stormers: STORMERS,
    stormEnvironmentKiB: 8 * 127,
    unit: 'µs',
    idle,
    duringStorm: during,
    ratios: { 'cold resolution, storm / idle': during.coldUs / idle.coldUs, 'plain stat, storm / idle': during.plainStatUs / idle.plainStatUs },
    daemonRssMiB: { before: before.memory / 1048576, peak: peak / 1048576 },
    refused: status[0]?.cache.shareRefused ?? 0,
    stormRunsEndedByARefusal: refusedRuns,
  };
}

/**
 * libfuse3's low-level example passthrough_ll (an inode table of O_PATH fds, per-entry timeouts: 1 s by
 * default), compiled from the source Debian's libfuse3-dev ships into its own temp dir. Undefined, with a
 * line saying why, when it cannot be built.
 */
async function buildPassthroughLl(): Promise<string | undefined> {
  const examples = '/usr/share/doc/libfuse3-dev/examples';
  const sources = ['passthrough_ll.c', 'passthrough_helpers.h'];
  const found = (name: string) => [name, `${name}.gz`].map((f) => path.join(examples, f)).find((p) => fs.existsSync(p));
  if (!sources.every(found) || !which('pkg-config')) {
    log(`# libfuse3-dev's passthrough_ll example or pkg-config is not installed (${INSTALL}): the passthrough_ll rows are skipped`);
    return undefined;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-bench-pll-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  // Debian may gzip the examples; passthrough_ll.c includes passthrough_helpers.h from its own folder.
  for (const name of sources) {
    const from = found(name)!;
    fs.writeFileSync(path.join(dir, name), from.endsWith('.gz') ? zlib.gunzipSync(fs.readFileSync(from)) : fs.readFileSync(from));
  }
  const binary = path.join(dir, 'passthrough_ll');
  try {
    const flags = (await exec('pkg-config', ['--cflags', '--libs', 'fuse3'])).stdout.trim().split(/\s+/);
    await exec('gcc', ['-O2', '-o', binary, path.join(dir, 'passthrough_ll.c'), ...flags]);
  } catch (err) {
    const why = (err as { stderr?: string }).stderr?.trim().split('\n')[0] ?? String(err);
    log(`# passthrough_ll did not build (${why}; ${INSTALL}): its rows are skipped`);
    return undefined;
  }
  return binary;
}

/** Mounts `source` at `mnt` with passthrough_ll (it daemonizes once mounted); the cleanups unmount it. */
async function mountPassthroughLl(binary: string, source: string, mnt: string): Promise<void> {
  cleanups.push(async () => void (await exec('fusermount3', ['-u', '-z', mnt]).catch(() => undefined)));
  await exec(binary, ['-o', `source=${source}`, mnt]);
}

/** Quotes a word for hyperfine's own (POSIX shell-like) splitting of a command line. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Seconds per run of argv after one warm-up run: hyperfine's measurements when it is installed, else the
 * bench's own clock around each run.
 */
async function timeRuns(argv: string[], caller: Caller, runs: number, json: string): Promise<number[]> {
  const options = { ...caller, maxBuffer: 1 << 26 };
  if (which('hyperfine')) {
    await exec('hyperfine', ['-N', '--warmup', '1', '--runs', String(runs), '--export-json', json, argv.map(shellWord).join(' ')], options);
    return (JSON.parse(fs.readFileSync(json, 'utf8')) as { results: Array<{ times: number[] }> }).results[0]!.times;
  }
  await exec(argv[0]!, argv.slice(1), options);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    await exec(argv[0]!, argv.slice(1), options);
    times.push(Number(process.hrtime.bigint() - s) / 1e9);
  }
  return times;
}

/**
 * The toolchain day (issue 20): Debian's Go (its GOROOT) and Python (its binary and standard library)
 * copied into a store as version trees, then run from the store directly, through bindfs and
 * passthrough_ll by a plain symlink, and through varsymfs by a variant link (`go/current` →
 * `$<GO_VERSION>`), so every file of GOROOT and of the standard library is read through the mount.
 * Rows: a `go build` of a small program with a warm build cache, `go list std`, and Python importing a
 * dozen standard modules. Seconds per run over TC_ROUNDS rounds of TC_RUNS runs; ratios to direct.
 */
async function toolchainBench(): Promise<Record<string, unknown>> {
  const go = '/usr/bin/go';
  const python = '/usr/bin/python3';
  if (!fs.existsSync(go)) log(`# Debian's Go (${go}, golang-go) is not installed (${INSTALL}): the go rows are skipped`);
  if (!fs.existsSync(python)) log(`# Debian's Python (${python}) is not installed (${INSTALL}): the python row is skipped`);
  if (!fs.existsSync(go) && !fs.existsSync(python)) return { skipped: 'neither Go nor Python installed' };
  if (!which('hyperfine')) log(`# hyperfine is not installed (${INSTALL}): the toolchain rows are timed by the bench itself`);
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-bench-tc-'));
  cleanups.push(() => fs.rmSync(ws, { recursive: true, force: true }));
  const store = path.join(ws, 'store');
  const work = path.join(ws, 'work'); // outside every mount: build caches, the program, outputs
  fs.mkdirSync(work, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  const tools: { go?: string; python?: { version: string; binary: string } } = {};
  if (fs.existsSync(go)) {
    const goEnv = { ...process.env, GOENV: 'off', GOTOOLCHAIN: 'local' };
    const [goroot, version] = (await exec(go, ['env', 'GOROOT', 'GOVERSION'], { env: goEnv })).stdout.trim().split('\n') as [string, string];
    fs.mkdirSync(path.join(store, 'go'), { recursive: true });
    // Debian's GOROOT links src, api… into /usr/share: the copy follows them so the tree is whole.
    await exec('cp', ['-rL', '--preserve=mode,timestamps', goroot, path.join(store, 'go', version)]);
    fs.symlinkSync(version, path.join(store, 'go', 'plain'));
    fs.symlinkSync('$<GO_VERSION>', path.join(store, 'go', 'current'));
    env.GO_VERSION = version;
    fs.mkdirSync(path.join(work, 'hello'));
    fs.writeFileSync(path.join(work, 'hello', 'go.mod'), 'module hello\n\ngo 1.19\n');
    fs.writeFileSync(path.join(work, 'hello', 'main.go'), 'package main\n\nimport (\n\t"encoding/json"\n\t"fmt"\n\t"net/http"\n\t"os"\n)\n\nfunc main() {\n\tb, _ := json.Marshal(map[string]int{"status": http.StatusOK})\n\tfmt.Println(string(b), len(os.Args))\n}\n');
    tools.go = version;
  }
  if (fs.existsSync(python)) {
    const where = 'import os, sys; print("%d.%d" % sys.version_info[:2]); print(os.path.dirname(os.__file__)); print(os.path.realpath(sys.executable))';
    const [version, stdlib, binary] = (await exec(python, ['-I', '-S', '-c', where])).stdout.trim().split('\n') as [string, string, string];
    // A minimal prefix: bin/python3.X and lib/python3.X; the binary finds its stdlib next to itself.
    const prefix = path.join(store, 'python', version);
    fs.mkdirSync(path.join(prefix, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(prefix, 'lib'));
    await exec('cp', ['-a', stdlib, path.join(prefix, 'lib')]);
    await exec('cp', ['-a', binary, path.join(prefix, 'bin')]);
    fs.symlinkSync(version, path.join(store, 'python', 'plain'));
    fs.symlinkSync('$<PYTHON_VERSION>', path.join(store, 'python', 'current'));
    env.PYTHON_VERSION = version;
    tools.python = { version, binary: path.basename(binary) };
  }

  // The columns: a root holding go/ and python/, and the name under them of the tree each column uses.
  const columns: Array<[string, string, string]> = [['direct', store, '']];
  const mnt = (name: string) => (fs.mkdirSync(path.join(ws, name)), path.join(ws, name));
  if (which('bindfs')) {
    const bind = mnt('bindfs');
    cleanups.push(async () => void (await exec('fusermount3', ['-u', '-z', bind]).catch(() => undefined)));
    await exec('bindfs', [store, bind]);
    columns.push(['bindfs', bind, 'plain']);
  } else log(`# bindfs is not installed (${INSTALL}): its toolchain column is skipped`);
  const passthroughLl = await buildPassthroughLl();
  if (passthroughLl) {
    const pll = mnt('passthrough_ll');
    await mountPassthroughLl(passthroughLl, store, pll);
    columns.push(['passthrough_ll', pll, 'plain']);
  }
  const vs = mnt('vs');
  const bin = path.join(ROOT, 'bin', 'varsymfs');
  const vsEnv = { ...process.env, XDG_STATE_HOME: path.join(ws, 'state'), XDG_RUNTIME_DIR: path.join(ws, 'run') };
  cleanups.push(async () => void (await exec(bin, ['unmount', '--lazy', vs]).catch(() => undefined)));
  await exec(bin, ['mount', vs, '--source', store], { env: vsEnv });
  columns.push(['varsymfs', vs, 'current']);

  // The commands of one column: argv and caller.
  type Row = (name: string, root: string, tree: string) => [string[], Caller];
  const rows: Array<[string, Row]> = [];
  if (tools.go) {
    const goCaller = (name: string, goroot: string): Caller => ({
      cwd: path.join(work, 'hello'),
      env: { ...env, GOROOT: goroot, GOCACHE: path.join(work, `gocache-${name}`), GOPATH: path.join(work, 'gopath'), GOENV: 'off', GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '' },
    });
    const goroot = (root: string, tree: string) => path.join(root, 'go', tree || tools.go!);
    rows.push(['go build (warm cache)', (name, root, tree) => [[path.join(goroot(root, tree), 'bin', 'go'), 'build', '-o', path.join(work, `hello-${name}`), '.'], goCaller(name, goroot(root, tree))]]);
    rows.push(['go list std', (name, root, tree) => [[path.join(goroot(root, tree), 'bin', 'go'), 'list', 'std'], goCaller(name, goroot(root, tree))]]);
  }
  if (tools.python) {
    const { version, binary } = tools.python;
    // -I -S: no environment, user site or site module, so only the tree's own stdlib is read.
    rows.push([`python${version} imports 12 stdlib modules`, (_name, root, tree) => [[path.join(root, 'python', tree || version, 'bin', binary), '-I', '-S', '-c', TC_IMPORTS], { env, cwd: work }]]);
  }
  const times: Record<string, Record<string, number[]>> = {};
  for (let round = 0; round < TC_ROUNDS; round++) {
    for (const [row, command] of rows) {
      times[row] ??= {};
      for (const [name, root, tree] of columns) {
        const [argv, caller] = command(name, root, tree);
        (times[row]![name] ??= []).push(...(await timeRuns(argv, caller, TC_RUNS, path.join(work, 'hyperfine.json'))));
      }
    }
  }
  const table: Record<string, Record<string, Stats & { ratio: number }>> = {};
  for (const [row, byColumn] of Object.entries(times)) {
    const direct = stats(byColumn.direct!).median;
    table[row] = Object.fromEntries(Object.entries(byColumn).map(([name, xs]) => {
      const s = stats(xs);
      return [name, { ...s, ratio: s.median / direct }];
    }));
  }
  return {
    unit: 'seconds per run',
    rounds: TC_ROUNDS,
    runs: TC_RUNS,
    timer: which('hyperfine') ? 'hyperfine -N, 1 warm-up' : 'the bench, 1 warm-up',
    go: tools.go,
    python: tools.python?.version,
    columns: Object.fromEntries(columns.map(([name, , tree]) => [name, tree === 'current' ? 'variant link' : tree === 'plain' ? 'plain symlink' : 'the store'])),
    loadAverage: os.loadavg(),
    rows: table,
  };
}

/** Prints the toolchain day's table. */
function reportToolchain(tc: Record<string, any>): void {
  if (!tc.rows) return;
  const f = (x: number, d: number) => x.toFixed(d);
  log(`\n6. Toolchain day: Go ${tc.go ?? '-'}, Python ${tc.python ?? '-'} (seconds per run, median [min, max] of ${tc.rounds} x ${tc.runs} runs; x direct)`);
  const columns = Object.keys(tc.columns as Record<string, string>);
  const w = Math.max(...Object.keys(tc.rows).map((row) => row.length));
  log(`   ${''.padEnd(w)} ${columns.map((c) => c.padStart(28)).join('')}`);
  for (const [row, byColumn] of Object.entries(tc.rows as Record<string, Record<string, Stats & { ratio: number }>>)) {
    const cell = (s: Stats & { ratio: number }) => `${f(s.median, 3)} [${f(s.min, 2)}, ${f(s.max, 2)}] ${f(s.ratio, 2)}x`;
    log(`   ${row.padEnd(w)} ${columns.map((c) => (byColumn[c] ? cell(byColumn[c]!) : '-').padStart(28)).join('')}`);
  }
  log(`   load average at the end: ${(tc.loadAverage as number[]).map((x) => f(x, 2)).join(' ')}`);
}

function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks (USER_HZ 100)
}

function ratios(hot: Record<string, Stats>, cold: Record<string, Stats>): Record<string, number> {
  const warm = hot[WARM]!.median;
  const out: Record<string, number> = {};
  for (const [name, s] of Object.entries(hot)) if (!name.startsWith('varsymfs')) out[`warm / ${name}`] = warm / s.median;
  out['warm project file / warm environment'] = hot[WARM_PROJECT]!.median / warm;
  const d = cold['direct (no link)']!.median;
  out['cold extra µs over direct'] = cold['varsymfs variant link (cold)']!.median - d;
  out['cold extra / fuse-native cold extra'] = (cold['varsymfs variant link (cold)']!.median - d) / (cold['fuse-native constant readlink']!.median - d);
  return out;
}

async function execBench(ws: string, store: string, vs: string, env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  if (!which('hyperfine')) {
    log(`# hyperfine is not installed (${INSTALL}): exec rows are skipped`);
    return { skipped: 'hyperfine not installed' };
  }
  // A pyenv/rbenv/asdf-style shim: a shell script that reads a version file and execs the real binary.
  const shims = path.join(ws, 'shims');
  fs.mkdirSync(shims);
  fs.writeFileSync(path.join(ws, '.go-version'), 'go1.2.1\n');
  fs.writeFileSync(path.join(shims, 'go'), `#!/bin/sh\nversion=$(cat "${ws}/.go-version")\nexec "${store}/$version/bin/go" "$@"\n`, { mode: 0o755 });
  const cmds: Array<[string, string]> = [
    ['direct', path.join(store, 'go1.2.1', 'bin', 'go')],
    ['plain symlink', path.join(store, 'plain', 'bin', 'go')],
    ['variant link', path.join(vs, 'go', 'bin', 'go')],
    ['shell shim (asdf/pyenv style)', path.join(shims, 'go')],
  ];
  const mise = [path.join(ROOT, 'node_modules', '@jdxcode', 'mise-linux-x64', 'bin', 'mise'), which('mise')].find((p) => p && fs.existsSync(p));
  const miseEnv: NodeJS.ProcessEnv = {};
  if (mise) {
    // mise shims pointed at a local directory, no network: go@path:<dir>.
    const home = path.join(ws, 'mise-home');
    fs.mkdirSync(home);
    Object.assign(miseEnv, { HOME: home, MISE_DATA_DIR: path.join(home, 'data'), MISE_CONFIG_DIR: path.join(home, 'config'), MISE_CACHE_DIR: path.join(home, 'cache'), MISE_OFFLINE: '1', MISE_YES: '1' });
    fs.mkdirSync(path.join(home, 'config'), { recursive: true });
    fs.writeFileSync(path.join(home, 'config', 'config.toml'), `[tools]\ngo = "path:${path.join(store, 'go1.2.1')}"\n`);
    await exec(mise, ['reshim'], { env: { ...env, ...miseEnv }, cwd: ws }).catch(() => undefined);
    // reshim makes no shim for a path: version; make the one it would: a symlink to mise named go.
    const shim = path.join(home, 'data', 'shims', 'go');
    if (!fs.existsSync(shim)) {
      fs.mkdirSync(path.dirname(shim), { recursive: true });
      fs.symlinkSync(mise, shim);
    }
    cmds.push(['mise shim', shim]);
  } else log('# mise is not installed (npm install --no-save @jdxcode/mise-linux-x64): its row is skipped');
  const json = path.join(ws, 'hyperfine.json');
  await exec('hyperfine', ['-N', '--warmup', '20', '--runs', QUICK ? '100' : '300', '--export-json', json, ...cmds.map(([, c]) => `${c} version`)], { env: { ...env, ...miseEnv }, cwd: ws, maxBuffer: 1 << 24 });
  const data = JSON.parse(fs.readFileSync(json, 'utf8')) as { results: Array<{ median: number; min: number; max: number }> };
  const rows: Record<string, Stats> = {};
  cmds.forEach(([name], i) => {
    const r = data.results[i]!;
    rows[name] = { median: r.median * 1000, min: r.min * 1000, max: r.max * 1000 };
  });
  const direct = rows.direct!.median;
  return { unit: 'ms per exec (hyperfine, median)', rows, addedOverDirectMs: Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, v.median - direct])) };
}

async function passthroughBench(store: string, vs: string, bind: string | undefined, pll: string | undefined): Promise<Record<string, unknown>> {
  const dirs: Array<[string, string]> = [['direct', store], ['varsymfs', vs], ...(bind ? [['bindfs', bind] as [string, string]] : [])];
  // passthrough_ll is a peer of the metadata and small-file rows only (not of fio's).
  const metaDirs: Array<[string, string]> = [...dirs, ...(pll ? [['passthrough_ll', pll] as [string, string]] : [])];
  const out: Record<string, unknown> = {};
  if (which('fio')) {
    const fio: Record<string, Record<string, number>> = {};
    for (const [name, dir] of dirs) {
      fio[name] = {};
      for (const [job, args] of [
        ['seq write MiB/s', ['--rw=write', '--bs=1M', '--end_fsync=1']],
        ['seq read MiB/s', ['--rw=read', '--bs=1M']],
        ['4k random read IOPS', ['--rw=randread', '--bs=4k', '--runtime=' + (QUICK ? 5 : 15), '--time_based']],
      ] as const) {
        const { stdout } = await exec('fio', ['--name=b', `--directory=${dir}`, `--size=${FILE_MIB}M`, '--ioengine=psync', '--output-format=json', ...args]);
        const j = JSON.parse(stdout) as { jobs: Array<{ read: { bw: number; iops: number }; write: { bw: number } }> };
        const jj = j.jobs[0]!;
        fio[name]![job] = job.startsWith('seq write') ? jj.write.bw / 1024 : job.startsWith('seq read') ? jj.read.bw / 1024 : jj.read.iops;
      }
      fs.rmSync(path.join(store, 'b.0.0'), { force: true });
    }
    out.fio = { fileMiB: FILE_MIB, rows: fio };
  } else {
    log(`# fio is not installed (${INSTALL}): data rows are skipped`);
    out.fio = { skipped: 'fio not installed' };
  }
  const macro = `
import os, sys, time
d = sys.argv[1] + "/meta"; n = int(sys.argv[2]); os.mkdir(d); t = {}
s = time.perf_counter()
for i in range(n):
    with open("%s/f%d" % (d, i), "w") as f: f.write("x")
t["create"] = time.perf_counter() - s; s = time.perf_counter()
for i in range(n): os.stat("%s/f%d" % (d, i))
t["stat"] = time.perf_counter() - s; s = time.perf_counter()
assert len(os.listdir(d)) == n
t["readdir"] = time.perf_counter() - s; s = time.perf_counter()
for i in range(n): os.unlink("%s/f%d" % (d, i))
t["delete"] = time.perf_counter() - s
os.rmdir(d)
t["total"] = sum(t.values())
print(" ".join("%s=%f" % kv for kv in t.items()))
`;
  const meta: Record<string, Record<string, number>> = {};
  for (const [name, dir] of metaDirs) {
    const { stdout } = await exec('python3', ['-c', macro, dir, String(META_FILES)]);
    meta[name] = Object.fromEntries(stdout.trim().split(' ').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
  }
  out.metadata = { files: META_FILES, unit: 'seconds', rows: meta };
  out.smallFiles = await smallFilesBench(metaDirs);
  return out;
}

/**
 * Small-file work as developers do it: extract a real node_modules tree (this project's own, its first
 * SMALL_ENTRIES entries), read every file, remove it all. Seconds, median of SMALL_REPEATS.
 */
async function smallFilesBench(dirs: Array<[string, string]>): Promise<Record<string, unknown>> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-bench-tar-'));
  cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
  const list = path.join(work, 'list');
  // Small files: mise's 145 MB binary (a devDependency, sorted first) is left out, as before it was one.
  const { stdout } = await exec('sh', ['-c', `cd "$0" && find node_modules -path node_modules/@jdxcode -prune -o -print | LC_ALL=C sort | head -n ${SMALL_ENTRIES}`, ROOT], { maxBuffer: 1 << 26 });
  fs.writeFileSync(list, stdout);
  const tarball = path.join(work, 'tree.tar');
  await exec('tar', ['-cf', tarball, '-C', ROOT, '--no-recursion', '-T', list]);
  const time = async (cmd: string, args: string[]) => {
    const s = process.hrtime.bigint();
    await exec(cmd, args, { maxBuffer: 1 << 26 });
    return Number(process.hrtime.bigint() - s) / 1e9;
  };
  const rows: Record<string, Record<string, number>> = {};
  for (const [name, dir] of dirs) {
    const runs: Array<Record<string, number>> = [];
    for (let i = 0; i < SMALL_REPEATS; i++) {
      const d = path.join(dir, 'smallfiles');
      fs.mkdirSync(d);
      const extract = await time('tar', ['-xf', tarball, '-C', d]);
      const read = await time('sh', ['-c', 'find "$0" -type f -exec cat {} + > /dev/null', d]);
      const remove = await time('rm', ['-rf', d]);
      runs.push({ extract, read, remove, total: extract + read + remove });
    }
    rows[name] = Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, stats(runs.map((r) => r[k]!)).median]));
  }
  return { entries: stdout.trim().split('\n').length, repeats: SMALL_REPEATS, unit: 'seconds', rows };
}

async function machine(): Promise<Record<string, unknown>> {
  const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1];
  const libfuse = (await exec('dpkg-query', ['-W', '-f', '${Version}', 'libfuse2']).catch(() => ({ stdout: '?' }))).stdout;
  const fuse3 = (await exec('dpkg-query', ['-W', '-f', '${Version}', 'fuse3']).catch(() => ({ stdout: '?' }))).stdout;
  return { host: os.hostname(), cpu, cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version, libfuse2: libfuse, fuse3 };
}

function report(): void {
  const f = (x: number, d = 1) => x.toFixed(d);
  log(`\nvarsymfs bench (${results.mode}), ${results.machine.cpu}, ${results.machine.cores} cores, kernel ${results.machine.kernel}, node ${results.machine.node}, commit ${String(results.commit).slice(0, 10)}`);
  log(`\n1. Hot path: stat <x>/go/bin/go, one process, ${N} iterations x ${REPEATS} (µs/op: median [min, max]; ops/s)`);
  const w = Math.max(32, ...Object.keys(results.hotPath.rows).map((name) => name.length));
  for (const [name, s] of Object.entries(results.hotPath.rows as Record<string, Stats & { opsPerSec: number }>)) log(`   ${name.padEnd(w)} ${f(s.median, 2).padStart(8)} [${f(s.min, 2)}, ${f(s.max, 2)}]  ${Math.round(s.opsPerSec)}/s`);
  log('   cold (a new process per stat; µs per fork+stat+exit, median of 3):');
  for (const [name, s] of Object.entries(results.cold.rows as Record<string, Stats>)) log(`   ${name.padEnd(w)} ${f(s.median, 1).padStart(8)} [${f(s.min, 1)}, ${f(s.max, 1)}]`);
  log('   concurrency (ops/s, all clients): 1 / 2 / 8 clients');
  for (const [name, r] of Object.entries(results.concurrency.rows as Record<string, Record<string, number>>)) log(`   ${name.padEnd(w)} ${Math.round(r['1']!)} / ${Math.round(r['2']!)} / ${Math.round(r['8']!)}`);
  log('   ratios:');
  for (const [k, v] of Object.entries(results.ratios as Record<string, number>)) log(`   ${k.padEnd(48)} ${f(v, 2)}`);
  if (results.exec.rows) {
    log('\n2. Exec through a link (ms per run, hyperfine median [min, max]; added over direct)');
    for (const [name, s] of Object.entries(results.exec.rows as Record<string, Stats>)) log(`   ${name.padEnd(32)} ${f(s.median, 3).padStart(8)} [${f(s.min, 3)}, ${f(s.max, 3)}]  +${f(results.exec.addedOverDirectMs[name], 3)}`);
  }
  if (results.passthrough.fio.rows) {
    log(`\n3. Passthrough data (fio, ${FILE_MIB} MiB file)`);
    for (const [name, r] of Object.entries(results.passthrough.fio.rows as Record<string, Record<string, number>>)) log(`   ${name.padEnd(10)} ${Object.entries(r).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}`);
  }
  log(`   metadata macro (${META_FILES} files, seconds)`);
  for (const [name, r] of Object.entries(results.passthrough.metadata.rows as Record<string, Record<string, number>>)) log(`   ${name.padEnd(14)} ${Object.entries(r).map(([k, v]) => `${k} ${f(v, 3)}`).join(', ')}`);
  const sf = results.passthrough.smallFiles;
  log(`   small files: extract, read all, remove ${sf.entries} entries of node_modules (seconds, median of ${sf.repeats})`);
  for (const [name, r] of Object.entries(sf.rows as Record<string, Record<string, number>>)) log(`   ${name.padEnd(14)} ${Object.entries(r).map(([k, v]) => `${k} ${f(v, 3)}`).join(', ')}`);
  const d = results.daemon;
  log(`\n4. Daemon: ${f(d.cpuSecondsPer100k, 2)} CPU s per 100k resolutions; RSS MiB before ${f(d.rssMiB.before)}, peak ${f(d.rssMiB.peak)}, after ${f(d.rssMiB.after)} (${d.resolutions} resolutions)`);
  const fr = results.fairness;
  if (fr?.ratios) log(`\n5. Fairness: ${fr.stormers} processes of another user storming with ${fr.stormEnvironmentKiB} KiB environments; this user's cold resolution ${f(fr.idle.coldUs)} -> ${f(fr.duringStorm.coldUs)} µs, plain stat ${f(fr.idle.plainStatUs, 2)} -> ${f(fr.duringStorm.plainStatUs, 2)} µs; daemon RSS peak ${f(fr.daemonRssMiB.peak)} MiB; ${fr.refused} refused`);
  if (results.toolchain) reportToolchain(results.toolchain);
  writeResults('');
}

/** Writes bench/results/<date>-<host><suffix>[-quick].json. */
function writeResults(suffix: string): void {
  const dir = path.join(BENCH, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${results.date.slice(0, 10)}-${results.machine.host}${suffix}${QUICK ? '-quick' : ''}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  log(`\nresults: ${path.relative(ROOT, file)} (${results.seconds} s)`);
}

/** Runs every cleanup once, the last registered first: mounts go before the directories that hold them. */
async function cleanUp(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

// Interrupted: unmount and remove everything all the same (the step under way then fails: not reported).
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`Error: interrupted (${signal}); cleaning up\n`);
    process.exitCode = 1;
    void cleanUp().then(() => process.exit());
  });
}

main()
  .catch((err: unknown) => {
    if (!interrupted) process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(cleanUp);
