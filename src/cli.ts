// The command line: parses argv once into typed options, runs one command, and on failure prints one
// `Error: …` line and sets the exit code. No stack traces reach the user.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CACHE_MODES, ENTRY_TIMEOUT, startDaemon, type CacheMode, type DaemonConfig } from './daemon';
import { configFromJson, configToJson } from './daemonconfig';
import { checkName, parseAssignment } from './defaults';
import { VarsymfsError } from './errors';
import { createLogger, LOG_LEVELS, type LogLevel } from './log';
import { FS_TYPE, mountAt } from './mountinfo';
import { logFile, stateDir } from './paths';
import { pendingExecWarning } from './pendingexec';
import { parseProjectFileMapping, projectFileRules } from './project';
import { formatStatus, gatherStatus } from './status';
import { ask } from './inspect';
import { printable, printableJson } from './control';
import { resolveCommand, type ResolveOptions } from './resolvecmd';
import { currentCommand } from './current';
import { doctorCommand } from './doctor';
import { linkCommand } from './linkcmd';
import { MANAGERS } from './linkfrom';
import { installUnit, removeUnit } from './service';
import { HELPER_DIR, installHelper, removeHelper } from './setup';
import { bashCompletion, fishCompletion, zshCompletion } from './completion';
import { abortConnection, daemonStuck } from './abort';
import { isRoot, preflight, unmountFuse } from './system';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION = (require('../../package.json') as { version: string }).version;

interface MountOptions {
  source?: string;
  foreground?: boolean;
  default: string[];
  allowOther?: boolean;
  attrTimeout: number;
  entryTimeout?: number;
  cache: CacheMode;
  cacheSize: number;
  /** false with --no-project-files. */
  projectFiles: boolean;
  projectFile: string[];
  projectTimeout: number;
  trustDir: string[];
  logLevel: LogLevel;
  readyFd?: number;
  configFd?: number;
}

function collect(value: string, previous: string[]): string[] {
  parseAssignment(value);
  return [...previous, value];
}

function collectProjectFile(value: string, previous: string[]): string[] {
  parseProjectFileMapping(value);
  return [...previous, value];
}

function collectTrustDir(value: string, previous: string[]): string[] {
  if (value === '' || value.includes('\0')) throw new InvalidArgumentError('expected a directory');
  // Node decodes arguments as UTF-8, other bytes as U+FFFD: the daemon would trust another path, one that
  // anybody may create where the real one lies (/tmp), so such a name is refused.
  if (value.includes('\uFFFD')) throw new InvalidArgumentError('not valid UTF-8 (a name with other bytes cannot be trusted by name)');
  return [...previous, value];
}

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds >= 0');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

/** Makes a user-given directory absolute and canonical (symlinks resolved), without touching a mount. */
function absoluteDir(dir: string): string {
  const abs = path.resolve(dir);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs; // missing or a stale mount: the daemon reports it precisely
  }
}

/**
 * A --trust-dir, resolved one component at a time: a symlink on the way must be the mounting user's or
 * root's (another user's could point the trust anywhere, / included), and the result is never `/`.
 */
export function trustDir(dir: string, uid: number = process.geteuid?.() ?? 0): string {
  let rest = path.resolve(dir).split('/').filter(Boolean);
  let at = '/';
  for (let hops = 0; rest.length > 0; ) {
    const next = path.join(at, rest.shift()!);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(next);
    } catch {
      at = path.join(next, ...rest); // missing: compared by path, as given
      break;
    }
    if (!st.isSymbolicLink()) { at = next; continue; }
    if (st.uid !== uid && st.uid !== 0) throw new VarsymfsError(`--trust-dir ${dir}: ${next} is a symlink of uid ${st.uid}, neither yours nor root's; give the directory it should name`, { exitCode: 2 });
    if (++hops > 40) throw new VarsymfsError(`--trust-dir ${dir}: too many symlinks`, { exitCode: 2 });
    const target = fs.readlinkSync(next);
    rest = [...target.split('/').filter(Boolean), ...rest];
    if (path.isAbsolute(target)) at = '/';
  }
  if (at === '/') throw new VarsymfsError(`--trust-dir ${dir} names /: that would trust every project file; name the directory that holds the shared files`, { exitCode: 2 });
  return at;
}

