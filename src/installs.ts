// The install directories that variant links reach (`~/.local/share/mise/installs/go`), listed for the
// version-matching rules (versions.ts). Listed on the thread pool, never on the JS thread, and never inside
// the daemon's own mount; watched (inotify), so that installing or removing a version drops the listing and
// tells the resolver, which then makes every memoized answer stop matching (as a defaults change does).
import * as fs from 'node:fs';
import { LRUCache } from 'lru-cache';

/** A directory's entry names (latin1: one char per byte), or why there are none to match against. */
export type Listing = ReadonlySet<string> | 'missing' | 'refused';

interface Watched {
  readonly names: ReadonlySet<string>;
  readonly watcher: fs.FSWatcher;
}

/** Whether `dir` (canonical) is `point` or below it. */
function inside(dir: string, point: string): boolean {
  return point !== '' && (dir === point || dir.startsWith(point.endsWith('/') ? point : point + '/'));
}

export interface InstallTreesOptions {
  /** The mount point as /proc names it (canonical): nothing at or below it is listed. */
  readonly mountPoint: string;
  /** A root daemon lists only directories any user may list (others' r-x), so no caller learns names it could not read. */
  readonly onlyPublic: boolean;
  /** Called when a listing that answers may have been used is dropped (a change seen, or evicted). */
  readonly onChange: () => void;
  /** How long a resolution waits for a listing (a hung network filesystem): then it goes on without it. */
  readonly timeoutMs: number;
  readonly max?: number;
}

/** Listings still running after their timeout, at most: beyond it, new directories are not listed (the thread pool stays free). */
const STUCK_MAX = 2;

/** The listings of install directories, kept while watched. */
export class InstallTrees {
  private readonly kept: LRUCache<string, Watched>;
  /** Listings running: the callbacks waiting for each (one listing per directory at a time). */
  private readonly running = new Map<string, Array<(l: Listing) => void>>();
  /** Directories whose listing outlived its timeout and still runs. */
  private readonly stuck = new Set<string>();

  constructor(private readonly options: InstallTreesOptions) {
    this.kept = new LRUCache<string, Watched>({
      max: options.max ?? 256,
      dispose: (w) => {
        w.watcher.close();
        options.onChange();
      },
    });
  }

  /** The kept listing of `dir`; undefined when it is not kept (load it). */
  get(dir: string): ReadonlySet<string> | undefined {
    return this.kept.get(dir)?.names;
  }

  /** Lists `dirs` (absolute, latin1) on the thread pool; `cb` gets each one's listing, kept or not. */
  load(dirs: Iterable<string>, cb: (listings: Map<string, Listing>) => void): void {
    const out = new Map<string, Listing>();
    const todo = [...dirs];
    let left = todo.length;
    if (left === 0) return cb(out);
    for (const dir of todo) {
      this.listOnce(dir, (l) => {
        out.set(dir, l);
        if (--left === 0) cb(out);
      });
    }
  }

  /** One listing per directory at a time, each waiter answered by its completion or its timeout ('missing'). */
  private listOnce(dir: string, cb: (l: Listing) => void): void {
    const kept = this.get(dir);
    if (kept !== undefined) return cb(kept);
    if (this.stuck.has(dir) || (!this.running.has(dir) && this.stuck.size >= STUCK_MAX)) return cb('missing');
    const waiting = this.running.get(dir);
    let answered = false;
    const once = (l: Listing) => {
      if (!answered) cb(l);
      answered = true;
    };
    const timer = setTimeout(() => {
      // Still running (a hung filesystem): this resolution goes on without it; later ones do not wait.
      if (this.running.has(dir)) this.stuck.add(dir);
      once('missing');
    }, this.options.timeoutMs);
    const done = (l: Listing) => {
      clearTimeout(timer);
      once(l);
    };
    if (waiting !== undefined) return void waiting.push(done);
    this.running.set(dir, [done]);
    this.list(dir, (l) => {
      const all = this.running.get(dir) ?? [];
      this.running.delete(dir);
      this.stuck.delete(dir);
      for (const w of all) w(l);
    });
  }

  private list(dir: string, cb: (l: Listing) => void, tries = 3): void {
    const kept = this.get(dir);
    if (kept !== undefined) return cb(kept);
    if (tries === 0) return cb('missing');  // changing while read, again and again: nothing to keep
    const bytes = Buffer.from(dir, 'latin1');
    // Canonical first (on the pool): a path through a symlink into this mount is refused, and the watch
    // below, made on the JS thread, then names a directory that has just answered.
    fs.realpath.native(bytes, { encoding: 'buffer' }, (err, real) => {
      if (err) return cb('missing');
      if (inside(real.toString('latin1'), this.options.mountPoint)) return cb('refused');
      fs.stat(real, (err2, st) => {
        if (err2 || !st.isDirectory()) return cb('missing');
        if (this.options.onlyPublic && (st.mode & 0o005) !== 0o005) return cb('refused');
        let watcher: fs.FSWatcher;
        let changed = false;
        const onChange = () => {
          if (this.kept.get(dir)?.watcher === watcher) this.kept.delete(dir);  // dispose closes it and tells onChange
          else changed = true;
        };
        try {
          // Watched before it is read: a change between the two is not missed.
          // Only 'rename' (an entry made, removed or renamed) changes the names; 'change' (a file written in
          // place) does not, and must not drop every memoized answer (a tree beside busy files).
          watcher = fs.watch(real, { persistent: false }, (event) => event === 'rename' && onChange());
          watcher.on('error', onChange);
        } catch {
          return cb('missing');
        }
        fs.readdir(real, { encoding: 'buffer' }, (err3, entries) => {
          if (err3) {
            watcher.close();
            return cb('missing');
          }
          if (changed) {
            // Changed while being read: this listing may be stale already; read it again.
            watcher.close();
            return this.list(dir, cb, tries - 1);
          }
          const names = new Set(entries.map((e) => e.toString('latin1')));
          this.kept.set(dir, { names, watcher });
          cb(names);
        });
      });
    });
  }

  /** Stops every watch (the daemon is ending). */
  close(): void {
    this.kept.clear();
  }
}
