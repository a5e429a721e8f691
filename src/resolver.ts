// Resolution of a variant link for one caller: the link's template, the caller's environment, the mount
// defaults. The C hook answers every request whose answer it already has (the memo); what reaches here is
// the cold case, and the answer computed here goes back to C in one call (resolve.c), which keys and keeps it.
// getattr (st_size) and readlink both end in resolve(), so they cannot disagree.
import { constants } from 'node:os';
import { LRUCache } from 'lru-cache';
import { environValue } from './environ';
import { NO_ENVIRONMENT, decodeProbe, decodeProjectBlock, linkOwnerRuleOf, projectStatusOf, type EnvSource, type LinkOwnerRule, type ExecCheck, type NativeHelpers, type PassedLink, type ProjectStatus } from './native';
import { InstallTrees, type Listing } from './installs';
import { projectFileNames, projectLookup, projectSkipped, type ProjectFileRule } from './project';
import { type Template, type Scopes, parseTemplate, explainTemplate, type ProjectLookup, type Resolved } from './template';
import { matchVersions, toolOfVariable } from './versions';

/** A parsed-template cache keyed by raw target bytes (least recently used evicted): the same target is never parsed twice. */
export class TemplateCache {
  private readonly cache: LRUCache<string, Template>;
  constructor(max = 4096) {
    this.cache = new LRUCache({ max });
  }
  get(raw: Buffer): Template {
    const key = raw.toString('latin1');
    let t = this.cache.get(key);
    if (t === undefined) {
      t = parseTemplate(raw);
      this.cache.set(key, t);
    }
    return t;
  }
}

/** The caller's environment as one resolution used it. */
export interface CallerEnvironment {
  readonly source: EnvSource;
  readonly execCheck: ExecCheck;
}

/** What a link resolved to for one caller, with the scope of each reference. */
export interface Resolution {
  /** The link's own target, as stored. */
  readonly raw: Buffer;
  /** What the caller sees; undefined when it is longer than a path may be (never built: ENAMETOOLONG). */
  readonly target: Buffer | undefined;
  /** The expansion's length (lstat's st_size), known whether or not it was built. */
  readonly length: number;
  /** Where the caller's environment came from; undefined when the target holds no reference. */
  readonly env: CallerEnvironment | undefined;
  /** Each reference's scope and value. */
  readonly refs: Resolved[] | undefined;
  /** What the walk for the caller's project files found ('off': not looked at). */
  readonly project: ProjectStatus;
  /** explain(): project files not trusted and values refused, one line each. */
  readonly skipped?: ReadonlyArray<{ readonly kind: 'skipped' | 'refused'; readonly text: string }>;
  /** resolve --explain: the link's owner and the rule that let it read the environment ('other': none did). */
  readonly linkOwner?: { readonly rule: LinkOwnerRule; readonly uid: number; readonly follower: number };
}

const EMPTY: ReadonlyMap<string, Buffer> = new Map();
const EMPTY_LISTINGS: ReadonlyMap<string, Listing> = new Map();

export interface ResolverOptions {
  /** Leave answers in the native memo (off at --log-level debug, so that every resolution is logged). */
  readonly memo: boolean;
  /** The project files understood, in precedence order; none: the project scope is off. */
  readonly projectRules: readonly ProjectFileRule[];
  /** The mount point as /proc names it: install directories at or below it are not listed. */
  readonly mountPoint: string;
  /** Match project and default values against install directories only where any user may list them (a root daemon). */
  readonly onlyPublicInstalls: boolean;
  /** How long a resolution waits for an install directory's listing (--project-timeout). */
  readonly installsTimeoutMs: number;
}

/** What one expansion needed from the install directories. */
interface InstallUse {
  /** Directories not listed yet: list them and expand again. */
  readonly needed: Set<string>;
  /** A listing that is not kept (missing, refused) was used: the answer may not be memoized. */
  unkept: boolean;
}

/** Scopes that answer from the caller's own choices: when they answer every reference, nothing else matters. */
const CALLER_SCOPES: ReadonlySet<string> = new Set(['environment', 'pending exec']);