function daemonConfig(dir: string, o: MountOptions): DaemonConfig {
  const mountPoint = absoluteDir(dir);
  const source = o.source === undefined ? undefined : absoluteDir(o.source);
  if (source !== undefined && (source === mountPoint || source.startsWith(mountPoint + '/'))) {
    throw new VarsymfsError(`--source ${source} is inside the mount point ${mountPoint}; choose a directory outside it`);
  }
  return {
    mountPoint,
    source,
    defaults: new Map(o.default.map(parseAssignment)),
    allowOther: !!o.allowOther,
    attrTimeout: o.attrTimeout,
    entryTimeout: o.entryTimeout ?? ENTRY_TIMEOUT[o.cache],
    cache: o.cache,
    cacheSize: o.cacheSize,
    projectRules: o.projectFiles ? projectFileRules(o.projectFile.map(parseProjectFileMapping)) : [],
    projectTimeout: o.projectTimeout,
    trustDirs: [...new Set(o.trustDir.map((d) => trustDir(d)))],
    logLevel: o.logLevel,
  };
}

/** A background daemon's one answer to its parent on --ready-fd (`warn …` lines, then `ok` or `error …`). */
function tellParent(readyFd: number | undefined, line: string): void {
  if (readyFd === undefined) return;
  try {
    fs.writeSync(readyFd, line + '\n');
    fs.closeSync(readyFd);
  } catch {
    // the parent is gone; nothing to tell
  }
}

/** A configuration is a few KiB; --config-fd refuses more than this. */
const CONFIG_MAX = 4 * 2 ** 20;

