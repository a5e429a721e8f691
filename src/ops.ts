// The FUSE operations. The prehook (varsymfs_native.c) has already done each passthrough operation's
// system call on the FUSE worker thread, in the backing directory (the daemon's working directory, taken
// before the mount covered it), never following a symlink there (openat2 RESOLVE_NO_SYMLINKS |
// RESOLVE_BENEATH for the parent, no-follow *at calls for the last name). Here each handler counts the
// request, expands variant links, makes the few calls the hook leaves to JS (readdir, statfs, xattrs) on
// the thread pool, and replies through reply(), which converts every error once and answers every
// request exactly once.
import * as fs from 'node:fs';
import { constants as C } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { toErrno, isExpectedErrno } from './errors';
import type { Logger } from './log';
import type { CallerContext, NativeHelpers } from './native';
import { NativeOp, SLOT } from './native';
import { type Resolver, TARGET_MAX_BYTES } from './resolver';

const { ENOENT: E_NOENT, EPERM: E_PERM, ENAMETOOLONG: E_NAMETOOLONG } = osConstants.errno;
const ENOENT = -E_NOENT;
const EPERM = -E_PERM;
const ENAMETOOLONG = -E_NAMETOOLONG;
const XATTR_SIZE_MAX = 65536;
const XATTR_LIST_MAX = 65536;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const NONE = [0, 0, 0, 0];
const HOOK_DONE = 7;

export interface OpsConfig {
  /** The name, in the backing root, of varsymfs's own data file; hidden from the mount. */
  readonly reservedName: string;
  /** Give new files to the calling user (the daemon runs as root for others). */
  readonly chownToCaller: boolean;
}

export interface OpStats {
  [op: string]: number;
}

/** A copy of the stat the prehook left in the request's slot. */
function slotStat(locals: Buffer): Uint32Array {
  return new Uint32Array(locals.buffer.slice(locals.byteOffset + SLOT.stat, locals.byteOffset + SLOT.stat + 88));
}

/** Maps a FUSE path ("/a/b") to the backing path relative to the daemon's cwd ("a/b"). */
export function backingPath(path: string): string {
  return path.length <= 1 ? '.' : path.slice(1);
}

type Reply = (result: number, ...values: unknown[]) => void;