/** Expands variant-link targets for callers. */
export class Resolver {
  readonly templates = new TemplateCache();
  /** The file names the hook looks for (configure's projectFiles): the block's name indexes point here. */
  readonly projectNames: readonly string[];
  /** Resolutions answered (in part) by a project file here, in JS (the memo's hits are counted in C). */
  projectAnswered = 0;
  private defaultBytes: ReadonlyMap<string, Buffer> = EMPTY;
  private defaultsGeneration: number;
  /** The install directories links reach, listed for matching versions; a change there acts as a defaults change. */
  readonly installs: InstallTrees;

  constructor(private readonly native: NativeHelpers, defaults: ReadonlyMap<string, string>, private readonly options: ResolverOptions) {
    this.defaultsGeneration = native.defaultsGeneration();
    this.setDefaults(defaults);
    this.projectNames = projectFileNames(options.projectRules);
    this.installs = new InstallTrees({
      mountPoint: options.mountPoint,
      onlyPublic: options.onlyPublicInstalls,
      timeoutMs: options.installsTimeoutMs,
      // Memoized answers may name what was installed: the defaults generation is in every memo key.
      onChange: () => (this.defaultsGeneration = this.native.defaultsChanged()),
    });
  }

  /** Matches values in install directories: kept listings, else this round's (`listed`); records what is missing. */
  private matcher(use: InstallUse, listed: ReadonlyMap<string, Listing>): NonNullable<Scopes['match']> {
    return (name, dirBytes, versions) => {
      if (dirBytes[0] !== 0x2f) return undefined;  // relative: the link's own directory, inside the mount
      const dir = dirBytes.toString('latin1');
      const listing = this.installs.get(dir) ?? listed.get(dir);
      if (listing === undefined) {
        use.needed.add(dir);
        return undefined;
      }
      if (typeof listing === 'string') {
        use.unkept = true;
        return undefined;
      }
      const m = matchVersions(versions.map((v) => v.toString('latin1')), listing, toolOfVariable(name));
      if (m === undefined) return undefined;
      return { value: Buffer.from(m.value, 'latin1'), match: { dir, matched: m.matched?.name, rule: m.matched?.rule, tried: m.tried } };
    };
  }

  /**
   * Expands, listing the install directories the expansion needs first (on the thread pool) when they are
   * not kept; `done` may be called at once. `unkept`: the answer used a listing that is not watched.
   */
  private expandListed(expand: (scopes: Pick<Scopes, 'match'>) => Resolution, done: (r: Resolution, unkept: boolean) => void): void {
    const use: InstallUse = { needed: new Set(), unkept: false };
    const r = expand({ match: this.matcher(use, EMPTY_LISTINGS) });
    if (use.needed.size === 0) return done(r, use.unkept);
    this.installs.load(use.needed, (listed) => {
      const again: InstallUse = { needed: new Set(), unkept: false };
      const r2 = expand({ match: this.matcher(again, listed) });
      // A directory still not listed (kept listings dropped meanwhile, another's value): taken as written, not kept.
      done(r2, again.unkept || again.needed.size > 0);
    });
  }

  /** The project scope from a walk's block ('walked', or 'partial': the directories below a stalled one), else none. */
  private project(status: ProjectStatus, block: () => Buffer): ProjectLookup | undefined {
    if ((status !== 'walked' && status !== 'partial') || this.projectNames.length === 0) return undefined;
    return projectLookup(decodeProjectBlock(this.native.layout, block()), this.projectNames, this.options.projectRules);
  }

  /** New mount defaults: every memoized answer made with the old ones stops matching. */
  setDefaults(defaults: ReadonlyMap<string, string>): void {
    this.defaultBytes = new Map([...defaults].map(([k, v]) => [k, Buffer.from(v)]));
    this.defaultsGeneration = this.native.defaultsChanged();
  }

  /** The caller's variables: looked up in its environment block only as the target names them. */
  private vars(source: EnvSource, block: () => Buffer): (name: string) => Buffer | undefined {
    if (NO_ENVIRONMENT.has(source)) return () => undefined;
    let env: Buffer | undefined;
    // One scan of a block that may be megabytes per name, however often the target names it.
    const seen = new Map<string, Buffer | undefined>();
    return (name) => {
      if (!seen.has(name)) seen.set(name, environValue((env ??= block()), name));
      return seen.get(name);
    };
  }

