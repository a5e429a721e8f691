// Loads the two compiled bindings (the patched fuse-native and varsymfs_native) with errors a user can act on.
import * as path from 'node:path';
import { VarsymfsError } from './errors';

/** Results of probe(): which environment a request's process means (see varsymfs_native.c). */
export const enum ProbeStatus {
  Cached = 1,
  Fresh = 2,
  Exec = 3,
  Unreadable = 4,
  Plain = 5,
  LinkError = 6,
}

/** Byte offsets of the prehook's slot in a request's locals buffer (hook_slot_t in varsymfs_native.c,
 * placed at offset 16 of fuse_thread_locals_t by the binding patch). */
export const SLOT = { base: 16, status: 16, lstatResult: 20, result: 20, linkResult: 24, generation: 28, execDenied: 32, stat: 48, target: 136 } as const;

export interface NativeHelpers {
  configure(cacheSize: number, reservedName: string): void;
  prehook(): object;
  slotEnv(slot: Buffer, offset: number): Buffer | null;
  start(op: number, path: string, path2: string | null, data: Buffer | null, nums: number[], cb: (result: number, extra: Buffer | null) => void): void;
  /** The uncached caller probe on the thread pool (requests that did not come through the prehook). */
  probe(tid: number, link: string | null, cb: (status: ProbeStatus, env: Buffer | null, execDenied: boolean, target: string | null, linkResult: number) => void): void;
  /** The exec-env helper's client (execenv_napi.c): configured once before mounting (src/pendingexec.ts). */
  execenvConfigure(helper: string | null, directDisabled: boolean): number;
  /** The helper's counters: questions asked, environments answered, not in execve, refusals, failures, helpers started. */
  execenvStats(): { asked: number; answered: number; notInExec: number; refused: number; failed: number; started: number };
}

/** Operation codes of varsymfs_native's start() (enum op in varsymfs_native.c). */
export const NativeOp = {
  getxattr: 0, setxattr: 1, listxattr: 2, removexattr: 3, mknod: 4, utimens: 5,
  lstat: 6, readlink: 7, open: 8, mkdir: 9, symlink: 10, unlink: 11, rmdir: 12, rename: 13, link: 14,
  chmod: 15, chown: 16, truncate: 17, access: 18, readdir: 19,
} as const;

/** The caller of the FUSE request being handled. */
export interface CallerContext {
  pid: number;
  uid: number;
  gid: number;
  umask: number;
}

/** The subset of the patched fuse-native class that varsymfs uses. */
export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
  context(): CallerContext;
  /** The request's locals buffer, holding the prehook's slot. */
  slot(): Buffer;
}
export interface FuseClass {
  new (mnt: string, ops: object, opts: object): FuseInstance;
  setPrehook(external: object): void;
}

function explainLoadError(err: unknown, what: string): VarsymfsError {
  const message = err instanceof Error ? err.message : String(err);
  if (/libfuse\.so/.test(message)) {
    return new VarsymfsError('libfuse2 is not installed (libfuse.so.2 not found): install it with `apt-get install libfuse2`', { cause: err });
  }
  return new VarsymfsError(`the ${what} binding is not built (${message.split('\n')[0]}): run \`npm ci\` in the varsymfs directory`, { cause: err });
}

const root = path.resolve(__dirname, '..', '..');

/** The patched fuse-native class; throws VarsymfsError when it cannot load. */
export function loadFuse(): FuseClass {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Fuse = require(path.join(root, 'node_modules', 'fuse-native')) as FuseClass & { prototype: { context?: unknown } };
    if (typeof Fuse.prototype.context !== 'function') {
      throw new Error('fuse-native is not patched (run npm ci, which applies src/binding/fuse-native+2.2.6.patch)');
    }
    return Fuse;
  } catch (err) {
    if (err instanceof VarsymfsError) throw err;
    throw explainLoadError(err, 'fuse-native');
  }
}

let helpers: NativeHelpers | undefined;
/** The varsymfs_native helpers (xattrs, mknod, utimensat, caller probe). */
export function loadHelpers(): NativeHelpers {
  if (helpers) return helpers;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    helpers = require(path.join(root, 'src', 'binding', 'build', 'Release', 'varsymfs_native.node')) as NativeHelpers;
    return helpers;
  } catch (err) {
    throw explainLoadError(err, 'varsymfs_native');
  }
}