/** The configuration the background parent wrote on `fd` (configToJson), read to its end. */
function receivedConfig(fd: number): Promise<DaemonConfig> {
  const unreadable = (err: Error) => new VarsymfsError(`cannot read the configuration on fd ${fd}: ${err.message}`, { cause: err });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let pipe: net.Socket;
    try {
      pipe = new net.Socket({ fd, readable: true, writable: false });
    } catch (err) {
      return reject(unreadable(err as Error)); // not a pipe or socket
    }
    let size = 0;
    pipe.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      // A configuration is a few KiB: an endless or huge one is refused, never held.
      if (size > CONFIG_MAX) {
        pipe.destroy();
        reject(new VarsymfsError(`the configuration on fd ${fd} is larger than ${CONFIG_MAX / 2 ** 20} MiB`));
      }
    });
    pipe.on('error', (err) => reject(unreadable(err)));
    pipe.on('end', () => {
      pipe.destroy();
      try {
        resolve(configFromJson(Buffer.concat(chunks).toString()));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Foreground: serve until a signal or an unmount; SIGINT/SIGTERM unmount cleanly and exit 0. */
async function runForeground(config: DaemonConfig, readyFd: number | undefined): Promise<void> {
  const log = createLogger(config.logLevel, (line) => process.stderr.write(line));
  const ready = (line: string) => {
    tellParent(readyFd, line);
    readyFd = undefined;
  };
  // The signals are handled from before the mount appears: one that comes while the daemon starts
  // unmounts it as soon as it is up, never ends the process with the mount left behind.
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  let pending: string | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (daemon === undefined) {
      // A second signal while starting: give up at once (a start that never ends must not hold on).
      if (pending !== undefined) process.exit(1);
      pending = signal;
      return;
    }
    if (stopping) return;
    stopping = true;
    log.log('info', `${signal}: unmounting ${config.mountPoint}`);
    void daemon.stop();
    // The native loop reports the unmount (onExit); if it never does, do not hang forever.
    setTimeout(() => process.exit(0), 10000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  try {
    daemon = await startDaemon(config, log, () => process.exit(process.exitCode ?? 0));
  } catch (err) {
    ready(`error ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
  const warnings = [pendingExecWarning(daemon.pendingExec), sharingWarning(config)].filter((w): w is string => w !== undefined);
  ready([...warnings.map((w) => `warn ${w}`), 'ok'].join('\n'));
  // Nothing a caller does may end the daemon: an exception that escaped a request's handler (each
  // handler already answers EIO for its own) is logged, and the mount goes on serving.
  process.on('uncaughtException', (err) => log.log('error', `uncaught: ${err instanceof Error ? err.stack : String(err)}`));
  if (pending !== undefined) stop(pending);
}

/** A normal user's mount shared with --allow-other serves everyone with that user's rights: say so. */
export function sharingWarning(config: Pick<DaemonConfig, 'allowOther'>, root = isRoot()): string | undefined {
  if (!config.allowOther || root) return undefined;
  return "--allow-other on a normal user's mount serves every user with your rights: the kernel checks mode bits only (not ACLs), and a store others can change is raced with yours; mount as root to have each caller act as itself (docs/security.md)";
}

/**
 * Background: start a detached daemon and return once its mount answers, or fail with its reason. The
 * daemon gets this configuration itself, as JSON on a pipe (fd 4), not a command line rebuilt from it:
 * an option parsed here cannot be left out on the way. It answers on fd 3.
 */
async function runBackground(config: DaemonConfig): Promise<void> {
  const log = logFile(config.mountPoint);
  fs.mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  try {
    if (fs.statSync(log).size > 4 * 1024 * 1024) fs.renameSync(log, log + '.1');
  } catch {
    // no log yet
  }
  const logFd = fs.openSync(log, 'a', 0o600);
  const logStart = fs.fstatSync(logFd).size;
  const bin = path.resolve(__dirname, '..', '..', 'bin', 'varsymfs');
  // The mount point on its command line only names the daemon for ps; it serves what fd 4 says.
  const child = spawn(process.execPath, [bin, 'mount', config.mountPoint, '--foreground', '--ready-fd', '3', '--config-fd', '4'], {
    detached: true,
    stdio: ['ignore', logFd, logFd, 'pipe', 'pipe'],
    env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '64' },
  });
  fs.closeSync(logFd);
  const configPipe = child.stdio[4] as NodeJS.WritableStream;
  configPipe.on('error', () => {}); // a daemon that died at once: fd 3 says so below
  configPipe.end(JSON.stringify(configToJson(config)));
  let answer = await new Promise<string>((resolve) => {
    let text = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.on('data', (d: Buffer) => (text += d.toString()));
    pipe.on('end', () => resolve(text.trim()));
    pipe.on('error', () => resolve(text.trim()));
    child.on('exit', () => setTimeout(() => resolve(text.trim()), 50));
  });
  // The daemon's warnings ("warn …" lines) come before its final "ok" or "error …".
  const lines = answer.split('\n');
  for (const w of lines.filter((l) => l.startsWith('warn '))) process.stderr.write(`Warning: ${w.slice(5)}\n`);
  answer = lines[lines.length - 1]!;
  if (answer !== 'ok') {
    // The daemon's own reason, else the last thing libfuse or fusermount said in its log.
    let reason = answer.startsWith('error ') ? answer.slice(6) : '';
    const said = fs.readFileSync(log, 'utf8').slice(logStart).split('\n').filter((l) => /^(fuse|fusermount\d?):/.test(l))[0];
    if (said) reason = `${reason}${reason ? ' — ' : ''}${said}`;
    throw new VarsymfsError(reason || `the daemon exited before mounting ${config.mountPoint} (see ${log})`);
  }
  // The mount answers a request from this (another) process before we say it is ready.
  await fs.promises.stat(config.mountPoint);
  child.unref();
  for (const fd of [3, 4]) (child.stdio[fd] as unknown as { destroy(): void }).destroy();
  process.stdout.write(`mounted ${config.mountPoint} (daemon pid ${child.pid}, log ${log})\n`);
}

async function unmount(dir: string, o: { lazy?: boolean }): Promise<void> {
  const mountPoint = path.resolve(dir);
  const m = mountAt(mountPoint);
  if (m === undefined) throw new VarsymfsError(`${mountPoint} is not mounted`);
  if (m.fsType !== FS_TYPE) throw new VarsymfsError(`${mountPoint} is not a varsymfs mount (it is ${m.fsType})`);
  let r = await unmountFuse(mountPoint, !!o.lazy);
  if (r.code !== 0 && (await daemonStuck(m))) {
    // Nothing will ever answer what waits on the mount (a dead daemon, or a zombie whose last thread waits on
    // another, hung FUSE server): fail those requests, then unmount.
    const why = await abortConnection(m);
    if (why !== undefined) throw new VarsymfsError(`${mountPoint}: its daemon does not answer and ${why}; use --lazy`);
    r = await unmountFuse(mountPoint, !!o.lazy);
  }
  if (r.code !== 0) {
    if (/busy/i.test(r.stderr)) throw new VarsymfsError(`${mountPoint} is busy (a process has its working directory or a file open there); close them, or use --lazy`);
    throw new VarsymfsError(`unmounting ${mountPoint} failed: ${r.stderr || `exit ${r.code}`}`);
  }
}

async function defaultsCommand(dir: string, assignments: string[], o: { unset: string[]; json?: boolean }): Promise<void> {
  const set = Object.fromEntries(assignments.map(parseAssignment));
  const mountPoint = path.resolve(dir);
  const m = mountAt(mountPoint);
  if (!m || m.fsType !== FS_TYPE) throw new VarsymfsError(`${mountPoint} is not a varsymfs mount`);
  const r = await ask(mountPoint, { cmd: 'defaults', set, unset: o.unset.map(checkName) });
  const defaults = r.defaults;
  if (o.json) process.stdout.write(printableJson(defaults) + '\n');
  else for (const [k, v] of Object.entries(defaults)) process.stdout.write(printable(`${k}=${v}`) + '\n');
}

async function statusCommand(dir: string | undefined, o: { json?: boolean }): Promise<void> {
  const statuses = await gatherStatus(dir === undefined ? undefined : path.resolve(dir));
  if (dir !== undefined && statuses.length === 0) throw new VarsymfsError(`${path.resolve(dir)} is not a varsymfs mount of this user`);
  process.stdout.write(o.json ? printableJson(statuses) + '\n' : formatStatus(statuses));
  if (statuses.some((s) => !s.alive)) process.exitCode = 1;
}

/** `-o allow_other` is the sshfs/bindfs habit: varsymfs has no -o, so point at the option that exists. */
function mountDashO(value: string): never {
  const hint = value.split(',').includes('allow_other') ? 'use --allow-other' : 'see varsymfs mount --help for the options';
  throw new InvalidArgumentError(`varsymfs takes no -o options (${hint})`);
}

/** The options `service install` puts in the unit, parsed as `varsymfs mount` will parse them at login. */
async function checkMountArgs(mountArgs: string[]): Promise<void> {
  const program = buildProgram();
  const mount = program.commands.find((c) => c.name() === 'mount')!;
  let message = '';
  mount.action(() => {});
  for (const c of [program, mount]) c.configureOutput({ writeErr: (str) => (message += str), writeOut: () => {} }).showHelpAfterError(false);
  try {
    await program.parseAsync(['mount', '/', ...mountArgs], { from: 'user' });
  } catch (err) {
    const first = (err instanceof VarsymfsError ? err.message : message.split('\n')[0] || String(err)).replace(/^error: /, '');
    throw new VarsymfsError(`the mount options ${JSON.stringify(mountArgs.join(' '))} are not what varsymfs mount takes: ${first}`, { exitCode: 2 });
  }
}

/** Builds the command tree (exported for tests of --help). */
export function buildProgram(): Command {
  const program = new Command('varsymfs')
    // Before the subcommands exist, so that they inherit it: a bad command line throws to main() (exit 2)
    // instead of commander calling process.exit(1) from a subcommand.
    .exitOverride()
    .description('Variant symlinks: link targets like $<GO_VERSION> expand from each process\'s own environment.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'Error: ')) })
    .addHelpText('after', `
Examples:
  varsymfs mount ~/vs && ln -s '$<GO_VERSION>' ~/vs/go
  GO_VERSION=go1.2.1 ~/vs/go/bin/go version
  varsymfs resolve ~/vs/go --explain
  varsymfs current
  varsymfs status

Exit codes: 0 success, 1 failure (one "Error: ..." line says why; status: a mount is dead),
2 bad command line. Docs: docs/usage.md, docs/troubleshooting.md.`);

  program
    .command('mount')
    .description('mount a directory in place (its own contents stay, variant links come alive); returns once the mount answers')
    .argument('<dir>', 'the directory to mount over (the mount point)')
    .option('-s, --source <dir>', 'serve this directory instead of <dir>\'s own contents (not inside <dir>)')
    .option('-f, --foreground', 'stay attached and log to stderr; SIGINT/SIGTERM unmount and exit 0')
    .option('-d, --default <NAME=VALUE>', 'a mount default, used when neither the caller\'s environment nor its project files give NAME (repeatable; persists with the mount)', collect, [])
    .option('--allow-other', 'let other users use the mount (kernel permission checks on; non-root needs user_allow_other in /etc/fuse.conf)')
    .option('--attr-timeout <seconds>', 'how long the kernel may cache attributes (0: a variant link\'s size is always the caller\'s)', seconds, 0)
    .option('--entry-timeout <seconds>', 'how long the kernel may cache name lookups (default: 0, 1 or 86400 by --cache)', seconds)
    .addOption(new Option('--cache <mode>', 'what the kernel keeps of what is the same for every caller: never (ask the daemon every time), auto (names; missing names too when mounted in place), always (names, missing names and file pages, for a store nothing changes behind)').choices(CACHE_MODES).default('auto'))
    .option('--cache-size <n>', 'threads whose environments are kept (two open fds each)', positiveInt, 1024)
    .option('--no-project-files', 'ignore project files (.tool-versions, .go-version, .nvmrc, .varsymfs-env, ...): environment, then mount defaults')
    .option('--project-file <FILE=VARIABLE>', 'a file named FILE in the working directory or above holds one value for VARIABLE, like .go-version (repeatable)', collectProjectFile, [])
    .option('--project-timeout <seconds>', 'how long a walk for project files on a network or FUSE filesystem may take; past it, that caller goes on without them', seconds, 0.5)
    .option('--trust-dir <dir>', 'count project files under <dir> whoever owns or may write them (by default only the caller\'s own and root\'s count, and only if no one else may write them; repeatable)', collectTrustDir, [])
    .addOption(new Option('--log-level <level>', 'daemon log detail').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--ready-fd <fd>').argParser(positiveInt).hideHelp())
    .addOption(new Option('--config-fd <fd>').argParser(positiveInt).hideHelp())
    .addOption(new Option('-o <options>').argParser(mountDashO).hideHelp())
    .addHelpText('after', `
Examples:
  varsymfs mount ~/vs                       # serve ~/vs in place, in the background
  cd ~/vs && ln -s '$<XXX>' foo && XXX=bar cat foo
  varsymfs mount ~/vs --default GO_VERSION=go1.2.1
  varsymfs mount ~/vs --project-file .bun-version=BUN_VERSION   # and .tool-versions, .nvmrc, ... as always
  varsymfs mount -f ~/vs --source ~/toolchains   # foreground, serving another directory`)
    .action(async (dir: string, o: MountOptions) => {
      // daemonConfig is the one place options become configuration: a background daemon (--config-fd,
      // from runBackground) takes the configuration its parent made, and reads no option of its own.
      const config = o.configFd === undefined ? daemonConfig(dir, o) : await receivedConfig(o.configFd).catch((err: unknown) => {
        tellParent(o.readyFd, `error ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      });
      preflight({ allowOther: config.allowOther });
      return o.foreground ? runForeground(config, o.readyFd) : runBackground(config);
    });

  program
    .command('unmount')
    .alias('umount')
    .description('unmount a varsymfs mount (works for root and normal users); the daemon exits. A mount whose daemon is dead or stuck (requests waiting, no answer on its control socket) has its FUSE connection aborted first (fusectl)')
    .argument('<dir>', 'the mount point')
    .option('-z, --lazy', 'detach now even if busy; the daemon exits once nothing uses the mount')
    .addHelpText('after', `
Example:
  varsymfs unmount ~/vs`)
    .action((dir: string, o: { lazy?: boolean }) => unmount(dir, o));

  program
    .command('resolve')
    .description('what the variant link at <path> resolves to for a process (default: this command, i.e. what a program started from this shell sees); a path through links names each link on the way; exit 1 when what it leads to does not exist (not installed)')
    .argument('<path>', 'a link inside a varsymfs mount, or a path through one (~/vs/go/bin/go)')
    .option('-p, --pid <pid>', 'resolve for this process instead', positiveInt)
    .option('-e, --explain', 'say which scope supplied each reference (environment, pending exec, project file, mount default, inline fallback, unresolved), which project file and line, and which install directory name matched (and which were tried)')
    .option('--json', 'print the full answer as JSON')
    .addHelpText('after', `
Examples:
  GO_VERSION=go1.2.1 varsymfs resolve ~/vs/go          # go1.2.1
  varsymfs resolve ~/vs/go/bin/go                      # each link on the way, then the file that runs
  varsymfs resolve ~/vs/go --explain --pid 4242`)
    .action((file: string, o: ResolveOptions) => resolveCommand(file, o));

  program
    .command('defaults')
    .description('show or change the mount defaults (used when neither a caller\'s environment nor its project files give a variable); they persist with the mount')
    .argument('<mountpoint>', 'a varsymfs mount point')
    .argument('[assignments...]', 'NAME=VALUE to set')
    .option('-u, --unset <NAME>', 'remove a default (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--json', 'print the defaults as JSON')
    .addHelpText('after', `
Examples:
  varsymfs defaults ~/vs                       # print them
  varsymfs defaults ~/vs GO_VERSION=go1.2.1    # the "global" version
  varsymfs defaults ~/vs --unset GO_VERSION`)
    .action((dir: string, assignments: string[], o: { unset: string[]; json?: boolean }) => defaultsCommand(dir, assignments, o));

  program
    .command('status')
    .description('every varsymfs mount of this user: daemon, uptime, CPU, memory, requests, cache; exit 1 if a mount is dead')
    .argument('[mountpoint]', 'only this mount')
    .option('--json', 'print as JSON')
    .addHelpText('after', `
Examples:
  varsymfs status
  varsymfs status ~/vs --json`)
    .action((dir: string | undefined, o: { json?: boolean }) => statusCommand(dir, o));

  program
    .command('current')
    .description('what runs here: every variant link of every mount of this user, with each value, its scope and file:line, the directory it leads to (NOT INSTALLED when missing); then the project files considered, read or skipped and why')
    .option('-C, --directory <dir>', 'as a program started in <dir> sees it (default: here)')
    .option('--depth <n>', 'look for links this many levels deep in each mount', positiveInt, 3)
    .option('--json', 'print as JSON')
    .addHelpText('after', `
Examples:
  varsymfs current
  varsymfs current -C ~/src/api --json`)
    .action((o: { directory?: string; json?: boolean; depth: number }) => currentCommand(o));

  program
    .command('doctor')
    .description('warn when a directory on PATH runs through a variant link to a version that is not installed, and which other program of that name runs instead; exit 1 if so')
    .addHelpText('after', `
Example:
  cd ~/src/api && varsymfs doctor`)
    .action(() => doctorCommand());

  program
    .command('link')
    .description('make one variant link per installed tool in <mountpoint>, into your version manager\'s install tree (go -> ~/.local/share/mise/installs/go/$<GO_VERSION>); prints what it did; overwrites nothing without --force (exit 1 when something was left alone)')
    .argument('<mountpoint>', 'a varsymfs mount point (or any directory)')
    .addOption(new Option('--from <manager>', 'the version manager whose installs to link').choices(MANAGERS))
    .addOption(new Option('--defaults-from <manager>', 'take its global versions (~/.config/mise/config.toml, ~/.tool-versions) as the mount defaults').choices(['mise']))
    .option('--force', 'replace a file or link of the same name')
    .addHelpText('after', `
Examples:
  varsymfs link ~/vs --from mise --defaults-from mise
  varsymfs link ~/vs --from nvm`)
    .action((dir: string, o: { from?: string; defaultsFrom?: string; force?: boolean }) => linkCommand(dir, o));

  program
    .command('setup')
    .description('as root: install the exec-env helper with CAP_SYS_PTRACE, so that a normal user\'s mount reads the environment a command passes to execve where kernel.yama.ptrace_scope is 1 or 2 (Ubuntu\'s default)')
    .option('--remove', 'uninstall the helper')
    .option('--dir <dir>', `install into (or remove from) this directory instead of ${HELPER_DIR}; daemons then need VARSYMFS_EXECENV_HELPER=<dir>/varsymfs-execenv`)
    .addHelpText('after', `
Examples:
  sudo varsymfs setup
  sudo varsymfs setup --remove`)
    .action((o: { remove?: boolean; dir?: string }) => {
      if (o.remove) {
        const removed = removeHelper(o.dir);
        process.stdout.write(removed === undefined ? `no helper installed in ${path.resolve(o.dir ?? HELPER_DIR)}\n` : `removed ${removed}\n`);
        return;
      }
      const target = installHelper(o.dir);
      process.stdout.write(`installed ${target} with cap_sys_ptrace=ep; mounts started from now on use it where ptrace is restricted (remount the running ones)\n`);
    });

  const service = program
    .command('service')
    .description('mount at login with a systemd user unit (writes the unit, prints the systemctl commands; never runs systemctl)');
  service
    .command('install')
    .description('write ~/.config/systemd/user/varsymfs-<mount>.service that mounts <mountpoint> at login')
    .argument('<mountpoint>', 'the directory to mount')
    .argument('[mount-options...]', 'options for `varsymfs mount`, after --, e.g. -- --default GO_VERSION=go1.2.1')
    .addHelpText('after', `
Example:
  varsymfs service install ~/vs -- --default GO_VERSION=go1.21.0
  systemctl --user daemon-reload && systemctl --user enable --now varsymfs-home_me_vs.service`)
    .action(async (dir: string, mountArgs: string[]) => {
      await checkMountArgs(mountArgs);
      const mountPoint = absoluteDir(dir);
      const { file, name } = installUnit(mountPoint, mountArgs, path.resolve(__dirname, '..', '..', 'bin', 'varsymfs'));
      process.stdout.write(`wrote ${file}\nto start it now and at every login:\n  systemctl --user daemon-reload\n  systemctl --user enable --now ${name}\n(on a server without a login session, also: loginctl enable-linger $USER)\n`);
    });
  service
    .command('remove')
    .description('remove the unit written by `service install`')
    .argument('<mountpoint>', 'the mount point')
    .action((dir: string) => {
      const { file, name } = removeUnit(absoluteDir(dir));
      process.stdout.write(`removed ${file}\nstop it with:\n  systemctl --user disable --now ${name}\n  systemctl --user daemon-reload\n`);
    });

  program
    .command('completion')
    .description('print a shell completion script')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText('after', `
Examples:
  varsymfs completion bash > ~/.local/share/bash-completion/completions/varsymfs
  varsymfs completion zsh > "\${fpath[1]}/_varsymfs"
  varsymfs completion fish > ~/.config/fish/completions/varsymfs.fish`)
    .action((shell: string) => {
      const script = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
      if (script === undefined) throw new VarsymfsError(`no completion for '${shell}': bash, zsh and fish are supported`, { exitCode: 2 });
      process.stdout.write(script(program));
    });

  return program;
}

/** Runs the CLI; never throws: errors become one line on stderr and a non-zero exit code. */
/**
 * A reader that went away (`varsymfs --help | head -1`) is the end of the output, not an error, as for
 * coreutils; any other failure to write is one line on stderr. (Node ignores SIGPIPE, so a write to a
 * closed pipe raises EPIPE on the stream instead of ending the process.)
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream, name: string): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') return;
    if (stream !== process.stderr) process.stderr.write(`Error: cannot write to ${name} (${err.code ?? err.message})\n`);
    process.exitCode = 1;
  });
}

export async function main(argv: string[]): Promise<void> {
  quietOnClosedPipe(process.stdout, 'standard output');
  quietOnClosedPipe(process.stderr, 'standard error');
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      process.exitCode = e.exitCode ?? 2;
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') process.exitCode = 0;
      else if (process.exitCode === 1) process.exitCode = 2;
      return;
    }
    const message = err instanceof VarsymfsError ? err.message : err instanceof Error ? err.message : String(err);
    // One line, whatever it quotes (a link target, a daemon's reply): control characters as \xHH.
    process.stderr.write(`Error: ${printable(message)}\n`);
    process.exitCode = err instanceof VarsymfsError ? err.exitCode : 1;
  }
}