/** Builds the operations table for fuse-native. `context()` is the caller of the request now starting. */
export function createOps(
  config: OpsConfig,
  context: () => CallerContext,
  slot: () => Buffer,
  resolver: Resolver,
  native: NativeHelpers,
  log: Logger,
  stats: OpStats,
): Record<string, unknown> {
  const reserved = '/' + config.reservedName;
  // The data file and its temporary siblings (written beside it, then renamed) are not part of the mount.
  const isReserved = (p: string) => p.startsWith(reserved) && !p.includes('/', 1);
  const debug = log.enabled('debug');

  /** Wraps an operation: counts it, hides the reserved file, converts errors, replies once. */
  function op(name: string, fn: (reply: Reply, path: string, ...args: any[]) => void) {
    stats[name] = 0;
    return (path: string, ...rest: any[]) => {
      stats[name]!++;
      const cb = rest.pop() as (...a: unknown[]) => void;
      let replied = false;
      const reply: Reply = (result, ...values) => {
        if (replied) {
          log.log('error', `${name} ${path}: second reply ignored (a bug)`);
          return;
        }
        replied = true;
        cb(result, ...values);
      };
      // path is null for an open file that was unlinked (hard_remove): only handle-based ops get one.
      if ((path !== null && isReserved(path)) || ((name === 'rename' || name === 'link' || name === 'symlink') && isReserved(rest[0] as string))) {
        reply(name === 'getattr' || name === 'readlink' || name === 'access' ? ENOENT : EPERM);
        return;
      }
      try {
        fn(reply, path, ...rest);
      } catch (err) {
        log.log('error', `${name} ${path}: ${err instanceof Error ? err.stack : String(err)}`);
        if (!replied) reply(toErrno(err));
      }
    };
  }

  function fail(reply: Reply, name: string, path: string, err: unknown): void {
    const errno = toErrno(err);
    if (!isExpectedErrno(errno)) log.log('warn', `${name} ${path}: ${String(err)}`);
    reply(errno);
  }

  /**
   * When the prehook already did this op on the FUSE thread (no thread-pool trip), replies with its
   * result (or hands a non-negative one to `then`) and returns true; else the caller does the op.
   */
  function viaHook(reply: Reply, name: string, path: string, then?: (r: number) => void): boolean {
    const l = slot();
    if (l.readInt32LE(SLOT.status) !== HOOK_DONE) return false;
    const r = l.readInt32LE(SLOT.result);
    if (r < 0) fail(reply, name, path, r);
    else if (then) then(r);
    else reply(0);
    return true;
  }

  /** One varsymfs_native path operation; `then` gets a non-negative result, errors reply at once. */
  function call(reply: Reply, name: string, path: string, opcode: number, path2: string | null, data: Buffer | null, nums: readonly number[], then?: (r: number, extra: Buffer | null) => void) {
    native.start(opcode, backingPath(path), path2, data, nums as number[], (r, extra) => {
      if (r < 0) return fail(reply, name, path, r);
      if (then) then(r, extra);
      else reply(0);
    });
  }

  /** Gives a new object to the caller when the daemon is root serving someone else. */
  function own(reply: Reply, name: string, path: string, ctx: CallerContext) {
    if (!config.chownToCaller || ctx.uid === 0) return reply(0);
    native.start(NativeOp.chown, backingPath(path), null, null, [ctx.uid, ctx.gid, 0, 0], (r) => {
      if (r >= 0) return reply(0);
      native.start(NativeOp.unlink, backingPath(path), null, null, NONE as number[], () => fail(reply, name, path, r));
    });
  }

  /** The target a link means for the calling process; the same for getattr's st_size and readlink. */
  function linkTarget(path: string, pid: number, locals: Buffer, cb: (errno: number, target?: string) => void) {
    resolver.resolveLink(backingPath(path), pid, debug, (errno, r) => {
      if (errno < 0) return cb(errno);
      if (debug && r!.refs) {
        const refs = r!.refs.map((x) => `${x.name}:${x.scope}`).join(' ');
        // The program name only at debug level: one more /proc read, off the reply's path.
        fs.readFile(`/proc/${pid}/comm`, 'utf8', (_e, comm) => {
          log.log('debug', `resolve pid=${pid} (${(comm ?? '?').trim()}) ${path} -> ${r!.target} [${refs}] env=${r!.env?.source}${r!.env?.cached ? ' (cached)' : ''}`);
        });
      }
      cb(0, r!.target);
    }, locals);
  }

  /** An operation the prehook always does on the FUSE thread; JS counts it and replies with its result. */
  function passthrough(name: string, then?: (reply: Reply, r: number, path: string, args: any[]) => void) {
    return op(name, (reply, path, ...args: any[]) => {
      if (viaHook(reply, name, path, then && ((r) => then(reply, r, path, args)))) return;
      // Only a request the hook declined reaches here: a NULL path (never sent with our options).
      log.log('error', `${name} ${path}: not done by the prehook`);
      reply(-osConstants.errno.EIO);
    });
  }

  return {
    init: (cb: (e: number) => void) => cb(0),

    fgetattr: passthrough('fgetattr', (reply) => reply(0, slotStat(slot()))),

    getattr: op('getattr', (reply, path) => {
      const locals = slot();
      const pid = locals.readUInt32LE(0); // the caller's pid, as context().pid without an allocation
      // The prehook lstat'ed the path (and, for a link, read it and probed the caller).
      if (locals.readInt32LE(SLOT.status) === 0) return reply(-osConstants.errno.EIO);
      const lstat = locals.readInt32LE(SLOT.lstatResult);
      if (lstat < 0) return fail(reply, 'getattr', path, lstat);
      const st = slotStat(locals);
      if ((st[0]! & S_IFMT) !== S_IFLNK) return reply(0, st);
      linkTarget(path, pid, locals, (errno, target) => {
        if (errno < 0) return fail(reply, 'getattr', path, errno);
        st[3] = Buffer.byteLength(target!);
        st[4] = 0;
        reply(0, st);
      });
    }),

    readlink: op('readlink', (reply, path) => {
      const locals = slot();
      linkTarget(path, locals.readUInt32LE(0), locals, (errno, target) => {
        if (errno < 0) return fail(reply, 'readlink', path, errno);
        if (Buffer.byteLength(target!) > TARGET_MAX_BYTES) return reply(ENAMETOOLONG);
        reply(0, target);
      });
    }),

    statfs: op('statfs', (reply, path) => {
      fs.statfs('.', (err, s) => {
        if (err) return fail(reply, 'statfs', path, err);
        reply(0, { bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, favail: s.ffree, fsid: 0, flag: 0, namemax: 255 });
      });
    }),

    readdir: op('readdir', (reply, path) => {
      call(reply, 'readdir', path, NativeOp.readdir, null, null, NONE, (_r, extra) => {
        let names = extra!.length === 0 ? [] : extra!.toString('utf8', 0, extra!.length - 1).split('\0');
        if (path === '/') names = names.filter((n) => !n.startsWith(config.reservedName));
        reply(0, names);
      });
    }),

    open: passthrough('open', (reply, fd) => reply(0, fd)),
    create: passthrough('create', (reply, fd, path) => {
      const ctx = context();
      if (!config.chownToCaller || ctx.uid === 0) return reply(0, fd);
      fs.fchown(fd, ctx.uid, ctx.gid, (err) => {
        if (!err) return reply(0, fd);
        fs.close(fd, () => native.start(NativeOp.unlink, backingPath(path), null, null, NONE as number[], () => fail(reply, 'create', path, err)));
      });
    }),
    read: passthrough('read', (reply, n) => reply(n)),
    write: passthrough('write', (reply, n) => reply(n)),
    flush: passthrough('flush'),
    fsync: passthrough('fsync'),
    release: passthrough('release'),
    access: passthrough('access'),
    truncate: passthrough('truncate'),
    ftruncate: passthrough('ftruncate'),
    utimens: passthrough('utimens'),
    chmod: passthrough('chmod'),
    chown: passthrough('chown'),
    unlink: passthrough('unlink'),
    rmdir: passthrough('rmdir'),
    rename: passthrough('rename'),
    link: passthrough('link'),
    // New objects go to the caller when the daemon is root serving someone else.
    mknod: passthrough('mknod', (reply, _r, path) => own(reply, 'mknod', path, context())),
    mkdir: passthrough('mkdir', (reply, _r, path) => own(reply, 'mkdir', path, context())),
    // fuse-native passes symlink (target, link path): the link is the second argument.
    symlink: passthrough('symlink', (reply, _r, _target, args) => own(reply, 'symlink', args[0] as string, context())),

    fsyncdir: op('fsyncdir', (reply, path) => {
      call(reply, 'fsyncdir', path, NativeOp.open, null, null, [C.O_RDONLY | C.O_DIRECTORY, 0, 0, 0], (fd) => {
        fs.fsync(fd, (err) => fs.close(fd, () => (err ? fail(reply, 'fsyncdir', path, err) : reply(0))));
      });
    }),

    setxattr: op('setxattr', (reply, path, name: string, value: Buffer, _position: number, flags: number) => {
      call(reply, 'setxattr', path, NativeOp.setxattr, name, Buffer.from(value), [flags, 0, 0, 0]);
    }),

    getxattr: op('getxattr', (reply, path, name: string) => {
      if (viaHook(reply, 'getxattr', path)) return; // the prehook answers only "no such attribute"
      const buf = Buffer.allocUnsafe(XATTR_SIZE_MAX);
      call(reply, 'getxattr', path, NativeOp.getxattr, name, buf, NONE, (n) => reply(0, buf.subarray(0, n)));
    }),

    listxattr: op('listxattr', (reply, path) => {
      const buf = Buffer.allocUnsafe(XATTR_LIST_MAX);
      call(reply, 'listxattr', path, NativeOp.listxattr, null, buf, NONE, (n) => {
        reply(0, n === 0 ? [] : buf.toString('utf8', 0, n - 1).split('\0'));
      });
    }),

    removexattr: op('removexattr', (reply, path, name: string) => call(reply, 'removexattr', path, NativeOp.removexattr, name, null, NONE)),
  };
}
