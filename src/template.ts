// Variant-link templates: parsing and expansion, on bytes (a link target and a variable's value are any
// bytes but NUL; only variable names are ASCII). Pure: no fs, no process state. The grammar's one owner:
// the C side only asks whether a target contains one of REFERENCE_OPENERS before sending it here.

/** One piece of a link target: literal bytes, or a reference to a variable. */
export type Part =
  | { readonly kind: 'text'; readonly text: Buffer }
  | { readonly kind: 'ref'; readonly name: string; readonly fallback: Buffer | undefined; readonly source: Buffer };

/** A parsed target; `refs` is false when it holds no reference (a plain symlink). */
export interface Template {
  readonly raw: Buffer;
  readonly parts: readonly Part[];
  readonly refs: boolean;
}

const DOLLAR = 0x24;
const COLON = 0x3a;
const DASH = 0x2d;
const SLASH = 0x2f;
/** Reference brackets: `$<…>` and `${…}`. */
const CLOSERS: ReadonlyMap<number, number> = new Map([[0x3c, 0x3e], [0x7b, 0x7d]]);

/** How every reference starts; a target without any of these is a plain symlink (told to the C side). */
export const REFERENCE_OPENERS: readonly string[] = [...CLOSERS.keys()].map((open) => '$' + String.fromCharCode(open));

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}

const lastClosers = new WeakMap<Buffer, Map<number, number>>();
/** The index of the last `closer` byte in `s` (-1: none), computed once per target. */
function lastCloser(s: Buffer, closer: number): number {
  let m = lastClosers.get(s);
  if (m === undefined) lastClosers.set(s, (m = new Map()));
  let at = m.get(closer);
  if (at === undefined) m.set(closer, (at = s.lastIndexOf(closer)));
  return at;
}

/**
 * Reads one reference starting at `start` (a '$'): `$<NAME>`, `$<NAME:-fallback>`, `${NAME}`,
 * `${NAME:-fallback}`. Returns the part and the index after it, or undefined when the bytes there are not a
 * complete reference (they then stay literal).
 */
function readRef(s: Buffer, start: number): { part: Part; end: number } | undefined {
  const closer = CLOSERS.get(s[start + 1] ?? -1);
  if (closer === undefined) return undefined;
  let i = start + 2;
  if (i >= s.length || !isNameStart(s[i]!)) return undefined;
  while (i < s.length && isNameChar(s[i]!)) i++;
  const name = s.toString('latin1', start + 2, i);
  if (s[i] === closer) {
    return { part: { kind: 'ref', name, fallback: undefined, source: s.subarray(start, i + 1) }, end: i + 1 };
  }
  if (s[i] !== COLON || s[i + 1] !== DASH) return undefined;
  // Past the last closer nothing can close: answered without a scan, so many unclosed fallbacks stay linear.
  if (lastCloser(s, closer) < i + 2) return undefined;
  const close = s.indexOf(closer, i + 2);
  return {
    part: { kind: 'ref', name, fallback: s.subarray(i + 2, close), source: s.subarray(start, close + 1) },
    end: close + 1,
  };
}

/** Parses a symlink target into literal bytes and references. Never throws; linear in the input. */
export function parseTemplate(raw: Buffer): Template {
  const parts: Part[] = [];
  let textStart = 0;
  let refs = false;
  let i = 0;
  while (i < raw.length) {
    const dollar = raw.indexOf(DOLLAR, i);
    if (dollar < 0) break;
    const ref = readRef(raw, dollar);
    if (ref === undefined) {
      i = dollar + 1;
      continue;
    }
    if (dollar > textStart) parts.push({ kind: 'text', text: raw.subarray(textStart, dollar) });
    parts.push(ref.part);
    refs = true;
    i = textStart = ref.end;
  }
  if (raw.length > textStart) parts.push({ kind: 'text', text: raw.subarray(textStart) });
  return { raw, parts, refs };
}

/** Where the value of one reference came from, in resolution order. */
export type Scope = 'environment' | 'pending exec' | 'project file' | 'mount default' | 'inline fallback' | 'unresolved';

/** A source of variable values; an empty value counts as unset, like the shell's `:-`. */
export type Lookup = (name: string) => Buffer | undefined;

export interface Scopes {
  /** The caller's environment (or the environment of the program it is exec'ing). */
  readonly env: Lookup;
  /** How to name `env` in explanations. */
  readonly envScope: 'environment' | 'pending exec';
  /** The caller's project files (absent: the scope is off). */
  readonly project?: ProjectLookup;
  /** Mount defaults (`--default NAME=VALUE`). */
  readonly defaults: Lookup;
  /**
   * Matches a project file's or mount default's versions against the install directory `dir` that the
   * reference stands in (it is a whole path component there): the name to use, or undefined to take the
   * value as written (versions.ts; absent: values are taken as written).
   */
  readonly match?: (name: string, dir: Buffer, versions: readonly Buffer[]) => { readonly value: Buffer; readonly match: VersionMatchInfo } | undefined;
}

