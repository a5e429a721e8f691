// Loads the two compiled bindings (the patched fuse-native and varsymfs_native) with errors a user can act
// on, and decodes what the C side leaves for JS. Every offset and code comes from the addon's `layout`
// (src/binding/varsymfs.h): nothing here is a hand-copied number.
import * as path from 'node:path';
import { VarsymfsError } from './errors';

/** The slot layout, caller context, stat indices and codes of src/binding/varsymfs.h, as the addon exports them. */
export interface Layout {
  readonly slot: { offset: number; status: number; source: number; execCheck: number; generation: number; targetLen: number; projectStatus: number; projectState: number; stat: number; statInts: number; target: number; bytes: number; room: number };
  /** The caller context at the start of a request's locals (vsf_caller_t): field offsets and its size. */
  readonly caller: { pid: number; uid: number; gid: number; umask: number; bytes: number };
  /** fuse-native's stat encoding (vsf_stat_index): each field's index in its u32s (64-bit: low, high), and their number. */
  readonly stat: { mode: number; uid: number; gid: number; size: number; dev: number; nlink: number; ino: number; rdev: number; blksize: number; blocks: number; atime: number; mtime: number; ctime: number; ints: number };
  readonly status: { none: number; resolve: number };
  readonly source: { cached: number; fresh: number; exec: number; unreadable: number; secure: number; linkOwner: number };
  /** Which rule let a link read its follower's environment (varsymfs.h vsf_link_owner). */
  readonly linkOwner: { follower: number; root: number; mountOwner: number; other: number };
  readonly execCheck: { checked: number; denied: number; refused: number };
  /** The project scope: walk statuses, the empty state and limits (varsymfs.h). */
  readonly project: {
    off: number; walked: number; noCwd: number; timedOut: number; failed: number; partial: number; empty: number; fileMax: number; namesMax: number; trustDirsMax: number;
    /** vsf_project_record_t: field offsets and its size. */
    record: { depth: number; name: number; status: number; owner: number; dirLen: number; bytes: number };
    /** vsf_file_status codes. */
    file: { read: number; unreadable: number; tooLarge: number; notAFile: number; untrusted: number; writable: number };
  };
  /** Which scopes answered a link's references (vsf_scope), a bit each: JS's answer says, C keys by it. */
  readonly scope: { caller: number; project: number; other: number };
  readonly targetMax: number;
  /** fuse-native op names by op number. */
  readonly ops: readonly string[];
}

/** Native counters (atomics on the request path), read by `status`. */
export interface NativeCounters {
  /** Requests per fuse-native op number. */
  ops: number[];
  resolutions: number;
  memoHits: number;
  envLookups: number;
  envCached: number;
  envExec: number;
  envUnreadable: number;
  envSecure: number;
  envLinkOwner: number;
  execRefused: number;
  passedToJs: number;
  projectWalks: number;
  projectAnswered: number;
  projectTimeouts: number;
  /** Resolutions refused because their user had VSF_SHARE_MAX in flight for longer than the wait (shares.c). */
  shareRefused: number;
  cacheEntries: number;
  /** The low-level path's inode table: entries the kernel still references (besides the root). */
  inodes: number;
}

export interface NativeConfig {
  cacheSize: number;
  reservedName: string;
  /** A root daemon serving other users: path operations run with the caller's credentials. */
  actAsCaller: boolean;
  /** How a reference starts (template.ts REFERENCE_OPENERS). */
  openers: readonly string[];
  /** The project files to look for, in precedence order (project.ts projectFileNames); none: the scope is off. */
  projectFiles: readonly string[];
  /** How long a walk on a network or FUSE filesystem may take before the caller goes on without it. */
  projectTimeoutMs: number;
  /** --trust-dir: absolute directories whose project files count whoever owns them. */
  trustDirs: readonly string[];
  /** The mount point as /proc names it (canonical), for working directories inside the mount. */
  mountPoint: string;
  /** How far each new environment generation moves the counter (1; more only in tests, to reach its wrap). */
  generationStride: number;
  /** The low-level path: what the kernel may keep (seconds; pages: 0 dropped at open, 1 kept while unchanged, 2 kept). */
  kernel?: KernelCache;
}

