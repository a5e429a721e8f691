// The FUSE operations: each maps the path into the backing directory (the daemon's working directory,
// taken before the mount covered it), makes one call on the thread pool, and replies through reply(),
// which converts every error once and answers every request exactly once. Path operations go through
// varsymfs_native, which never follows a symlink in the backing store (openat2 RESOLVE_NO_SYMLINKS |
// RESOLVE_BENEATH for the parent, no-follow *at calls for the last name); fd operations use Node's fs.
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
const NO_ID = 0xffffffff;
const XATTR_SIZE_MAX = 65536;
const XATTR_LIST_MAX = 65536;
const OPEN_FLAGS_DROPPED = C.O_CREAT | C.O_EXCL | C.O_NOCTTY;
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
      if (isReserved(path) || ((name === 'rename' || name === 'link') && isReserved(rest[0] as string))) {
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

  /** Node-style fd callbacks: reply 0, or the errno. */
  function done(reply: Reply, name: string, path: string) {
    return (err: NodeJS.ErrnoException | null) => (err ? fail(reply, name, path, err) : reply(0));
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

  return {
    init: (cb: (e: number) => void) => cb(0),

    getattr: op('getattr', (reply, path) => {
      const locals = slot();
      const pid = locals.readUInt32LE(0); // the caller's pid, as context().pid without an allocation
      const withStat = (st: Uint32Array) => {
        if ((st[0]! & S_IFMT) !== S_IFLNK) return reply(0, st);
        linkTarget(path, pid, locals, (errno, target) => {
          if (errno < 0) return fail(reply, 'getattr', path, errno);
          st[3] = Buffer.byteLength(target!);
          st[4] = 0;
          reply(0, st);
        });
      };
      if (locals.readInt32LE(SLOT.status) !== 0) {
        // The prehook already lstat'ed the path (and, for a link, read it and probed the caller).
        const lstat = locals.readInt32LE(SLOT.lstatResult);
        if (lstat < 0) return fail(reply, 'getattr', path, lstat);
        return withStat(new Uint32Array(locals.buffer.slice(locals.byteOffset + SLOT.stat, locals.byteOffset + SLOT.stat + 88)));
      }
      const st = new Uint32Array(22);
      call(reply, 'getattr', path, NativeOp.lstat, null, Buffer.from(st.buffer), NONE, () => withStat(st));
    }),

    readlink: op('readlink', (reply, path) => {
      const locals = slot();
      linkTarget(path, locals.readUInt32LE(0), locals, (errno, target) => {
        if (errno < 0) return fail(reply, 'readlink', path, errno);
        if (Buffer.byteLength(target!) > TARGET_MAX_BYTES) return reply(ENAMETOOLONG);
        reply(0, target);
      });
    }),

    access: op('access', (reply, path, mode: number) => viaHook(reply, 'access', path) || call(reply, 'access', path, NativeOp.access, null, null, [mode, 0, 0, 0])),

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

    open: op('open', (reply, path, flags: number) => {
      if (viaHook(reply, 'open', path, (fd) => reply(0, fd))) return;
      call(reply, 'open', path, NativeOp.open, null, null, [flags & ~OPEN_FLAGS_DROPPED, 0, 0, 0], (fd) => reply(0, fd));
    }),

    create: op('create', (reply, path, mode: number, flags: number) => {
      const ctx = context();
      const created = (fd: number) => {
        if (!config.chownToCaller || ctx.uid === 0) return reply(0, fd);
        fs.fchown(fd, ctx.uid, ctx.gid, (err) => {
          if (!err) return reply(0, fd);
          fs.close(fd, () => native.start(NativeOp.unlink, backingPath(path), null, null, NONE as number[], () => fail(reply, 'create', path, err)));
        });
      };
      if (viaHook(reply, 'create', path, created)) return;
      call(reply, 'create', path, NativeOp.open, null, null, [flags | C.O_CREAT, mode, 0, 0], created);
    }),

    read: op('read', (reply, path, fd: number, buf: Buffer, len: number, pos: number) => {
      if (viaHook(reply, 'read', path, (n) => reply(n))) return;
      fs.read(fd, buf, 0, len, pos, (err, n) => (err ? fail(reply, 'read', path, err) : reply(n)));
    }),

    write: op('write', (reply, path, fd: number, buf: Buffer, len: number, pos: number) => {
      if (viaHook(reply, 'write', path, (n) => reply(n))) return;
      fs.write(fd, buf, 0, len, pos, (err, n) => (err ? fail(reply, 'write', path, err) : reply(n)));
    }),

    flush: op('flush', (reply) => reply(0)),

    fsync: op('fsync', (reply, path, datasync: number, fd: number) => {
      if (viaHook(reply, 'fsync', path)) return;
      (datasync ? fs.fdatasync : fs.fsync)(fd, done(reply, 'fsync', path));
    }),

    fsyncdir: op('fsyncdir', (reply, path) => {
      call(reply, 'fsyncdir', path, NativeOp.open, null, null, [C.O_RDONLY | C.O_DIRECTORY, 0, 0, 0], (fd) => {
        fs.fsync(fd, (err) => fs.close(fd, () => (err ? fail(reply, 'fsyncdir', path, err) : reply(0))));
      });
    }),

    release: op('release', (reply, path, fd: number) => viaHook(reply, 'release', path) || fs.close(fd, done(reply, 'release', path))),

    truncate: op('truncate', (reply, path, size: number) => viaHook(reply, 'truncate', path) || call(reply, 'truncate', path, NativeOp.truncate, null, null, [size, 0, 0, 0])),

    ftruncate: op('ftruncate', (reply, path, fd: number, size: number) => viaHook(reply, 'ftruncate', path) || fs.ftruncate(fd, size, done(reply, 'ftruncate', path))),

    utimens: op('utimens', (reply, path, atime: [number, number], mtime: [number, number]) => {
      if (viaHook(reply, 'utimens', path)) return;
      call(reply, 'utimens', path, NativeOp.utimens, null, null, [atime[0], atime[1], mtime[0], mtime[1]]);
    }),

    chmod: op('chmod', (reply, path, mode: number) => viaHook(reply, 'chmod', path) || call(reply, 'chmod', path, NativeOp.chmod, null, null, [mode, 0, 0, 0])),

    chown: op('chown', (reply, path, uid: number, gid: number) => {
      if (viaHook(reply, 'chown', path)) return;
      call(reply, 'chown', path, NativeOp.chown, null, null, [uid === NO_ID ? -1 : uid, gid === NO_ID ? -1 : gid, 0, 0]);
    }),

    mknod: op('mknod', (reply, path, mode: number, dev: number) => {
      const ctx = context();
      if (viaHook(reply, 'mknod', path, () => own(reply, 'mknod', path, ctx))) return;
      call(reply, 'mknod', path, NativeOp.mknod, null, null, [mode, dev, 0, 0], () => own(reply, 'mknod', path, ctx));
    }),

    mkdir: op('mkdir', (reply, path, mode: number) => {
      const ctx = context();
      if (viaHook(reply, 'mkdir', path, () => own(reply, 'mkdir', path, ctx))) return;
      call(reply, 'mkdir', path, NativeOp.mkdir, null, null, [mode, 0, 0, 0], () => own(reply, 'mkdir', path, ctx));
    }),

    symlink: op('symlink', (reply, target: string, path: string) => {
      // fuse-native passes (target, link path): the first argument is link content, not a path.
      if (isReserved(path)) return reply(EPERM);
      const ctx = context();
      if (viaHook(reply, 'symlink', path, () => own(reply, 'symlink', path, ctx))) return;
      call(reply, 'symlink', path, NativeOp.symlink, target, null, NONE, () => own(reply, 'symlink', path, ctx));
    }),

    unlink: op('unlink', (reply, path) => viaHook(reply, 'unlink', path) || call(reply, 'unlink', path, NativeOp.unlink, null, null, NONE)),
    rmdir: op('rmdir', (reply, path) => viaHook(reply, 'rmdir', path) || call(reply, 'rmdir', path, NativeOp.rmdir, null, null, NONE)),
    rename: op('rename', (reply, path, dest: string) => viaHook(reply, 'rename', path) || call(reply, 'rename', path, NativeOp.rename, backingPath(dest), null, NONE)),
    link: op('link', (reply, path, dest: string) => viaHook(reply, 'link', path) || call(reply, 'link', path, NativeOp.link, backingPath(dest), null, NONE)),

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