  private expand(raw: Buffer, env: CallerEnvironment, vars: (name: string) => Buffer | undefined, project: ProjectStatus, projectScope: () => ProjectLookup | undefined, match: Pick<Scopes, 'match'>): Resolution {
    const template = this.templates.get(raw);
    if (!template.refs) return { raw, target: raw, length: raw.length, env: undefined, refs: undefined, project: 'off' };
    const defaults = this.defaultBytes;
    let lookup: ProjectLookup | undefined | null = null;
    const scopes: Scopes = {
      env: vars,
      envScope: env.source === 'exec' ? 'pending exec' : 'environment',
      project: (name) => (lookup === null ? (lookup = projectScope()) : lookup)?.(name),
      defaults: (name) => defaults.get(name),
      ...match,
    };
    const { target, length, refs } = explainTemplate(template, scopes, this.native.layout.targetMax);
    return { raw, target, length, env, refs, project };
  }

  /**
   * The answer for a link the hook passed on (`locals`: its request's locals), given to C in one call
   * (native.answer), which keeps it by what it depends on and shapes the reply in the slot; `done` gets
   * the resolution and the reply's result (-errno, 0, or readlink's length).
   */
  resolve(link: PassedLink, locals: Buffer, done: (r: Resolution, result: number) => void): void {
    const env = { source: link.source, execCheck: link.execCheck };
    // The blocks are read once: a second expansion (after listing install directories) reuses them.
    let envBlock: Buffer | undefined;
    let projectScope: ProjectLookup | undefined | null = null;
    const vars = this.vars(link.source, () => (envBlock ??= this.native.slotEnv(locals)));
    const project = () => (projectScope === null ? (projectScope = this.project(link.projectStatus, () => this.native.slotProject(locals))) : projectScope);
    this.expandListed((match) => this.expand(link.target, env, vars, link.projectStatus, project, match), (r, unkept) => done(r, this.answer(locals, r, unkept)));
  }

  /** Counts the resolution and answers it: what it expands to, the names it used, which scopes answered. */
  private answer(locals: Buffer, r: Resolution, unkept: boolean): number {
    const refs = r.refs ?? [];
    if (refs.some((x) => x.scope === 'project file')) this.projectAnswered++;
    const bits = this.native.layout.scope;
    const scopes = refs.reduce((m, x) => m | (CALLER_SCOPES.has(x.scope) ? bits.caller : x.scope === 'project file' ? bits.project : bits.other), 0);
    const names = Buffer.from([...new Set(refs.map((x) => x.name))].map((n) => n + '\0').join(''), 'latin1');
    return this.native.answer(locals, r.target ?? r.length, names, scopes, this.defaultsGeneration, this.options.memo && !unkept);
  }

  /** Reads the link at `link` (a backing path) and expands it for `pid`, on the thread pool, uncached. */
  explain(pid: number, link: Buffer, cb: (errno: number, r?: Resolution) => void): void {
    this.native.probe(pid, link, (source, execCheck, block, target, linkResult, projectCode, projectBlock, ownerCode, linkUid, followerUid) => {
      if (linkResult < 0 || target === null) return cb(linkResult < 0 ? linkResult : -constants.errno.EINVAL);
      const env = decodeProbe(this.native.layout, source, execCheck);
      const status = projectStatusOf(this.native.layout, projectCode);
      let scope: ProjectLookup | undefined | null = null;
      const project = () => (scope === null ? (scope = this.project(status, () => projectBlock)) : scope);
      this.expandListed((match) => this.expand(target, env, this.vars(env.source, () => block ?? Buffer.alloc(0)), status, project, match), (r) => {
        const skipped = (status === 'walked' || status === 'partial') && r.refs !== undefined ? projectSkipped(decodeProjectBlock(this.native.layout, projectBlock), this.projectNames, this.options.projectRules) : [];
        cb(0, { ...r, skipped, linkOwner: { rule: linkOwnerRuleOf(this.native.layout, ownerCode), uid: linkUid, follower: followerUid } });
      });
    });
  }
}