export interface KernelCache {
  entryTimeout: number;
  attrTimeout: number;
  negativeTimeout: number;
  pages: 0 | 1 | 2;
}

export interface NativeHelpers {
  readonly layout: Layout;
  configure(config: NativeConfig): void;
  /** The hook for fuse-native's setHook. */
  hook(): object;
  /** The low-level operations for fuse-native's setHook: mounts then run a low-level session. */
  lowlevel(): object;
  slotEnv(locals: Buffer): Buffer;
  /** The project files the hook read for this request (varsymfs.h's record format; decodeProjectBlock). */
  slotProject(locals: Buffer): Buffer;
  /** Frees the environment and project blocks in the slot (after the resolution that needed them). */
  slotRelease(locals: Buffer): void;
  /**
   * JS's whole answer to the question in `locals`' slot (resolve.c keys and keeps it, and shapes the reply in
   * the slot): the expansion (its length alone when it is over targetMax: never built), the names of the
   * variables the target names (NUL-separated), which scopes answered (layout.scope bits), the defaults
   * generation it was made with, and whether it may be kept. Returns -errno, 0 (getattr: the slot's stat
   * holds the reply) or the length of the reply at the slot's target (readlink).
   */
  answer(locals: Buffer, expansion: Buffer | number, names: Buffer, scopes: number, defaultsGeneration: number, keep: boolean): number;
  defaultsChanged(): number;
  defaultsGeneration(): number;
  counters(): NativeCounters;
  /** The uncached caller probe on the thread pool (resolve --explain). */
  probe(tid: number, link: Buffer | null, cb: (source: number, execCheck: number, env: Buffer | null, target: Buffer | null, linkResult: number, projectStatus: number, project: Buffer, linkOwnerRule: number, linkUid: number, followerUid: number) => void): void;
  /** The exec-env helper's client (execenv_napi.c): configured once before mounting (src/pendingexec.ts). */
  execenvConfigure(helper: string | null, directDisabled: boolean): number;
  /** The helper's counters: questions asked, environments answered, not in execve, refusals, failures, helpers started. */
  execenvStats(): { asked: number; answered: number; notInExec: number; refused: number; failed: number; started: number };
}

/** Where a caller's environment came from. */
export type EnvSource = 'cached' | 'fresh' | 'exec' | 'unreadable' | 'secure' | 'linkOwner';
/** Sources under which the caller's environment answers nothing. */
export const NO_ENVIRONMENT: ReadonlySet<EnvSource> = new Set(['unreadable', 'secure', 'linkOwner']);
/** Whose link it is, as the rule in callers.c saw it. */
export type LinkOwnerRule = 'follower' | 'root' | 'mountOwner' | 'other';
/** Whether the pending-exec check ran. */
export type ExecCheck = 'checked' | 'denied' | 'refused';

/** What the project walk found (varsymfs.h vsf_project_status). */
export type ProjectStatus = 'off' | 'walked' | 'noCwd' | 'timedOut' | 'failed' | 'partial';

/** What the hook left for JS: a variant link to expand for the caller of this request. */
export interface PassedLink {
  readonly projectStatus: ProjectStatus;
  readonly pid: number;
  readonly target: Buffer;
  readonly source: EnvSource;
  readonly execCheck: ExecCheck;
}

/** The bytes of a u32: the stat's fields and the project block's content length are u32s. */
const U32 = Uint32Array.BYTES_PER_ELEMENT;

function nameOf<T extends string>(codes: Readonly<Record<T, number>>, code: number): T {
  for (const [name, value] of Object.entries(codes) as Array<[T, number]>) if (value === code) return name;
  throw new Error(`unknown code ${code}`);
}

