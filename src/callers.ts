// Per-process environments of the callers, cached exactly: an entry holds an fd on /proc/<tid>/environ,
// which reads 0 bytes once its program image has exec'd or exited, so one small pread validates it and
// pid reuse or exec can never be served a stale answer. No time-to-live.
import { close } from 'node:fs';
import { LRUCache } from 'lru-cache';
import { parseEnviron } from './environ';
import { type NativeHelpers, ProbeStatus } from './native';

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

/** A link read together with its caller's environment (one thread-pool job). */
export interface LinkLookup {
  /** -errno when the link could not be read. */
  readonly error: number;
  /** The raw target (undefined on error). */
  readonly target: string | undefined;
  /** The caller's environment; undefined when the target holds no reference (not needed). */
  readonly env: CallerEnvironment | undefined;
}

interface Entry {
  fd: number;
  vars: ReadonlyMap<string, string>;
  /** A probe is using the fd; it is closed only when none is. */
  busy: boolean;
  evicted: boolean;
}

const EMPTY: ReadonlyMap<string, string> = new Map();

export interface CallerStats {
  lookups: number;
  hits: number;
  execEnvironments: number;
  unreadable: number;
}

/** The cache of caller environments; `max` bounds both entries and the fds they hold open. */
export class CallerEnvironments {
  readonly stats: CallerStats = { lookups: 0, hits: 0, execEnvironments: 0, unreadable: 0 };
  private readonly cache: LRUCache<number, Entry>;

  constructor(private readonly native: NativeHelpers, max = 1024) {
    this.cache = new LRUCache<number, Entry>({
      max,
      dispose: (entry) => {
        entry.evicted = true;
        if (!entry.busy) closeFd(entry);
      },
    });
  }

  get size(): number {
    return this.cache.size;
  }

  /**
   * Reads the link at `link` (relative to the backing root; null: none) and, when its target holds a
   * reference, the environment thread `tid` means right now. Never fails on the environment:
   * unreadable means empty.
   */
  lookup(tid: number, link: string | null, cb: (r: LinkLookup) => void): void {
    const entry = this.cache.get(tid);
    // A thread makes one request at a time; a concurrent probe of the same tid (an explain request)
    // reads afresh rather than share the fd.
    const usable = entry !== undefined && !entry.busy ? entry : undefined;
    if (usable) usable.busy = true;
    this.native.probe(tid, usable?.fd ?? -1, link, (status, fd, block, execDenied, target, linkResult) => {
      if (usable) {
        usable.busy = false;
        // The probe closed a stale fd itself; forget it so that it is never closed twice.
        if (status === ProbeStatus.Fresh || status === ProbeStatus.Unreadable) usable.fd = -1;
        if (usable.evicted) closeFd(usable);
      }
      if (status === ProbeStatus.LinkError) return cb({ error: linkResult, target: undefined, env: undefined });
      if (status === ProbeStatus.Plain) return cb({ error: 0, target: target ?? undefined, env: undefined });
      this.stats.lookups++;
      cb({ error: 0, target: target ?? undefined, env: this.settle(tid, usable, entry, status, fd, block, execDenied) });
    });
  }

  private settle(tid: number, usable: Entry | undefined, entry: Entry | undefined, status: ProbeStatus, fd: number, block: Buffer | null, execDenied: boolean): CallerEnvironment {
    switch (status) {
      case ProbeStatus.Cached:
        this.stats.hits++;
        return { vars: usable!.vars, source: 'environment', execDenied, cached: true };
      case ProbeStatus.Exec:
        this.stats.execEnvironments++;
        return { vars: parseEnviron(block!), source: 'pending exec', execDenied, cached: false };
      case ProbeStatus.Fresh: {
        const vars = parseEnviron(block!);
        if (usable !== undefined || entry === undefined) {
          if (entry !== undefined) this.cache.delete(tid);
          this.cache.set(tid, { fd, vars, busy: false, evicted: false });
        } else {
          close(fd, () => {}); // read beside a busy entry: not cached
        }
        return { vars, source: 'environment', execDenied, cached: false };
      }
      default:
        if (usable !== undefined) this.cache.delete(tid);
        this.stats.unreadable++;
        return { vars: EMPTY, source: 'unreadable', execDenied, cached: false };
    }
  }

  /** Closes every cached fd (at unmount). */
  clear(): void {
    this.cache.clear();
  }
}

function closeFd(entry: Entry): void {
  if (entry.fd >= 0) {
    const fd = entry.fd;
    entry.fd = -1;
    close(fd, () => {});
  }
}
