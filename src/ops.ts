// The FUSE operations: each maps the path into the backing directory (the daemon's working directory,
// taken before the mount covered it), makes one call, and replies through reply(), which converts every
// error once and answers every request exactly once. Symlinks in the backing store are never followed
// by the daemon: lstat, lchown, lutimes/utimensat(AT_SYMLINK_NOFOLLOW), O_NOFOLLOW opens.
import * as fs from 'node:fs';
import { constants as C } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { toErrno, isExpectedErrno } from './errors';
import type { Logger } from './log';
import type { CallerContext, NativeHelpers } from './native';
import { NativeOp } from './native';
import { encodeStat } from './stat';
import { type Resolver, TARGET_MAX_BYTES } from './resolver';

const { ENOENT: E_NOENT, EPERM: E_PERM, ENAMETOOLONG: E_NAMETOOLONG } = osConstants.errno;
const ENOENT = -E_NOENT;
const EPERM = -E_PERM;
const ENAMETOOLONG = -E_NAMETOOLONG;
const UTIME_NOW = 1073741823;
const UTIME_OMIT = 1073741822;
const NO_ID = 0xffffffff;
const XATTR_SIZE_MAX = 65536;
const XATTR_LIST_MAX = 65536;
const OPEN_FLAGS_DROPPED = C.O_CREAT | C.O_EXCL | C.O_NOCTTY;

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

  /** A Node-style callback that replies 0 on success and the errno on failure. */
  function done(reply: Reply, name: string, path: string) {
    return (err: NodeJS.ErrnoException | null) => (err ? fail(reply, name, path, err) : reply(0));
  }

  function fail(reply: Reply, name: string, path: string, err: unknown): void {
    const errno = toErrno(err);
    if (!isExpectedErrno(errno)) log.log('warn', `${name} ${path}: ${String(err)}`);
    reply(errno);
  }

  function nativeCall(reply: Reply, name: string, path: string, opcode: number, xname: string | null, data: Buffer | null, nums: number[], then?: (r: number) => void) {
    native.start(opcode, backingPath(path), xname, data, nums, (r) => {
      if (r < 0) return fail(reply, name, path, r);
      if (then) then(r);
      else reply(0);
    });
  }

  /** Gives a new object to the caller when the daemon is root serving someone else. */
  function own(reply: Reply, name: string, path: string, ctx: CallerContext) {
    if (!config.chownToCaller || ctx.uid === 0) return reply(0);
    fs.lchown(backingPath(path), ctx.uid, ctx.gid, (err) => {
      if (!err) return reply(0);
      fs.rm(backingPath(path), { recursive: false, force: true }, () => fail(reply, name, path, err));
    });
  }

  /** The target a link means for the calling process; the same for getattr's st_size and readlink. */
  function linkTarget(path: string, pid: number, cb: (err: unknown, target?: string) => void) {
    fs.readlink(backingPath(path), (err, raw) => {
      if (err) return cb(err);
      resolver.expand(raw, pid, debug, (r) => {
        if (debug && r.refs) {
          const refs = r.refs.map((x) => `${x.name}:${x.scope}`).join(' ');
          // The program name only at debug level: one more /proc read, off the reply's path.
          fs.readFile(`/proc/${pid}/comm`, 'utf8', (_e, comm) => {
            log.log('debug', `resolve pid=${pid} (${(comm ?? '?').trim()}) ${path} -> ${r.target} [${refs}] env=${r.env?.source}${r.env?.cached ? ' (cached)' : ''}`);
          });
        }
        cb(null, r.target);
      });
    });
  }

  return {
    init: (cb: (e: number) => void) => cb(0),

    getattr: op('getattr', (reply, path) => {
      const pid = context().pid;
      fs.lstat(backingPath(path), { bigint: true }, (err, st) => {
        if (err) return fail(reply, 'getattr', path, err);
        if (!st.isSymbolicLink()) return reply(0, encodeStat(st));
        linkTarget(path, pid, (err2, target) => {
          if (err2) return fail(reply, 'getattr', path, err2);
          reply(0, encodeStat(st, Buffer.byteLength(target!)));
        });
      });
    }),

    readlink: op('readlink', (reply, path) => {
      linkTarget(path, context().pid, (err, target) => {
        if (err) return fail(reply, 'readlink', path, err);
        if (Buffer.byteLength(target!) > TARGET_MAX_BYTES) return reply(ENAMETOOLONG);
        reply(0, target);
      });
    }),

    access: op('access', (reply, path, mode: number) => fs.access(backingPath(path), mode, done(reply, 'access', path))),

    statfs: op('statfs', (reply, path) => {
      fs.statfs(backingPath(path), (err, s) => {
        if (err) return fail(reply, 'statfs', path, err);
        reply(0, { bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, favail: s.ffree, fsid: 0, flag: 0, namemax: 255 });
      });
    }),

    readdir: op('readdir', (reply, path) => {
      fs.readdir(backingPath(path), (err, names) => {
        if (err) return fail(reply, 'readdir', path, err);
        if (path === '/') names = names.filter((n) => !n.startsWith(config.reservedName));
        reply(0, ['.', '..', ...names]);
      });
    }),

    open: op('open', (reply, path, flags: number) => {
      fs.open(backingPath(path), (flags & ~OPEN_FLAGS_DROPPED) | C.O_NOFOLLOW, (err, fd) => (err ? fail(reply, 'open', path, err) : reply(0, fd)));
    }),

    create: op('create', (reply, path, mode: number, flags: number) => {
      const ctx = context();
      fs.open(backingPath(path), flags | C.O_CREAT | C.O_NOFOLLOW, mode, (err, fd) => {
        if (err) return fail(reply, 'create', path, err);
        if (!config.chownToCaller || ctx.uid === 0) return reply(0, fd);
        fs.fchown(fd, ctx.uid, ctx.gid, (err2) => {
          if (!err2) return reply(0, fd);
          fs.close(fd, () => fs.unlink(backingPath(path), () => fail(reply, 'create', path, err2)));
        });
      });
    }),

    read: op('read', (reply, path, fd: number, buf: Buffer, len: number, pos: number) => {
      fs.read(fd, buf, 0, len, pos, (err, n) => (err ? fail(reply, 'read', path, err) : reply(n)));
    }),

    write: op('write', (reply, path, fd: number, buf: Buffer, len: number, pos: number) => {
      fs.write(fd, buf, 0, len, pos, (err, n) => (err ? fail(reply, 'write', path, err) : reply(n)));
    }),

    flush: op('flush', (reply) => reply(0)),

    fsync: op('fsync', (reply, path, datasync: number, fd: number) => {
      (datasync ? fs.fdatasync : fs.fsync)(fd, done(reply, 'fsync', path));
    }),

    fsyncdir: op('fsyncdir', (reply, path) => {
      fs.open(backingPath(path), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW, (err, fd) => {
        if (err) return fail(reply, 'fsyncdir', path, err);
        fs.fsync(fd, (err2) => fs.close(fd, () => (err2 ? fail(reply, 'fsyncdir', path, err2) : reply(0))));
      });
    }),

    release: op('release', (reply, path, fd: number) => fs.close(fd, done(reply, 'release', path))),

    truncate: op('truncate', (reply, path, size: number) => {
      fs.open(backingPath(path), C.O_WRONLY | C.O_NOFOLLOW, (err, fd) => {
        if (err) return fail(reply, 'truncate', path, err);
        fs.ftruncate(fd, size, (err2) => fs.close(fd, () => (err2 ? fail(reply, 'truncate', path, err2) : reply(0))));
      });
    }),

    ftruncate: op('ftruncate', (reply, path, fd: number, size: number) => fs.ftruncate(fd, size, done(reply, 'ftruncate', path))),

    utimens: op('utimens', (reply, path, atime: [number, number], mtime: [number, number]) => {
      nativeCall(reply, 'utimens', path, NativeOp.utimens, null, null, [atime[0], atime[1], mtime[0], mtime[1]]);
    }),

    chmod: op('chmod', (reply, path, mode: number) => fs.chmod(backingPath(path), mode, done(reply, 'chmod', path))),

    chown: op('chown', (reply, path, uid: number, gid: number) => {
      fs.lchown(backingPath(path), uid === NO_ID ? -1 : uid, gid === NO_ID ? -1 : gid, done(reply, 'chown', path));
    }),

    mknod: op('mknod', (reply, path, mode: number, dev: number) => {
      const ctx = context();
      nativeCall(reply, 'mknod', path, NativeOp.mknod, null, null, [mode, dev, 0, 0], () => own(reply, 'mknod', path, ctx));
    }),

    mkdir: op('mkdir', (reply, path, mode: number) => {
      const ctx = context();
      fs.mkdir(backingPath(path), mode, (err) => (err ? fail(reply, 'mkdir', path, err) : own(reply, 'mkdir', path, ctx)));
    }),

    symlink: op('symlink', (reply, target: string, path: string) => {
      // fuse-native passes (target, link path): the first argument is link content, not a path.
      if (isReserved(path)) return reply(EPERM);
      const ctx = context();
      fs.symlink(target, backingPath(path), (err) => (err ? fail(reply, 'symlink', path, err) : own(reply, 'symlink', path, ctx)));
    }),

    unlink: op('unlink', (reply, path) => fs.unlink(backingPath(path), done(reply, 'unlink', path))),
    rmdir: op('rmdir', (reply, path) => fs.rmdir(backingPath(path), done(reply, 'rmdir', path))),
    rename: op('rename', (reply, path, dest: string) => fs.rename(backingPath(path), backingPath(dest), done(reply, 'rename', path))),
    link: op('link', (reply, path, dest: string) => fs.link(backingPath(path), backingPath(dest), done(reply, 'link', path))),

    setxattr: op('setxattr', (reply, path, name: string, value: Buffer, _position: number, flags: number) => {
      nativeCall(reply, 'setxattr', path, NativeOp.setxattr, name, Buffer.from(value), [flags, 0, 0, 0]);
    }),

    getxattr: op('getxattr', (reply, path, name: string) => {
      const buf = Buffer.allocUnsafe(XATTR_SIZE_MAX);
      nativeCall(reply, 'getxattr', path, NativeOp.getxattr, name, buf, [0, 0, 0, 0], (n) => reply(0, buf.subarray(0, n)));
    }),

    listxattr: op('listxattr', (reply, path) => {
      const buf = Buffer.allocUnsafe(XATTR_LIST_MAX);
      nativeCall(reply, 'listxattr', path, NativeOp.listxattr, null, buf, [0, 0, 0, 0], (n) => {
        const names = n === 0 ? [] : buf.toString('utf8', 0, n - 1).split('\0');
        reply(0, names);
      });
    }),

    removexattr: op('removexattr', (reply, path, name: string) => {
      nativeCall(reply, 'removexattr', path, NativeOp.removexattr, name, null, [0, 0, 0, 0]);
    }),
  };
}

export { UTIME_NOW, UTIME_OMIT };
