// Resolution of a variant link for one request: the link's template, the caller's environment, the
// mount defaults. The one function both getattr (st_size) and readlink call, so they cannot disagree.
import { CallerEnvironments, type CallerEnvironment, type LinkLookup } from './callers';
import { type Template, type Scopes, parseTemplate, expandTemplate, explainTemplate, type Resolved } from './template';

/** Longest target readlink may return: PATH_MAX (4096) less the terminating NUL. */
export const TARGET_MAX_BYTES = 4095;

/** A parsed-template cache keyed by raw target: the warm path never parses the same target twice. */
export class TemplateCache {
  private readonly map = new Map<string, Template>();
  constructor(private readonly max = 4096) {}
  get(raw: string): Template {
    let t = this.map.get(raw);
    if (t === undefined) {
      t = parseTemplate(raw);
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
      this.map.set(raw, t);
    }
    return t;
  }
}

export interface ResolverStats {
  resolutions: number;
}

/** What a link resolved to for one caller, with the scope of each reference. */
export interface Resolution {
  /** The link's own target, as stored. */
  readonly raw: string;
  /** What the caller sees. */
  readonly target: string;
  /** The caller's environment, when a reference needed it. */
  readonly env: CallerEnvironment | undefined;
  /** Each reference's scope and value (only when asked to explain). */
  readonly refs: Resolved[] | undefined;
}

/** Expands variant-link targets for callers, by pid (the FUSE request's thread id). */
export class Resolver {
  readonly templates = new TemplateCache();
  readonly stats: ResolverStats = { resolutions: 0 };
  constructor(
    readonly callers: CallerEnvironments,
    private readonly defaults: () => ReadonlyMap<string, string>,
  ) {}

  private scopes(env: CallerEnvironment): Scopes {
    const defaults = this.defaults();
    return {
      env: (name) => env.vars.get(name),
      envScope: env.source === 'pending exec' ? 'pending exec' : 'environment',
      defaults: (name) => defaults.get(name),
    };
  }

  /**
   * Reads the link at `link` (a backing path) and expands it for process `pid`. When the FUSE prehook
   * already read the link and probed the caller (`slot`), nothing more is read; otherwise one thread-pool
   * job does it. `cb(-errno)` when the link cannot be read.
   */
  resolveLink(link: string, pid: number, explain: boolean, cb: (errno: number, r?: Resolution) => void, slot?: Buffer): void {
    const fromSlot = slot === undefined ? undefined : this.callers.fromSlot(slot, pid);
    if (fromSlot !== undefined && fromSlot !== 'retry') return this.finish(fromSlot, explain, cb);
    this.callers.lookup(pid, link, (l) => this.finish(l, explain, cb));
  }

  private finish(l: LinkLookup, explain: boolean, cb: (errno: number, r?: Resolution) => void): void {
    if (l.error < 0) return cb(l.error);
    const raw = l.target!;
    const template = this.templates.get(raw);
    if (!template.refs) return cb(0, { raw, target: raw, env: undefined, refs: undefined });
    this.stats.resolutions++;
    // The native side skips the environment only for targets without "$<" or "${", which parse without
    // references too; a target that looks like one but is not (e.g. "$<1>") simply got an unused read.
    const scopes = this.scopes(l.env ?? UNREADABLE);
    if (!explain) return cb(0, { raw, target: expandTemplate(template, scopes), env: l.env, refs: undefined });
    const { target, refs } = explainTemplate(template, scopes);
    cb(0, { raw, target, env: l.env, refs });
  }
}

const UNREADABLE: CallerEnvironment = { vars: new Map(), source: 'unreadable', execDenied: false, cached: false };
