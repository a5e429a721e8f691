// Resolution of a variant link for one request: the link's template, the caller's environment, the
// mount defaults. The one function both getattr (st_size) and readlink call, so they cannot disagree.
import { CallerEnvironments, type CallerEnvironment } from './callers';
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
  readonly target: string;
  readonly env: CallerEnvironment | undefined;
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

  /** The target `raw` means for process `pid`; plain targets return at once without a lookup. */
  expand(raw: string, pid: number, explain: boolean, cb: (r: Resolution) => void): void {
    const template = this.templates.get(raw);
    if (!template.refs) {
      cb({ target: raw, env: undefined, refs: undefined });
      return;
    }
    this.stats.resolutions++;
    this.callers.lookup(pid, (env) => {
      const scopes = this.scopes(env);
      if (!explain) {
        cb({ target: expandTemplate(template, scopes), env, refs: undefined });
        return;
      }
      const { target, refs } = explainTemplate(template, scopes);
      cb({ target, env, refs });
    });
  }
}