/** Decodes a request's locals (caller context, then the slot); undefined when the hook left nothing. */
export function decodeSlot(layout: Layout, locals: Buffer): PassedLink | undefined {
  const s = layout.slot;
  const base = s.offset;
  if (locals.readInt32LE(base + s.status) !== layout.status.resolve) return undefined;
  return {
    pid: locals.readUInt32LE(layout.caller.pid),
    target: Buffer.from(locals.subarray(base + s.target, base + s.target + locals.readUInt32LE(base + s.targetLen))),
    source: nameOf(layout.source, locals.readInt32LE(base + s.source)),
    execCheck: nameOf(layout.execCheck, locals.readInt32LE(base + s.execCheck)),
    projectStatus: projectStatusOf(layout, locals.readInt32LE(base + s.projectStatus)),
  };
}

/** The getattr reply resolve.c shaped in the slot (after `answer`): the stat in fuse-native's encoding, a copy. */
export function slotStat(layout: Layout, locals: Buffer): Uint32Array {
  const at = locals.byteOffset + layout.slot.offset + layout.slot.stat;
  return new Uint32Array(locals.buffer.slice(at, at + U32 * layout.slot.statInts));
}

/** The readlink reply resolve.c shaped in the slot (after `answer`): `length` bytes of target, a copy. */
export function slotTarget(layout: Layout, locals: Buffer, length: number): Buffer {
  const at = layout.slot.offset + layout.slot.target;
  return Buffer.from(locals.subarray(at, at + length));
}

/** Names a project walk status code. */
export function projectStatusOf(layout: Layout, code: number): ProjectStatus {
  const { off, walked, noCwd, timedOut, failed, partial } = layout.project;
  return nameOf({ off, walked, noCwd, timedOut, failed, partial }, code);
}

/** One project file the walk found: its directory (0: the working directory), name index, status and bytes. */
export interface ProjectRecord {
  readonly depth: number;
  readonly name: number;
  /** 'read', or why it counts as absent. */
  readonly status: 'read' | 'unreadable' | 'too large' | 'not a file' | 'not trusted' | 'writable by others';
  /** 'not trusted', 'writable by others': the owner that made it so (the link's or the file's). */
  readonly owner: number;
  readonly dir: Buffer;
  readonly contents: Buffer;
}

/** Decodes the project block (varsymfs.h: a vsf_project_record_t, the directory, u32 length, the bytes; repeated). */
export function decodeProjectBlock(layout: Layout, block: Buffer): ProjectRecord[] {
  const { record: r, file: f } = layout.project;
  const statuses = new Map<number, ProjectRecord['status']>([[f.read, 'read'], [f.unreadable, 'unreadable'], [f.tooLarge, 'too large'], [f.notAFile, 'not a file'], [f.untrusted, 'not trusted'], [f.writable, 'writable by others']]);
  const out: ProjectRecord[] = [];
  for (let at = 0; at + r.bytes + U32 <= block.length; ) {
    const dirLen = block.readUInt32LE(at + r.dirLen);
    const dirAt = at + r.bytes;
    const len = block.readUInt32LE(dirAt + dirLen);
    out.push({
      depth: block.readUInt32LE(at + r.depth),
      name: block.readUInt32LE(at + r.name),
      status: statuses.get(block.readUInt32LE(at + r.status)) ?? 'unreadable',
      owner: block.readUInt32LE(at + r.owner),
      dir: block.subarray(dirAt, dirAt + dirLen),
      contents: block.subarray(dirAt + dirLen + U32, dirAt + dirLen + U32 + len),
    });
    at = dirAt + dirLen + U32 + len;
  }
  return out;
}

/** Decodes a probe's codes. */
export function decodeProbe(layout: Layout, source: number, execCheck: number): { source: EnvSource; execCheck: ExecCheck } {
  return { source: nameOf(layout.source, source), execCheck: nameOf(layout.execCheck, execCheck) };
}

/** Names a link-owner rule code. */
export function linkOwnerRuleOf(layout: Layout, code: number): LinkOwnerRule {
  return nameOf(layout.linkOwner, code);
}

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
  /** The request's locals buffer (caller context, then the hook's slot). */
  slot(): Buffer;
}
export interface FuseClass {
  new (mnt: string, ops: object, opts: object): FuseInstance;
  setHook(external: object, lowlevel?: object): void;
}

