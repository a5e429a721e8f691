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

interface Entry {
  fd: number;
  vars: ReadonlyMap<string, string>;
  /** Probes under way; the fd is closed only when none is. */
  busy: number;
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
  /** Probes of one tid are serialised, so an fd is never used by two probes at once. */
  private readonly waiting = new Map<number, Array<(env: CallerEnvironment) => void>>();

  constructor(private readonly native: NativeHelpers, max = 1024) {
    this.cache = new LRUCache<number, Entry>({
      max,
      dispose: (entry) => {
        entry.evicted = true;
        if (entry.busy === 0) closeFd(entry);
      },
    });
  }

  get size(): number {
    return this.cache.size;
  }

  /** The environment the process (thread) `tid` means right now. Never fails: unreadable means empty. */
  lookup(tid: number, cb: (env: CallerEnvironment) => void): void {
    this.stats.lookups++;
    const queue = this.waiting.get(tid);
    if (queue !== undefined) {
      queue.push(cb);
      return;
    }
    this.waiting.set(tid, [cb]);
    const entry = this.cache.get(tid);
    if (entry !== undefined) entry.busy++;
    this.native.probe(tid, entry?.fd ?? -1, (status, fd, block, execDenied) => {
      const env = this.settle(tid, entry, status, fd, block, execDenied);
      const callbacks = this.waiting.get(tid)!;
      this.waiting.delete(tid);
      for (const waiter of callbacks) waiter(env);
    });
  }

  private settle(tid: number, entry: Entry | undefined, status: ProbeStatus, fd: number, block: Buffer | null, execDenied: boolean): CallerEnvironment {
    if (entry !== undefined) {
      entry.busy--;
      // The probe closed a stale fd itself; forget it so that it is never closed twice.
      if (status === ProbeStatus.Fresh || status === ProbeStatus.Unreadable) entry.fd = -1;
      if (entry.evicted && entry.busy === 0) closeFd(entry);
    }
    switch (status) {
      case ProbeStatus.Cached:
        this.stats.hits++;
        return { vars: entry!.vars, source: 'environment', execDenied, cached: true };
      case ProbeStatus.Exec:
        this.stats.execEnvironments++;
        return { vars: parseEnviron(block!), source: 'pending exec', execDenied, cached: false };
      case ProbeStatus.Fresh: {
        const vars = parseEnviron(block!);
        if (entry !== undefined) this.cache.delete(tid);
        this.cache.set(tid, { fd, vars, busy: 0, evicted: false });
        return { vars, source: 'environment', execDenied, cached: false };
      }
      default:
        if (entry !== undefined) this.cache.delete(tid);
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
