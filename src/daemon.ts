// The daemon: takes hold of the backing directory, mounts over the mount point, serves until unmounted
// (by a signal, `varsymfs unmount`, or from outside), then exits. It never touches its own mount point
// path while mounted: the request would wait for the thread that is making it.
import * as fs from 'node:fs';
import { constants } from 'node:os';
import * as path from 'node:path';
import { serveControl, type Handler } from './control';
import { configToJson } from './daemonconfig';
import { DEFAULTS_FILE, checkName, loadDefaults, saveDefaults } from './defaults';
import { VarsymfsError } from './errors';
import type { LogLevel, Logger } from './log';
import { FS_TYPE, mountAt } from './mountinfo';
import { loadFuse, loadHelpers, type KernelCache, type NativeHelpers } from './native';
import { createOps } from './ops';
import { socketPath } from './paths';
import { explainPendingExec, pendingExecSettings, pendingExecWarning, setupPendingExec, type PendingExecState } from './pendingexec';
import { projectFileNames, type ProjectFileRule } from './project';
import { Resolver } from './resolver';
import { REFERENCE_OPENERS } from './template';
import { isRoot, unmountFuse } from './system';

export interface DaemonConfig {
  readonly mountPoint: string;
  /** The backing directory; the mount point itself (mount in place) when undefined. */
  readonly source: string | undefined;
  readonly defaults: ReadonlyMap<string, string>;
  readonly allowOther: boolean;
  readonly attrTimeout: number;
  readonly entryTimeout: number;
  /** What the kernel may keep of what is the same for every caller (--cache; mountOptions says what each keeps). */
  readonly cache: CacheMode;
  readonly cacheSize: number;
  /** The project files understood, in precedence order (project.ts projectFileRules); none: the scope is off. */
  readonly projectRules: readonly ProjectFileRule[];
  /** Seconds a walk on a network or FUSE filesystem may take before its caller goes on without it. */
  readonly projectTimeout: number;
  /** --trust-dir: absolute directories whose project files count whoever owns them (docs/security.md). */
  readonly trustDirs: readonly string[];
  /** The detail of the daemon's log (the CLI makes the logger from it). */
  readonly logLevel: LogLevel;
}

/** A running mount, for the control channel and for shutdown. */
export interface Daemon {
  readonly config: DaemonConfig;
  readonly startedAt: number;
  readonly native: NativeHelpers;
  readonly resolver: Resolver;
  /** How callers' pending-exec environments are read (issue 13). */
  readonly pendingExec: PendingExecState;
  defaults: Map<string, string>;
  stop(): Promise<void>;
}