function explainLoadError(err: unknown, what: string): VarsymfsError {
  const message = err instanceof Error ? err.message : String(err);
  if (/libfuse\.so/.test(message)) {
    return new VarsymfsError('libfuse2 is not installed (libfuse.so.2 not found): install it with `apt-get install libfuse2` (`libfuse2t64` on Ubuntu 24.04 and Debian 13)', { cause: err });
  }
  return new VarsymfsError(`the ${what} binding is not built (${message.split('\n')[0]}): run \`npm ci\` in the varsymfs directory`, { cause: err });
}

const root = path.resolve(__dirname, '..', '..');

/** The patched fuse-native class; throws VarsymfsError when it cannot load. */
export function loadFuse(): FuseClass {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Fuse = require(path.join(root, 'node_modules', 'fuse-native')) as FuseClass;
    if (typeof Fuse.setHook !== 'function') {
      throw new NotPatched('fuse-native is not patched (run npm ci, which applies src/binding/fuse-native+2.2.6.patch)');
    }
    return Fuse;
  } catch (err) {
    if (err instanceof VarsymfsError) throw err;
    if (err instanceof NotPatched) throw new VarsymfsError(err.message, { cause: err });
    throw explainLoadError(err, 'fuse-native');
  }
}

class NotPatched extends Error {}

/** The groups of `layout` whose every field is a number, and the fields each must have. */
const LAYOUT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  slot: ['offset', 'status', 'source', 'execCheck', 'generation', 'targetLen', 'projectStatus', 'projectState', 'stat', 'statInts', 'target', 'bytes', 'room'],
  caller: ['pid', 'uid', 'gid', 'umask', 'bytes'],
  stat: ['mode', 'uid', 'gid', 'size', 'dev', 'nlink', 'ino', 'rdev', 'blksize', 'blocks', 'atime', 'mtime', 'ctime', 'ints'],
  status: ['none', 'resolve'],
  source: ['cached', 'fresh', 'exec', 'unreadable', 'secure', 'linkOwner'],
  linkOwner: ['follower', 'root', 'mountOwner', 'other'],
  execCheck: ['checked', 'denied', 'refused'],
  project: ['off', 'walked', 'noCwd', 'timedOut', 'failed', 'partial', 'empty', 'fileMax', 'namesMax', 'trustDirsMax'],
  scope: ['caller', 'project', 'other'],
  'project.record': ['depth', 'name', 'status', 'owner', 'dirLen', 'bytes'],
  'project.file': ['read', 'unreadable', 'tooLarge', 'notAFile', 'untrusted', 'writable'],
};

/**
 * Throws one line when the addon's `layout` lacks a field this TS reads: a binding built from another
 * varsymfs.h (an old build left after an update), which would otherwise misread every request.
 */
export function checkLayout(layout: unknown): asserts layout is Layout {
  const at = (dotted: string) => dotted.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), layout);
  const missing = (what: string) => new VarsymfsError(`the varsymfs_native binding is out of date (its layout has no ${what}): run \`npm ci\` in the varsymfs directory`);
  for (const [group, fields] of Object.entries(LAYOUT_FIELDS)) {
    if (typeof at(group) !== 'object' || at(group) === null) throw missing(group);
    for (const f of fields) if (!Number.isInteger(at(`${group}.${f}`))) throw missing(`${group}.${f}`);
  }
  if (!Number.isInteger(at('targetMax'))) throw missing('targetMax');
  if (!Array.isArray(at('ops'))) throw missing('ops');
}

let helpers: NativeHelpers | undefined;
/** The varsymfs_native addon, its layout checked. */
export function loadHelpers(): NativeHelpers {
  if (helpers) return helpers;
  let loaded: NativeHelpers;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(path.join(root, 'src', 'binding', 'build', 'Release', 'varsymfs_native.node')) as NativeHelpers;
  } catch (err) {
    throw explainLoadError(err, 'varsymfs_native');
  }
  checkLayout(loaded.layout);
  helpers = loaded;
  return helpers;
}