/** How a value was matched against an install directory, for explanations. */
export interface VersionMatchInfo {
  /** The directory listed. */
  readonly dir: string;
  /** The name that matched (undefined: none did, the value is the first candidate). */
  readonly matched: string | undefined;
  /** How the matched name was formed (versions.ts CandidateRule). */
  readonly rule: string | undefined;
  /** Every name tried, in order (`1.21.*`: the newest with that prefix). */
  readonly tried: readonly string[];
}

/**
 * A project file's answer: its value, or undefined when the file defers (`system`, `path:…`: resolution goes
 * on with the mount defaults), and where it was written (`/dir/.tool-versions:3`).
 */
export type ProjectLookup = (name: string) => { readonly value: Buffer | undefined; readonly source: string; readonly versions?: readonly Buffer[] } | undefined;

export interface Resolved {
  readonly name: string;
  readonly scope: Scope;
  readonly value: Buffer;
  /** The project file and line that answered, or deferred to the mount defaults. */
  readonly source?: string;
  /** How a project or default value was matched against the install directory (absent: taken as written). */
  readonly match?: VersionMatchInfo;
}

/**
 * Resolves one reference: environment → project files → mount defaults → inline fallback → the literal
 * reference. `dir`: the install directory the reference is a whole component of, where project and
 * default values are matched (scopes.match); the environment's values are the caller's own, as written.
 */
export function resolveRef(part: Extract<Part, { kind: 'ref' }>, scopes: Scopes, dir?: Buffer): Resolved {
  const fromEnv = scopes.env(part.name);
  if (fromEnv !== undefined && fromEnv.length > 0) return { name: part.name, scope: scopes.envScope, value: fromEnv };
  const matched = (versions: readonly Buffer[]) => (dir === undefined ? undefined : scopes.match?.(part.name, dir, versions));
  const fromProject = scopes.project?.(part.name);
  if (fromProject?.value !== undefined && fromProject.value.length > 0) {
    const m = matched(fromProject.versions ?? [fromProject.value]);
    return { name: part.name, scope: 'project file', value: m?.value ?? fromProject.value, source: fromProject.source, ...(m !== undefined ? { match: m.match } : {}) };
  }
  const deferred = fromProject === undefined ? {} : { source: fromProject.source };
  const fromDefaults = scopes.defaults(part.name);
  if (fromDefaults !== undefined && fromDefaults.length > 0) {
    const m = matched([fromDefaults]);
    return { name: part.name, scope: 'mount default', value: m?.value ?? fromDefaults, ...deferred, ...(m !== undefined ? { match: m.match } : {}) };
  }
  if (part.fallback !== undefined) return { name: part.name, scope: 'inline fallback', value: part.fallback, ...deferred };
  return { name: part.name, scope: 'unresolved', value: part.source, ...deferred };
}

/** What an expansion is: its length always, its bytes only when they were built. */
export interface Explained {
  /** The expansion; undefined when `length` is over the `max` given (it was never built). */
  readonly target: Buffer | undefined;
  readonly length: number;
  readonly refs: Resolved[];
}

/**
 * Expands a template and says which scope supplied each reference (for `resolve --explain` and logs). The
 * length is summed from the resolved values first; the bytes are built only when it is at most `max`, so a
 * target of 4 095 bytes naming 127 KiB values a thousand times costs a sum, not a 130 MB buffer.
 */
export function explainTemplate(template: Template, scopes: Scopes, max = Infinity): Explained {
  const refs: Resolved[] = [];
  const pieces: Buffer[] = [];
  let length = 0;
  for (const [i, part] of template.parts.entries()) {
    let piece: Buffer;
    if (part.kind === 'text') piece = part.text;
    else {
      // Matched in an install directory only while the answer can still be a path (at most `max`):
      // past it the answer is ENAMETOOLONG anyway, and the prefix is never built.
      const dir = scopes.match === undefined || length > max ? undefined : componentDir(pieces, template.parts[i + 1]);
      const r = resolveRef(part, scopes, dir);
      refs.push(r);
      piece = r.value;
    }
    pieces.push(piece);
    length += piece.length;
  }
  return { target: length <= max ? Buffer.concat(pieces, length) : undefined, length, refs };
}

/** The directory a reference is a whole path component of (`…/installs/$<V>` or `…/installs/$<V>/bin`), else undefined. */
function componentDir(before: readonly Buffer[], next: Part | undefined): Buffer | undefined {
  const last = before[before.length - 1];
  if (last === undefined || last[last.length - 1] !== SLASH) return undefined;
  if (next !== undefined && (next.kind !== 'text' || next.text[0] !== SLASH)) return undefined;
  const dir = Buffer.concat(before as Buffer[]);
  return dir.length > 1 ? dir.subarray(0, dir.length - 1) : dir;
}
