// Per-process environments of the callers, cached exactly. The fds live in varsymfs_native (one on
// /proc/<tid>/environ per caller, each with a generation): such an fd reads 0 bytes once its program image
// has exec'd or exited, so a one-byte pread validates it, and exec or pid reuse can never be served a
// stale answer. No time-to-live. Here: the parsed copies, keyed by tid and matched by generation, and the
// slower thread-pool probe for requests that did not come through the FUSE prehook (resolve --explain).
import { LRUCache } from 'lru-cache';
import { parseEnviron } from './environ';
import { type NativeHelpers, ProbeStatus, SLOT } from './native';

/** What the environment of one caller says, and where it came from. */
export interface CallerEnvironment {
  readonly vars: ReadonlyMap<string, string>;
  /** 'environment' (its own program's), 'pending exec' (the program it is exec'ing), or 'unreadable'. */
  readonly source: 'environment' | 'pending exec' | 'unreadable';
  /** The pending-exec check could not run (no ptrace-read access to the process). */
  readonly execDenied: boolean;
  /** Served from the cache without reading the environment again. */
  readonly cached: boolean;
}

/** A link read together with its caller's environment. */
export interface LinkLookup {
  /** -errno when the link could not be read. */
  readonly error: number;
  /** The raw target (undefined on error). */
  readonly target: string | undefined;
  /** The caller's environment; undefined when the target holds no reference (not needed). */
  readonly env: CallerEnvironment | undefined;
}

const EMPTY: ReadonlyMap<string, string> = new Map();

export interface CallerStats {
  lookups: number;
  hits: number;
  execEnvironments: number;
  unreadable: number;
}

/** Parsed caller environments; `max` matches the native fd table (configure()). */
export class CallerEnvironments {
  readonly stats: CallerStats = { lookups: 0, hits: 0, execEnvironments: 0, unreadable: 0 };
  private readonly parsed: LRUCache<number, { generation: number; vars: ReadonlyMap<string, string> }>;

  constructor(private readonly native: NativeHelpers, max = 1024, reservedName = '') {
    this.parsed = new LRUCache({ max });
    native.configure(max, reservedName);
  }

  get size(): number {
    return this.parsed.size;
  }

  /**
   * What the FUSE prehook found for this request (its slot in the request's locals buffer), or undefined
   * when the hook did not run; `retry` when the cached generation has no parsed copy here (evicted).
   */
  fromSlot(slot: Buffer, tid: number): LinkLookup | undefined | 'retry' {
    const status = slot.readInt32LE(SLOT.status) as ProbeStatus | 0;
    if (status === 0) return undefined;
    const linkResult = slot.readInt32LE(SLOT.linkResult);
    if (status === ProbeStatus.LinkError) return { error: linkResult, target: undefined, env: undefined };
    const target = slot.toString('utf8', SLOT.target, SLOT.target + linkResult);
    if (status === ProbeStatus.Plain) return { error: 0, target, env: undefined };
    const execDenied = slot.readUInt32LE(SLOT.execDenied) !== 0;
    this.stats.lookups++;
    switch (status) {
      case ProbeStatus.Cached: {
        const p = this.parsed.get(tid);
        if (p === undefined || p.generation !== slot.readUInt32LE(SLOT.generation)) return 'retry';
        this.stats.hits++;
        return { error: 0, target, env: { vars: p.vars, source: 'environment', execDenied, cached: true } };
      }
      case ProbeStatus.Fresh: {
        const vars = parseEnviron(this.native.slotEnv(slot, SLOT.base)!);
        const generation = slot.readUInt32LE(SLOT.generation);
        if (generation !== 0) this.parsed.set(tid, { generation, vars });
        return { error: 0, target, env: { vars, source: 'environment', execDenied, cached: false } };
      }
      case ProbeStatus.Exec:
        this.stats.execEnvironments++;
        return { error: 0, target, env: { vars: parseEnviron(this.native.slotEnv(slot, SLOT.base)!), source: 'pending exec', execDenied, cached: false } };
      default:
        this.stats.unreadable++;
        return { error: 0, target, env: { vars: EMPTY, source: 'unreadable', execDenied, cached: false } };
    }
  }

  /**
   * Reads the link at `link` (relative to the backing root; null: none) and, when its target holds a
   * reference, the environment of `tid`, on the thread pool, without the cache. For requests that did
   * not come through the prehook (resolve --explain, a generation evicted here).
   */
  lookup(tid: number, link: string | null, cb: (r: LinkLookup) => void): void {
    this.native.probe(tid, link, (status, block, execDenied, target, linkResult) => {
      if (status === ProbeStatus.LinkError) return cb({ error: linkResult, target: undefined, env: undefined });
      if (status === ProbeStatus.Plain) return cb({ error: 0, target: target ?? undefined, env: undefined });
      this.stats.lookups++;
      if (status === ProbeStatus.Exec) this.stats.execEnvironments++;
      if (status === ProbeStatus.Unreadable) this.stats.unreadable++;
      const env: CallerEnvironment = status === ProbeStatus.Unreadable
        ? { vars: EMPTY, source: 'unreadable', execDenied, cached: false }
        : { vars: parseEnviron(block!), source: status === ProbeStatus.Exec ? 'pending exec' : 'environment', execDenied, cached: false };
      cb({ error: 0, target: target ?? undefined, env });
    });
  }

  /** Forgets the parsed copies (at unmount; the process exits after). */
  clear(): void {
    this.parsed.clear();
  }
}
