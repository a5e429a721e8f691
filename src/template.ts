// Variant-link templates: parsing and expansion. Pure: no fs, no process state.

/** One piece of a link target: literal text, or a reference to a variable. */
export type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'ref'; readonly name: string; readonly fallback: string | undefined; readonly source: string };

/** A parsed target; `refs` is false when it holds no reference (a plain symlink). */
export interface Template {
  readonly raw: string;
  readonly parts: readonly Part[];
  readonly refs: boolean;
}

const CLOSERS: Readonly<Record<string, string>> = { '<': '>', '{': '}' };

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}

/**
 * Reads one reference starting at `start` (a '$'): `$<NAME>`, `$<NAME:-fallback>`, `${NAME}`,
 * `${NAME:-fallback}`. Returns the part and the index after it, or undefined when the text there is not a
 * complete reference (it then stays literal).
 */
function readRef(s: string, start: number): { part: Part; end: number } | undefined {
  const closer = CLOSERS[s[start + 1] ?? ''];
  if (closer === undefined) return undefined;
  let i = start + 2;
  if (i >= s.length || !isNameStart(s.charCodeAt(i))) return undefined;
  while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
  const name = s.slice(start + 2, i);
  if (s[i] === closer) {
    return { part: { kind: 'ref', name, fallback: undefined, source: s.slice(start, i + 1) }, end: i + 1 };
  }
  if (s[i] !== ':' || s[i + 1] !== '-') return undefined;
  const close = s.indexOf(closer, i + 2);
  if (close < 0) return undefined;
  return {
    part: { kind: 'ref', name, fallback: s.slice(i + 2, close), source: s.slice(start, close + 1) },
    end: close + 1,
  };
}

/** Parses a symlink target into literal text and references. Never throws; linear in the input. */
export function parseTemplate(raw: string): Template {
  const parts: Part[] = [];
  let text = '';
  let refs = false;
  let i = 0;
  while (i < raw.length) {
    const dollar = raw.indexOf('$', i);
    if (dollar < 0) {
      text += raw.slice(i);
      break;
    }
    text += raw.slice(i, dollar);
    const ref = readRef(raw, dollar);
    if (ref === undefined) {
      text += '$';
      i = dollar + 1;
      continue;
    }
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
    parts.push(ref.part);
    refs = true;
    i = ref.end;
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return { raw, parts, refs };
}

/** Where the value of one reference came from, in resolution order. */
export type Scope = 'environment' | 'pending exec' | 'mount default' | 'inline fallback' | 'unresolved';

/** A source of variable values; an empty value counts as unset, like the shell's `:-`. */
export type Lookup = (name: string) => string | undefined;

export interface Scopes {
  /** The caller's environment (or the environment of the program it is exec'ing). */
  readonly env: Lookup;
  /** How to name `env` in explanations. */
  readonly envScope: 'environment' | 'pending exec';
  /** Mount defaults (`--default NAME=VALUE`). */
  readonly defaults: Lookup;
}

export interface Resolved {
  readonly name: string;
  readonly scope: Scope;
  readonly value: string;
}

/** Resolves one reference: environment → mount defaults → inline fallback → the literal reference. */
export function resolveRef(part: Extract<Part, { kind: 'ref' }>, scopes: Scopes): Resolved {
  const fromEnv = scopes.env(part.name);
  if (fromEnv !== undefined && fromEnv !== '') return { name: part.name, scope: scopes.envScope, value: fromEnv };
  const fromDefaults = scopes.defaults(part.name);
  if (fromDefaults !== undefined && fromDefaults !== '') {
    return { name: part.name, scope: 'mount default', value: fromDefaults };
  }
  if (part.fallback !== undefined) return { name: part.name, scope: 'inline fallback', value: part.fallback };
  return { name: part.name, scope: 'unresolved', value: part.source };
}

/** Expands a template; the string a process following the link sees. */
export function expandTemplate(template: Template, scopes: Scopes): string {
  if (!template.refs) return template.raw;
  let out = '';
  for (const part of template.parts) out += part.kind === 'text' ? part.text : resolveRef(part, scopes).value;
  return out;
}

/** Expands a template and says which scope supplied each reference (for `resolve --explain` and logs). */
export function explainTemplate(template: Template, scopes: Scopes): { target: string; refs: Resolved[] } {
  const refs: Resolved[] = [];
  let target = '';
  for (const part of template.parts) {
    if (part.kind === 'text') {
      target += part.text;
      continue;
    }
    const r = resolveRef(part, scopes);
    refs.push(r);
    target += r.value;
  }
  return { target, refs };
}
