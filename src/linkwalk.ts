// Following a path as the kernel does, one component at a time, naming every link on the way: what
// `resolve ~/vs/go/bin/go` shows, and how it knows that a variant link's target is not installed.
// Pure: the caller says what each path is (`look`), through the mount, as the process asked about.
import * as path from 'node:path';

/** What one absolute path is, as lstat and (for a link) the daemon see it. */
export type Entry =
  | { readonly kind: 'missing'; readonly reason?: string }
  | { readonly kind: 'directory' }
  | { readonly kind: 'other' }
  | { readonly kind: 'link'; readonly raw: string; readonly target: string; readonly variant: boolean };

/** One link followed: where it is, what it holds and what it expanded to. */
export interface Hop {
  readonly link: string;
  readonly raw: string;
  readonly target: string;
  readonly variant: boolean;
}

/** Where a path leads: the links on the way, the final path, and whether it exists. */
export interface Walk {
  readonly hops: readonly Hop[];
  /** The path with every link replaced by its target (the rest appended as given when a step is missing). */
  readonly path: string;
  readonly exists: boolean;
  /** The first path on the way that does not exist, and why (ENOENT unless said). */
  readonly missing?: string;
  readonly reason?: string;
}

/** The kernel's limit on links followed in one lookup (MAXSYMLINKS). */
export const MAX_LINKS = 40;

/** The components of `p`. A `.` stays (what comes before it must be a directory, as for the kernel), and a
 * trailing slash counts as one: `file/` and `file/.` are ENOTDIR, never `file`. */
function parts(p: string): string[] {
  const out = p.split('/').filter((c) => c !== '');
  if (p.endsWith('/') && out.length > 0 && out[out.length - 1] !== '.') out.push('.');
  return out;
}

/** Follows `file` (absolute) component by component; `look` answers for each absolute path. */
export async function walkLinks(file: string, look: (abs: string) => Promise<Entry>): Promise<Walk> {
  const hops: Hop[] = [];
  let here = '/';
  const rest = parts(file);
  while (rest.length > 0) {
    const name = rest.shift()!;
    // `..` after a link goes up from where the link led, as the kernel's lookup does.
    if (name === '..') {
      here = path.dirname(here);
      continue;
    }
    // `.` is where the walk is, a directory (a file before it ended the walk below); nothing to look up.
    if (name === '.') continue;
    const next = path.join(here, name);
    const e = await look(next);
    if (e.kind === 'link') {
      hops.push({ link: next, raw: e.raw, target: e.target, variant: e.variant });
      if (hops.length > MAX_LINKS) return { hops, path: path.join(next, ...rest), exists: false, missing: next, reason: `more than ${MAX_LINKS} links on the way (a loop)` };
      if (e.target.startsWith('/')) here = '/';
      rest.unshift(...parts(e.target));
      continue;
    }
    if (e.kind === 'missing') return { hops, path: path.join(next, ...rest), exists: false, missing: next, ...(e.reason !== undefined ? { reason: e.reason } : {}) };
    if (e.kind === 'other' && rest.length > 0) return { hops, path: path.join(next, ...rest), exists: false, missing: path.join(next, rest[0]!), reason: `${next} is not a directory` };
    here = next;
  }
  return { hops, path: here, exists: true };
}

/** The last variant link on the way: the one whose value chose what runs. */
export function lastVariant(walk: Walk): Hop | undefined {
  return [...walk.hops].reverse().find((h) => h.variant);
}

/** One line for a walk whose end does not exist: which link chose it, and what is missing. */
export function notInstalled(walk: Walk): string {
  const hop = lastVariant(walk);
  const why = walk.reason ?? `${walk.missing ?? walk.path} does not exist`;
  if (hop === undefined) return why;
  return `${hop.link} -> ${hop.target} (from ${hop.raw}): not installed (${why})`;
}