export const CACHE_MODES = ['never', 'auto', 'always'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

/** --entry-timeout's default for each --cache mode. */
export const ENTRY_TIMEOUT: Readonly<Record<CacheMode, number>> = { never: 0, auto: 1, always: 86400 };

/**
 * What the kernel may keep, by --cache (docs/semantics.md, "What the kernel keeps"). A variant link's
 * attributes are never kept (--attr-timeout, 0 unless given). Missing names: in place, a change to the
 * store made behind the mount is as rare as it is for names found, so they are kept as long (auto; both
 * within --entry-timeout); a --source store changes behind the mount as a matter of course, so auto asks
 * every time. Pages: only always keeps them across opens (kernel_cache). Not auto: high-level libfuse
 * gives the kernel one inode per path, so a file replaced behind the mount would share its page cache
 * with the file it replaced, and a process still reading the old one refills it with old pages that no
 * check at open can see (libfuse's auto_cache compares only size and mtime).
 */
function cacheOptions(config: Pick<DaemonConfig, 'source' | 'entryTimeout' | 'cache'>): string[] {
  const negative = config.cache === 'always' || (config.cache === 'auto' && config.source === undefined) ? config.entryTimeout : 0;
  const pages = config.cache === 'always' ? ['kernel_cache'] : [];
  return [`negative_timeout=${negative}`, ...pages];
}

/** Whether mounts run libfuse's low-level session (src/binding/lowlevel.c); for now only with VARSYMFS_LOWLEVEL=1. */
export const LOWLEVEL = process.env.VARSYMFS_LOWLEVEL === '1';

/**
 * What the kernel may keep on the low-level path, per entry (docs/semantics.md, "What the kernel keeps"): a
 * variant link's attributes never. Names found, for --entry-timeout; the attributes of everything else as
 * long, in place (every change passes through the daemon, which the kernel sees), or for --attr-timeout on
 * a --source store (it changes behind the mount). Missing names as cacheOptions says. A file's pages: kept
 * across opens while its size and mtime are unchanged (auto), always, or never.
 */
export function kernelCache(config: Pick<DaemonConfig, 'source' | 'attrTimeout' | 'entryTimeout' | 'cache'>): KernelCache {
  const negative = config.cache === 'always' || (config.cache === 'auto' && config.source === undefined) ? config.entryTimeout : 0;
  const attr = config.attrTimeout > 0 || config.source !== undefined ? config.attrTimeout : config.entryTimeout;
  return { entryTimeout: config.entryTimeout, attrTimeout: attr, negativeTimeout: negative, pages: config.cache === 'never' ? 0 : config.cache === 'auto' ? 1 : 2 };
}

/** Mount options for libfuse, with default_permissions first: no length of fsname can push it out. */
export function mountOptions(config: Pick<DaemonConfig, 'mountPoint' | 'source' | 'allowOther' | 'attrTimeout' | 'entryTimeout' | 'cache'>): string[] {
  const options = config.allowOther ? ['default_permissions', 'allow_other'] : [];
  options.push(
    ...(LOWLEVEL ? [] : ['use_ino']),
    'big_writes',
    'nonempty', // mounting in place: the directory holds the very files we serve
    'subtype=varsymfs',
    ...(LOWLEVEL ? [] : [`attr_timeout=${config.attrTimeout}`, `entry_timeout=${config.entryTimeout}`, ...cacheOptions(config)]),
    `fsname=${(config.source ?? config.mountPoint).replace(/[,\\]/g, (c) => '\\' + c)}`,
  );
  // The kernel takes a mount's options and source in one page; fusermount adds its own.
  const length = options.join(',').length;
  if (length > MOUNT_OPTIONS_MAX) throw new VarsymfsError(`the ${config.source !== undefined ? 'source' : 'mount point'} path is too long to mount (${length} bytes of mount options; at most ${MOUNT_OPTIONS_MAX})`);
  return options;
}
const MOUNT_OPTIONS_MAX = 3072;

/** Clears a stale mount left by a killed daemon ("Transport endpoint is not connected"). */
async function recoverStale(mountPoint: string, log: Logger): Promise<void> {
  try {
    fs.statSync(mountPoint);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTCONN') return;
  }
  log.log('warn', `${mountPoint}: stale mount of a dead daemon; unmounting it first`);
  const r = await unmountFuse(mountPoint, true);
  if (r.code !== 0) throw new VarsymfsError(`${mountPoint} is a stale mount and could not be unmounted: ${r.stderr || `exit ${r.code}`}`);
}

function checkDirectory(dir: string, role: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new VarsymfsError(`${role} ${dir} does not exist`);
    if (code === 'EACCES') throw new VarsymfsError(`${role} ${dir} is not accessible to this user`);
    throw new VarsymfsError(`${role} ${dir}: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new VarsymfsError(`${role} ${dir} is not a directory`);
  // The daemon serves from inside it (chdir): a directory it may not enter would fail there, as a bare EACCES.
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK);
  } catch {
    throw new VarsymfsError(`${role} ${dir} is not accessible to this user (mode ${(st.mode & 0o777).toString(8).padStart(3, '0')}): make it yours to read and enter, e.g. chmod u+rwx ${dir}`);
  }
}

/** Mounts and serves; resolves once the mount is up. `onExit` runs when the mount is gone. */
export async function startDaemon(config: DaemonConfig, log: Logger, onExit: () => void): Promise<Daemon> {
  const { mountPoint } = config;
  await recoverStale(mountPoint, log);
  checkDirectory(mountPoint, 'mount point');
  const existing = mountAt(mountPoint);
  if (existing !== undefined && existing.fsType.startsWith('fuse')) {
    throw new VarsymfsError(`${mountPoint} is already mounted (${existing.fsType}); unmount it first: varsymfs unmount ${mountPoint}`);
  }
  if (config.source !== undefined) checkDirectory(config.source, 'source');
  // fusermount refuses a mount point its user neither owns nor may write to, but libfuse2 swallows its reason.
  if (!isRoot() && fs.statSync(mountPoint).uid !== process.getuid?.()) {
    try {
      fs.accessSync(mountPoint, fs.constants.W_OK);
    } catch {
      throw new VarsymfsError(`mounting ${mountPoint} failed: this user may not write to it — fusermount: user has no write access to mountpoint`);
    }
  }
  const Fuse = loadFuse();
  const native = loadHelpers();
  const pendingExec = setupPendingExec(native, pendingExecSettings(process.env));
  const warning = pendingExecWarning(pendingExec);
  if (warning !== undefined) log.log('warn', warning);

  // Hold the backing directory as our working directory before the mount covers it: every backing path
  // is relative to it, so mounting in place serves the directory's own contents.
  process.chdir(config.source ?? mountPoint);
  process.umask(0);

  const defaults = loadDefaults(DEFAULTS_FILE);
  if (config.defaults.size > 0) {
    // --default values join the stored ones and persist with the mount's data (written before mounting).
    for (const [k, v] of config.defaults) defaults.set(k, v);
    await new Promise<void>((resolve, reject) => saveDefaults(DEFAULTS_FILE, defaults, (err) => (err ? reject(new VarsymfsError(`cannot store mount defaults: ${err.message}`, { cause: err })) : resolve())));
  }

  // A root daemon serving other users acts as each caller in the backing store (src/binding/creds.c).
  const actAsCaller = isRoot() && config.allowOther;
  const options = mountOptions(config);
  const projectFiles = projectFileNames(config.projectRules);
  if (config.trustDirs.length > native.layout.project.trustDirsMax) throw new VarsymfsError(`too many --trust-dir (${config.trustDirs.length}; at most ${native.layout.project.trustDirsMax})`);
  if (projectFiles.length > native.layout.project.namesMax) throw new VarsymfsError(`too many project files (${projectFiles.length}; at most ${native.layout.project.namesMax})`);
  native.configure({
    cacheSize: config.cacheSize,
    reservedName: DEFAULTS_FILE,
    actAsCaller,
    openers: REFERENCE_OPENERS,
    projectFiles,
    projectTimeoutMs: Math.round(config.projectTimeout * 1000),
    trustDirs: config.trustDirs,
    mountPoint: config.mountPoint,
    generationStride: generationStride(process.env),
    ...(LOWLEVEL ? { kernel: kernelCache(config) } : {}),
  });
  // Resolutions read the defaults through the daemon, so `varsymfs defaults` changes apply at once.
  // With --allow-other, install directories are matched only where any user may list them (a link's answer shows a name).
  const resolver = new Resolver(native, defaults, { memo: !log.enabled('debug'), projectRules: config.projectRules, mountPoint: config.mountPoint, onlyPublicInstalls: config.allowOther, installsTimeoutMs: Math.round(config.projectTimeout * 1000) });
  const daemon: Daemon = {
    config,
    startedAt: Date.now(),
    native,
    resolver,
    pendingExec,
    defaults,
    stop: async () => {
      const r = await unmountFuse(mountPoint, true);
      if (r.code !== 0) log.log('error', `unmount failed: ${r.stderr || `exit ${r.code}`}`);
    },
  };

  const socket = socketPath(mountPoint);
  let fuse: InstanceType<typeof Fuse> | undefined;
  const ops = createOps({ locals: () => fuse!.slot(), resolver, native, log });
  // Requests are answered on the FUSE worker threads by the hook; JS gets only what it passes on.
  if (LOWLEVEL) Fuse.setHook(native.hook(), native.lowlevel());
  else Fuse.setHook(native.hook());
  fuse = new Fuse(mountPoint, ops, {
    timeout: false,
    options,
    onError: (op: string, err: unknown) => log.log('error', `${op}: ${err instanceof Error ? err.stack : String(err)} (answered EIO)`),
    onExit: () => {
      fs.rmSync(socket, { force: true });
      log.log('info', `${mountPoint}: unmounted`);
      onExit();
    },
  });
  await new Promise<void>((resolve, reject) => {
    fuse!.mount((err) => {
      if (!err) return resolve();
      reject(new VarsymfsError(`mounting ${mountPoint} failed: ${err.message}`, { cause: err }));
    });
  });
  try {
    await serveControl(socket, controlHandler(daemon, log));
  } catch (err) {
    log.log('warn', `control socket ${socket} unavailable (status and defaults will not reach this daemon): ${err instanceof Error ? err.message : String(err)}`);
  }
  log.log('info', `${mountPoint}: mounted (${FS_TYPE}, serving ${config.source ?? 'the directory in place'}, pid ${process.pid})`);
  return daemon;
}

/** Answers the CLI's requests on the control socket. */
function controlHandler(daemon: Daemon, log: Logger): Handler {
  return (req, reply) => {
    switch (req.cmd) {
      case 'status': {
        const c = daemon.native.counters();
        const names = daemon.native.layout.ops;
        const requests: Record<string, number> = {};
        c.ops.forEach((n, i) => {
          if (names[i] !== 'init' && names[i] !== 'error') requests[names[i]!] = n;
        });
        reply({
          ok: true,
          pid: process.pid,
          mountPoint: daemon.config.mountPoint,
          source: daemon.config.source ?? daemon.config.mountPoint,
          startedAt: new Date(daemon.startedAt).toISOString(),
          uptimeSeconds: Math.round((Date.now() - daemon.startedAt) / 1000),
          requests,
          resolutions: c.resolutions,
          inodes: c.inodes,
          cache: {
            entries: c.cacheEntries,
            lookups: c.envLookups,
            hits: c.envCached,
            hitRate: c.envLookups ? c.envCached / c.envLookups : 0,
            memoHits: c.memoHits,
            pendingExec: c.envExec,
            unreadable: c.envUnreadable,
            secure: c.envSecure,
            otherUsersLinks: c.envLinkOwner,
            shareRefused: c.shareRefused,
          },
          defaults: Object.fromEntries(daemon.defaults),
          pendingExec: { ...daemon.pendingExec, ...(daemon.pendingExec.state === 'via helper' ? { helperStats: loadHelpers().execenvStats() } : {}) },
          config: configToJson(daemon.config),
          project: {
            enabled: daemon.resolver.projectNames.length > 0,
            files: [...daemon.resolver.projectNames],
            walks: c.projectWalks,
            answered: c.projectAnswered + daemon.resolver.projectAnswered,
            timedOut: c.projectTimeouts,
          },
        });
        return;
      }
      case 'defaults': {
        const next = new Map(daemon.defaults);
        for (const [k, v] of Object.entries(req.set ?? {})) next.set(checkName(k), String(v));
        for (const k of req.unset ?? []) next.delete(checkName(k));
        saveDefaults(DEFAULTS_FILE, next, (err) => {
          if (err) return reply({ ok: false, error: `cannot store mount defaults: ${err.message}` });
          daemon.defaults = next;
          daemon.resolver.setDefaults(next);
          log.log('info', `mount defaults now ${JSON.stringify(Object.fromEntries(next))}`);
          reply({ ok: true, defaults: Object.fromEntries(next) });
        });
        return;
      }
      case 'resolve': {
        const rel = req.path.length <= 1 ? '.' : req.path.slice(1);
        daemon.resolver.explain(req.pid, Buffer.from(rel), (errno, r) => {
          const link = path.join(daemon.config.mountPoint, req.path);
          if (errno < 0) return reply({ ok: false, error: `${link} ${errno === -constants.errno.EINVAL ? 'is not a symlink' : errno === -constants.errno.ENOENT ? 'does not exist' : `cannot be read (errno ${-errno})`}` });
          const env = r!.env;
          reply({
            ok: true,
            link,
            raw: r!.raw.toString(),
            target: r!.target?.toString() ?? `(too long: ${r!.length} bytes, over PATH_MAX)`,
            pid: req.pid,
            variant: r!.refs !== undefined,
            environment: env === undefined ? 'not needed' : ENVIRONMENT[env.source],
            pendingExecCheck: explainPendingExec(env, daemon.pendingExec),
            ...(r!.linkOwner !== undefined && r!.refs !== undefined ? { linkOwner: r!.linkOwner } : {}),
            projectFiles: PROJECT[r!.project],
            skipped: (r!.skipped ?? []).map((x) => ({ kind: x.kind, text: x.text })),
            refs: (r!.refs ?? []).map((x) => ({
              name: x.name,
              scope: x.scope,
              value: x.value.toString(),
              ...(x.source !== undefined ? { file: x.source } : {}),
              ...(x.match !== undefined ? { match: { ...(x.match.matched !== undefined ? { matched: x.match.matched, rule: x.match.rule } : {}), tried: x.match.tried, dir: x.match.dir } } : {}),
            })),
          });
        });
        return;
      }
      default:
        reply({ ok: false, error: 'unknown request' });
    }
  };
}

/** VARSYMFS_TEST_GENERATION_STRIDE (tests only, docs/testing.md): how far each new environment generation
 * moves the counter, so that a test reaches its wrap in a few reads. Default 1. */
export function generationStride(env: NodeJS.ProcessEnv): number {
  const v = env.VARSYMFS_TEST_GENERATION_STRIDE;
  if (v === undefined || v === '') return 1;
  if (!/^[1-9][0-9]{0,15}$/.test(v) || !Number.isSafeInteger(Number(v))) throw new VarsymfsError(`VARSYMFS_TEST_GENERATION_STRIDE must be a positive integer below 2^53, not ${JSON.stringify(v)}`);
  return Number(v);
}

const PROJECT = {
  off: 'not looked at (the scope is off, or a secure exec)',
  walked: 'read from the working directory up',
  noCwd: 'none (the working directory is gone or unreachable)',
  timedOut: 'none this time (the walk took longer than --project-timeout)',
  failed: 'none (the daemon could not walk)',
  partial: 'read from the working directory up to a directory on a filesystem slower than --project-timeout: the files below it (this time only)',
} as const;

const ENVIRONMENT = {
  cached: 'environment',
  fresh: 'environment',
  exec: 'pending exec',
  unreadable: 'unreadable',
  secure: 'not used: a secure exec (setuid, setgid or file capabilities) or changed credentials',
  linkOwner: 'not read: the link is another user\'s',
} as const;
