// Versions matched as install trees name them: a value from a project file or a mount default (`v20.1.0`,
// `ruby-3.3.0`, `lts/iron`, `20`, `prefix:1.21`) against the entries of the directory the link's target
// reaches (`20.1.0`, `3.3.0`, `lts-iron`, `20.10.0`). Pure: the caller lists the directory (off the JS
// thread) and passes the names in. Names are bytes, kept as latin1 strings (one char per byte).
// The rules are described for users in docs/project-files.md ("Versions as install trees name them").

/** How a candidate was formed, for `resolve --explain`. */
export type CandidateRule = 'as written' | 'without v' | 'with v' | 'without tool prefix' | 'with tool prefix' | 'lts alias' | 'newest with prefix' | 'newest installed';

/** One name tried in the install directory. */
export interface Candidate {
  readonly name: string;
  readonly rule: CandidateRule;
}

/** The tool a `<TOOL>_VERSION` variable is for (`GO_VERSION` → `go`, `DOTNET_CORE_VERSION` → `dotnet-core`). */
export function toolOfVariable(variable: string): string | undefined {
  const m = /^([A-Za-z0-9_]+?)_VERSION$/.exec(variable);
  return m === null ? undefined : m[1]!.toLowerCase().replace(/_/g, '-');
}

const PREFIX = 'prefix:';
const DIGIT = /^[0-9]/;

/** True when `name` can be a directory entry: one path component, no NUL. */
function isComponent(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\0]/.test(name);
}

/**
 * The exact names to try for one written version, in order, each once: as written; without a leading `v`
 * (or with one, for nvm's trees); without or with the tool's prefix (`ruby-3.3.0`, `python-3.12`);
 * `lts/NAME` as `lts-NAME` (mise's runtime links). `prefix:X` is tried as X.
 */
export function exactCandidates(written: string, tool?: string): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const add = (name: string, rule: CandidateRule) => {
    if (isComponent(name) && !seen.has(name)) {
      seen.add(name);
      out.push({ name, rule });
    }
  };
  const base = written.startsWith(PREFIX) ? written.slice(PREFIX.length) : written;
  add(base, 'as written');
  const vForms = (v: string): [string, CandidateRule][] => (/^v[0-9]/.test(v) ? [[v.slice(1), 'without v']] : DIGIT.test(v) ? [['v' + v, 'with v']] : []);
  for (const [name, rule] of vForms(base)) add(name, rule);
  if (tool !== undefined) {
    const p = tool + '-';
    if (base.startsWith(p) && base.length > p.length) {
      const bare = base.slice(p.length);
      add(bare, 'without tool prefix');
      for (const [name] of vForms(bare)) add(name, 'without tool prefix');
    } else if (DIGIT.test(base)) add(p + base, 'with tool prefix');
  }
  if (base.startsWith('lts/')) add(base === 'lts/*' ? 'lts' : 'lts-' + base.slice(4), 'lts alias');
  return out;
}

/** The version prefixes a partial version stands for (`20`, `v1.21`, `go-1.21` → `20`, `1.21`, `1.21`). */
export function partialPrefix(written: string, tool?: string): string | undefined {
  let v = written.startsWith(PREFIX) ? written.slice(PREFIX.length) : written;
  if (tool !== undefined && v.startsWith(tool + '-')) v = v.slice(tool.length + 1);
  if (/^v[0-9]/.test(v)) v = v.slice(1);
  return DIGIT.test(v) && isComponent(v) ? v : undefined;
}

/** Splits a version into numbers and words (`3.12.0rc1` → 3, 12, 0, rc, 1). */
function tokens(v: string): string[] {
  return v.match(/[0-9]+|[A-Za-z]+/g) ?? [];
}

function compareNumbers(a: string, b: string): number {
  const x = a.replace(/^0+(?=.)/, '');
  const y = b.replace(/^0+(?=.)/, '');
  return x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Version order (not text order): `20.9.0` < `20.10.0`; a release after its pre-releases (`3.12.0rc1` <
 * `3.12.0`); numbers after words at the same place. Ties are broken by text, so the order is total.
 */
export function compareVersions(a: string, b: string): number {
  const x = tokens(a);
  const y = tokens(b);
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined) {
      if (p === undefined && q === undefined) return a < b ? -1 : a > b ? 1 : 0;
      // The one that goes on is newer when a number follows (1.2 < 1.2.1), older when a word does (a pre-release).
      const more = (p ?? q)!;
      const sign = DIGIT.test(more) ? 1 : -1;
      return p === undefined ? -sign : sign;
    }
    const pn = DIGIT.test(p);
    const qn = DIGIT.test(q);
    if (pn && qn) {
      const c = compareNumbers(p, q);
      if (c !== 0) return c;
    } else if (pn !== qn) return pn ? 1 : -1;
    else if (p !== q) return p < q ? -1 : 1;
  }
}

/** The newest installed name that `prefix` is a partial version of: itself, or it followed by `.`, `-` or `+` ('': any). */
export function newestWithPrefix(prefix: string, installed: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const name of installed) {
    if (prefix !== '' && name !== prefix && !(name.startsWith(prefix) && '.-+'.includes(name[prefix.length]!))) continue;
    if (best === undefined || compareVersions(name, best) > 0) best = name;
  }
  return best;
}

/** What matching gave: the name to use, the candidate that matched (none: nothing is installed) and every name tried. */
export interface VersionMatch {
  readonly value: string;
  readonly matched: Candidate | undefined;
  readonly tried: readonly string[];
}

/**
 * Matches the versions a project file or default gives (several: a line's, or a `.python-version`'s lines,
 * in order) against the names in the install directory: for each version in turn, its exact candidates,
 * then the newest installed with its prefix; the first version with a match wins. Nothing matches: the
 * first version's first candidate (the link then dangles, as the version manager says "not installed").
 */
export function matchVersions(versions: readonly string[], installed: ReadonlySet<string>, tool?: string): VersionMatch | undefined {
  const tried: string[] = [];
  let first: string | undefined;
  for (const written of versions) {
    const exact = exactCandidates(written, tool);
    first ??= exact[0]?.name;
    for (const c of exact) {
      tried.push(c.name);
      if (installed.has(c.name)) return { value: c.name, matched: c, tried };
    }
    const prefix = partialPrefix(written, tool);
    if (prefix !== undefined) {
      tried.push(`${prefix}.*`);
      const newest = newestWithPrefix(prefix, installed);
      if (newest !== undefined) return { value: newest, matched: { name: newest, rule: 'newest with prefix' }, tried };
    } else if (written === 'latest') {
      // No `latest` link (asdf's trees, a tree mise did not make): the newest version installed.
      tried.push('*');
      const newest = newestWithPrefix('', [...installed].filter((n) => DIGIT.test(n)));
      if (newest !== undefined) return { value: newest, matched: { name: newest, rule: 'newest installed' }, tried };
    }
  }
  return first === undefined ? undefined : { value: first, matched: undefined, tried };
}
