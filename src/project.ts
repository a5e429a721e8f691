// Project files: the versions a project asks for (`.tool-versions`, `.nvmrc`, …) and varsymfs's own
// `NAME=VALUE` file, found by walking up from a caller's working directory. Pure: the caller reads the
// files (as the caller) and passes their bytes in; values come back as bytes, never decoded.
// The rules are described for users in docs/project-files.md.
import { VarsymfsError } from './errors';
import { isVariableName } from './names';

// smol-toml ships CommonJS (its `require` export) but declares its types for ES modules only.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml } = require('smol-toml') as typeof import('smol-toml', { with: { 'resolution-mode': 'import' } });

/** varsymfs's own project file: `NAME=VALUE` lines, for any variable. */
export const OWN_FILE = '.varsymfs-env';

/** asdf's and mise's multi-tool file: `tool version [version…]` lines. */
export const TOOL_VERSIONS_FILE = '.tool-versions';

/**
 * mise's project configuration files, highest precedence first (mise reads them in the reverse order, later
 * overriding earlier): every `.local` form over every other, then the plain names over the forms in a
 * subdirectory (opened beneath the directory, never through a symlink: docs/project-files.md).
 */
export const MISE_FILES: readonly string[] = Object.freeze([
  '.mise.local.toml', 'mise.local.toml', '.mise/config.local.toml', '.config/mise.local.toml', '.config/mise/mise.local.toml', '.config/mise/config.local.toml',
  '.mise.toml', 'mise.toml', 'mise/config.toml', '.mise/config.toml', '.config/mise.toml', '.config/mise/mise.toml', '.config/mise/config.toml',
]);

/** A file that holds one version for one variable (`.nvmrc`, or one added with `--project-file`). */
export interface OneValueRule {
  readonly file: string;
  readonly format: 'one-value';
  readonly variable: string;
}

/** How one project file is read and what it can answer. */
export type ProjectFileRule =
  | { readonly file: string; readonly format: 'assignments' }
  | { readonly file: string; readonly format: 'tool-versions' }
  | { readonly file: string; readonly format: 'mise-toml' }
  | OneValueRule;

function oneValue(file: string, variable: string): OneValueRule {
  return Object.freeze({ file, format: 'one-value', variable });
}

/**
 * The files understood without configuration, in precedence order inside one directory: the own file
 * (written for varsymfs, so it is the most deliberate), then mise's configuration files (mise prefers
 * them to `.tool-versions` in the same directory), then `.tool-versions`, then the one-value files (asdf
 * reads `.tool-versions` before a plugin's legacy files too; `.nvmrc` before `.node-version` is the order
 * of asdf-nodejs and mise).
 */
export const BUILTIN_PROJECT_FILES: readonly ProjectFileRule[] = Object.freeze([
  Object.freeze({ file: OWN_FILE, format: 'assignments' as const }),
  ...MISE_FILES.map((file) => Object.freeze({ file, format: 'mise-toml' as const })),
  Object.freeze({ file: TOOL_VERSIONS_FILE, format: 'tool-versions' as const }),
  oneValue('.go-version', 'GO_VERSION'),
  oneValue('.nvmrc', 'NODE_VERSION'),
  oneValue('.node-version', 'NODE_VERSION'),
  oneValue('.python-version', 'PYTHON_VERSION'),
  oneValue('.ruby-version', 'RUBY_VERSION'),
  oneValue('.java-version', 'JAVA_VERSION'),
  oneValue('.terraform-version', 'TERRAFORM_VERSION'),
]);

/** asdf plugin names that differ from the tool's own name; mise treats the same three as aliases. */
export const TOOL_ALIASES: ReadonlyMap<string, string> = new Map([
  ['golang', 'go'],
  ['nodejs', 'node'],
  ['dotnet-core', 'dotnet'],
]);

const TOOL_NAME = /^[A-Za-z0-9_-]+$/;

/** The variable a `.tool-versions` tool answers: `<TOOL>_VERSION`, `-` as `_`; undefined when none can. */
export function toolVariable(tool: string): string | undefined {
  // ASCII only before upper-casing: 'ß'.toUpperCase() is 'SS', which would make a name from a non-name.
  if (!TOOL_NAME.test(tool)) return undefined;
  const variable = (TOOL_ALIASES.get(tool) ?? tool).toUpperCase().replace(/-/g, '_') + '_VERSION';
  return isVariableName(variable) ? variable : undefined;
}

/** One variable a project file names, and where. */
export interface ProjectEntry {
  readonly variable: string;
  /** The value a link gets; undefined when the file defers (`system`, `path:…`, …): see versionValue. */
  readonly value: Buffer | undefined;
  /** The value as written in the file (for explanations). */
  readonly written: Buffer;
  /** The file's name (in its directory). */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  /** Every version given, as values, in order, when there are several (a line's, `.python-version`'s lines): the first installed wins (versions.ts). */
  readonly versions?: readonly Buffer[];
  /** Earlier lines of the same file naming the same variable, which this one overrides (mise: the last wins). */
  readonly overrides?: readonly number[];
}

const SLASH = 0x2f;
const COLON = 0x3a;
const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
const SYSTEM = Buffer.from('system');
const REF = Buffer.from('ref:');
const REF_DIR = Buffer.from('ref-');
const PREFIX = Buffer.from('prefix:');
const LTS = Buffer.from('lts/');
const LTS_ANY = Buffer.from('lts/*');
const LTS_DIR = Buffer.from('lts-');

/** True when `b` can stand as one path component: not empty, `.` or `..`, no `/` and no NUL. */
export function isPathComponent(b: Buffer): boolean {
  return b.length > 0 && !b.equals(DOT) && !b.equals(DOTDOT) && !b.includes(SLASH) && !b.includes(0);
}

/** True when `b` can stand as one path component and is no version manager's directive. */
function isPlainVersion(b: Buffer): boolean {
  return isPathComponent(b) && !b.includes(COLON);
}

/** A line whose value was refused: it counts as absent (`resolve --explain` says why). */
export interface Refusal {
  readonly variable: string;
  readonly written: Buffer;
  readonly file: string;
  readonly line: number;
  readonly why: string;
}

/**
 * What a version written in a version file means for a link: the same bytes for a plain version;
 * `ref-X` for `ref:X` (the directory asdf and mise install a git ref into); `lts-NAME` for nvm's
 * `lts/NAME` and `lts` for `lts/*` (mise's runtime links); X for mise's `prefix:X` (versions.ts then
 * takes the newest installed with that prefix); undefined — the project defers to the mount defaults —
 * for `system` and anything else that is not one plain path component: `path:DIR`, `sub-1:` and other
 * directives.
 */
export function versionValue(written: Buffer): Buffer | undefined {
  if (written.equals(SYSTEM)) return undefined;
  const after = (prefix: Buffer) => (written.subarray(0, prefix.length).equals(prefix) ? written.subarray(prefix.length) : undefined);
  const ref = after(REF);
  if (ref !== undefined) return isPlainVersion(ref) ? Buffer.concat([REF_DIR, ref]) : undefined;
  if (written.equals(LTS_ANY)) return Buffer.from('lts');
  const lts = after(LTS);
  if (lts !== undefined) return isPlainVersion(lts) ? Buffer.concat([LTS_DIR, lts]) : undefined;
  const prefix = after(PREFIX);
  if (prefix !== undefined) return isPlainVersion(prefix) ? Buffer.from(prefix) : undefined;
  return isPlainVersion(written) ? written : undefined;
}

/** The values of several written versions, in order, those that defer left out; undefined when fewer than two. */
function versionsOf(written: readonly Buffer[]): Buffer[] | undefined {
  const values = written.map(versionValue).filter((v): v is Buffer => v !== undefined);
  return written.length > 1 && values.length > 0 ? values : undefined;
}

/** An entry, with `versions` and `overrides` only when there is something to say (entries compare by their keys). */
function entryOf(variable: string, written: Buffer, file: string, line: number, all: readonly Buffer[] = [], overrides: readonly number[] = [], value = versionValue(written)): ProjectEntry {
  const versions = versionsOf(all);
  return { variable, value, written, file, line, ...(versions !== undefined ? { versions } : {}), ...(overrides.length > 0 ? { overrides } : {}) };
}

/** Keeps the last entry per variable (mise's rule for duplicates), noting the lines it overrides; ordered by line. */
function lastWins(entries: readonly ProjectEntry[]): ProjectEntry[] {
  const byVariable = new Map<string, ProjectEntry>();
  for (const e of entries) {
    const before = byVariable.get(e.variable);
    byVariable.delete(e.variable);
    byVariable.set(e.variable, before === undefined ? e : { ...e, overrides: [...(before.overrides ?? []), before.line] });
  }
  return [...byVariable.values()];
}

const LF = 0x0a;
const HASH = 0x23;
const EQUALS = 0x3d;
const QUOTES = [0x22, 0x27];
const EXPORT = Buffer.from('export');

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d); // space, \t \n \v \f \r: CRLF lines end in a space
}

function skipSpace(buf: Buffer, i: number, end: number): number {
  while (i < end && isSpace(buf[i]!)) i++;
  return i;
}

function skipWord(buf: Buffer, i: number, end: number): number {
  while (i < end && !isSpace(buf[i]!)) i++;
  return i;
}

function trimEnd(buf: Buffer, start: number, end: number): number {
  while (end > start && isSpace(buf[end - 1]!)) end--;
  return end;
}

/** Where `buf[start, end)` ends once a `#` comment is cut off. */
function commentStart(buf: Buffer, start: number, end: number): number {
  const hash = buf.subarray(start, end).indexOf(HASH);
  return hash < 0 ? end : start + hash;
}

/** Calls `fn` with each line's bounds (1-based numbers) until it returns true; skips a UTF-8 BOM. */
function eachLine(buf: Buffer, fn: (start: number, end: number, line: number) => boolean | void): void {
  let start = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  for (let line = 1; start < buf.length; line++) {
    let end = buf.indexOf(LF, start);
    if (end < 0) end = buf.length;
    if (fn(start, end, line) === true) return;
    start = end + 1;
  }
}

/** A copy: the caller may reuse the buffer it read the file into. */
function copy(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end));
}

/**
 * Parses a `.tool-versions` file: `tool version [version…]` lines, `#` comments (anywhere on a line),
 * blank lines. Every version of a line is kept: the first installed one is used (versions.ts), the
 * first when none is; the last line naming a variable wins, as in mise; a tool that makes no valid
 * variable is skipped.
 */
export function parseToolVersions(contents: Buffer, file = TOOL_VERSIONS_FILE): ProjectEntry[] {
  const entries: ProjectEntry[] = [];
  eachLine(contents, (start, end, line) => {
    const stop = commentStart(contents, start, end);
    const toolStart = skipSpace(contents, start, stop);
    const toolEnd = skipWord(contents, toolStart, stop);
    let at = skipSpace(contents, toolEnd, stop);
    if (at === stop) return;
    const variable = toolVariable(contents.toString('latin1', toolStart, toolEnd));
    if (variable === undefined) return;
    const words: Buffer[] = [];
    while (at < stop) {
      const wordEnd = skipWord(contents, at, stop);
      words.push(copy(contents, at, wordEnd));
      at = skipSpace(contents, wordEnd, stop);
    }
    entries.push(entryOf(variable, words[0]!, file, line, words));
  });
  return lastWins(entries);
}

/**
 * Parses a one-value file (`.nvmrc`, `.python-version`, …): the first word of the first line that has
 * one, `#` starting a comment. The first words of later lines (pyenv's further versions) are kept as
 * alternatives: the first installed one is used (versions.ts); further words on a line are not used.
 */
export function parseOneValueFile(contents: Buffer, file: string, variable: string): ProjectEntry | undefined {
  let first: { written: Buffer; line: number } | undefined;
  const words: Buffer[] = [];
  eachLine(contents, (start, end, line) => {
    const stop = commentStart(contents, start, end);
    const wordStart = skipSpace(contents, start, stop);
    if (wordStart === stop) return;
    const written = copy(contents, wordStart, skipWord(contents, wordStart, stop));
    first ??= { written, line };
    words.push(written);
  });
  return first === undefined ? undefined : entryOf(variable, first.written, file, first.line, words);
}

/**
 * Parses varsymfs's own file: `NAME=VALUE` lines, for any variable. Spaces around NAME and VALUE are
 * dropped, a VALUE in matching quotes loses them and an `export ` before NAME is allowed (so the file
 * can also be sourced by a shell); the VALUE is otherwise taken as written (`#` included). Other lines
 * (`#` comments, blank ones, anything without a valid NAME) are skipped, as are empty values. A value that
 * is not one path component (`/` in it, `.`, `..`, a NUL byte) is refused: the line counts as absent (a
 * value is spliced into a link target as is: `../../elsewhere` would lead out of the directory the link
 * names), and is added to `refused`. The first line naming a variable wins.
 */
export function parseAssignments(contents: Buffer, file = OWN_FILE, refused?: Refusal[]): ProjectEntry[] {
  const entries: ProjectEntry[] = [];
  const seen = new Set<string>();
  eachLine(contents, (start, end, line) => {
    let nameStart = skipSpace(contents, start, end);
    if (contents.subarray(nameStart, nameStart + EXPORT.length).equals(EXPORT) && isSpace(contents[nameStart + EXPORT.length]!)) {
      nameStart = skipSpace(contents, nameStart + EXPORT.length, end);
    }
    const eq = contents.subarray(nameStart, end).indexOf(EQUALS);
    if (eq < 0) return;
    const variable = contents.toString('latin1', nameStart, trimEnd(contents, nameStart, nameStart + eq));
    if (!isVariableName(variable) || seen.has(variable)) return;
    let valueStart = skipSpace(contents, nameStart + eq + 1, end);
    let valueEnd = trimEnd(contents, valueStart, end);
    const first = contents[valueStart]!;
    if (valueEnd - valueStart >= 2 && QUOTES.includes(first) && contents[valueEnd - 1] === first) {
      valueStart++;
      valueEnd--;
    }
    const written = copy(contents, valueStart, valueEnd);
    if (written.length === 0) return;
    if (!isPathComponent(written)) {
      refused?.push({ variable, written, file, line, why: 'is not one path component (no \'/\', not \'.\' or \'..\', no NUL)' });
      return;
    }
    seen.add(variable);
    entries.push({ variable, value: written, written, file, line });
  });
  return entries;
}

type Toml = Record<string, unknown>;

function isTable(v: unknown): v is Toml {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The line where `key` is set in `table` (`[tools]` … `go = …`, or `tools.go = …`); 1 when not found by this simple scan. */
function tomlLine(text: string, table: string, key: string): number {
  const lines = text.split('\n');
  const esc = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const keyAt = new RegExp(`^\\s*(?:${table}\\s*\\.\\s*)?(?:${esc}|"${esc}"|'${esc}')\\s*=`);
  let current = '';
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[\s*([^\]]*?)\s*\]/.exec(lines[i]!);
    if (header !== null) current = header[1]!;
    else if ((current === table || (current === '' && lines[i]!.trimStart().startsWith(table))) && keyAt.test(lines[i]!)) return i + 1;
  }
  return 1;
}

/** The versions a mise `[tools]` value gives: a string (several separated by spaces), an array, `{ version = … }`. */
function miseVersions(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter((w) => w !== '');
  if (Array.isArray(v)) return v.flatMap(miseVersions);
  if (isTable(v) && typeof v.version === 'string') return miseVersions(v.version);
  return [];
}

/**
 * Parses a mise configuration file (`mise.toml`, …) with a TOML library: `[tools]` entries as
 * `.tool-versions` lines (a tool's versions in order; `golang` and `go` are one variable, the last
 * wins, as in mise), then `[env]` string values as variables, which win over `[tools]` (they name the
 * variable itself); as in the own file, an `[env]` value that is not one path component is refused and
 * added to `refused`. Values holding mise templates (`{{…}}`) are skipped (varsymfs does not render
 * them). A file that is not valid TOML gives nothing (mise refuses it).
 */
export function parseMiseToml(contents: Buffer, file = 'mise.toml', refused?: Refusal[]): ProjectEntry[] {
  let doc: Toml;
  const text = contents.toString('utf8').replace(/^\ufeff/, '');
  try {
    doc = parseToml(text) as Toml;
  } catch {
    return [];
  }
  const entries: ProjectEntry[] = [];
  if (isTable(doc.tools)) {
    for (const [tool, v] of Object.entries(doc.tools)) {
      const variable = toolVariable(tool);
      const versions = miseVersions(v);
      // mise renders a template before it splits the string: which version comes first is unknown (and
      // `{{ env.GO }}` would split into words), so a value holding one is ignored whole.
      if (variable === undefined || versions.some((w) => w.includes('{{'))) continue;
      const words = versions.filter((w) => !w.includes('\0')).map((w) => Buffer.from(w));
      if (words.length === 0) continue;
      entries.push(entryOf(variable, words[0]!, file, tomlLine(text, 'tools', tool), words));
    }
  }
  if (isTable(doc.env)) {
    for (const [name, v] of Object.entries(doc.env)) {
      if (!isVariableName(name) || typeof v !== 'string' || v === '' || v.includes('{{')) continue;
      const value = Buffer.from(v);
      if (!isPathComponent(value)) {
        // The own file's rule: a value becomes part of a path, so it may not climb out of the link's tree.
        refused?.push({ variable: name, written: value, file, line: tomlLine(text, 'env', name), why: 'is not one path component (no \'/\', not \'.\' or \'..\', no NUL)' });
        continue;
      }
      entries.push(entryOf(name, value, file, tomlLine(text, 'env', name), [], [], value));
    }
  }
  return lastWins(entries);
}

/** Parses one project file by its rule. */
export function parseProjectFile(rule: ProjectFileRule, contents: Buffer, refused?: Refusal[]): ProjectEntry[] {
  switch (rule.format) {
    case 'assignments':
      return parseAssignments(contents, rule.file, refused);
    case 'tool-versions':
      return parseToolVersions(contents, rule.file);
    case 'mise-toml':
      return parseMiseToml(contents, rule.file, refused);
    case 'one-value': {
      const entry = parseOneValueFile(contents, rule.file, rule.variable);
      return entry === undefined ? [] : [entry];
    }
  }
}

/** The contents of a file in one directory; undefined when it is absent or the caller cannot read it. */
export type FileLookup = (file: string) => Buffer | undefined;

/**
 * What one directory answers: each variable its project files name, by the precedence of `rules`
 * (earlier rules first). A deferring entry (value undefined) counts as an answer: it hides the files
 * below it and the directories above. Each file is read once.
 */
export function directoryEntries(read: FileLookup, rules: readonly ProjectFileRule[] = BUILTIN_PROJECT_FILES, refused?: Refusal[]): Map<string, ProjectEntry> {
  const table = new Map<string, ProjectEntry>();
  const contents = new Map<string, Buffer | undefined>();
  for (const rule of rules) {
    if (!contents.has(rule.file)) contents.set(rule.file, read(rule.file));
    const bytes = contents.get(rule.file);
    if (bytes === undefined) continue;
    for (const entry of parseProjectFile(rule, bytes, refused)) {
      if (!table.has(entry.variable)) table.set(entry.variable, entry);
    }
  }
  return table;
}

/** A directory on the walk: its path (as the caller sees it) and a way to read its project files. */
export interface ProjectDirectory {
  readonly path: Buffer;
  readonly read: FileLookup;
}

/** A project answer: the entry, and the directory of the file that gave it. */
export interface ProjectAnswer extends ProjectEntry {
  readonly dir: Buffer;
}

/**
 * The file names to look for in each directory on the walk, each once, in precedence order; with
 * `variable`, only those that can answer it.
 */
export function projectFileNames(rules: readonly ProjectFileRule[] = BUILTIN_PROJECT_FILES, variable?: string): string[] {
  const names = new Set<string>();
  for (const rule of rules) {
    if (variable === undefined || rule.format !== 'one-value' || rule.variable === variable) names.add(rule.file);
  }
  return [...names];
}

/** Where an answer came from, for a person: `/srv/you/proj/.tool-versions:3`, and the lines it overrides. */
export function projectSource(answer: ProjectAnswer): string {
  const dir = answer.dir.toString();
  const overrides = answer.overrides === undefined ? '' : ` (the last line naming it: overrides line${answer.overrides.length > 1 ? 's' : ''} ${answer.overrides.join(', ')})`;
  return `${dir}${dir.endsWith('/') ? '' : '/'}${answer.file}:${answer.line}${overrides}`;
}

/** The built-in rules plus `extra` mappings (from `--project-file`), without repeats. */
export function projectFileRules(extra: readonly OneValueRule[] = []): readonly ProjectFileRule[] {
  const rules: ProjectFileRule[] = [...BUILTIN_PROJECT_FILES];
  const key = (r: OneValueRule) => `${r.file}\0${r.variable}`;
  const seen = new Set(rules.filter((r): r is OneValueRule => r.format === 'one-value').map(key));
  for (const rule of extra) {
    if (seen.has(key(rule))) continue;
    seen.add(key(rule));
    rules.push(rule);
  }
  return Object.freeze(rules);
}

/** Shows user input on one line, control characters escaped. */
function quoted(s: string): string {
  return `'${s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

/**
 * Parses a `--project-file FILE=VARIABLE` argument: FILE, one file name, then holds a version for
 * VARIABLE (split at the last `=`, as a variable name has none). Throws a one-line VarsymfsError.
 */
export function parseProjectFileMapping(arg: string): OneValueRule {
  const eq = arg.lastIndexOf('=');
  const bad = (why: string) => new VarsymfsError(`invalid --project-file ${quoted(arg)}: ${why}`, { exitCode: 2 });
  if (eq < 0) throw bad('expected FILE=VARIABLE, e.g. .bun-version=BUN_VERSION');
  const file = arg.slice(0, eq);
  const variable = arg.slice(eq + 1);
  if (!isVariableName(variable)) throw bad(`VARIABLE ${quoted(variable)} must match [A-Za-z_][A-Za-z0-9_]*`);
  if (file === '' || file === '.' || file === '..' || file.includes('/') || file.includes('\0')) {
    throw bad(`FILE ${quoted(file)} must be one file name (no '/', not '.' or '..')`);
  }
  if (file === OWN_FILE || file === TOOL_VERSIONS_FILE || MISE_FILES.includes(file)) throw bad(`${file} has its own format and needs no mapping`);
  return oneValue(file, variable);
}

/** A project file the daemon found on a caller's walk (native.ts decodes them from the hook's block). */
export interface FoundFile {
  /** 0: the working directory, 1: its parent, … */
  readonly depth: number;
  /** Its name's index in the names the daemon looked for (projectFileNames of the mount's rules). */
  readonly name: number;
  /** 'read', or why it counts as absent ('not trusted', 'writable by others': see docs/security.md). */
  readonly status: string;
  /** 'not trusted', 'writable by others': the owner that made it so. */
  readonly owner?: number;
  readonly dir: Buffer;
  readonly contents: Buffer;
}

/** The walk's directories, nearest first, from the files found (directories without any are left out). */
export function foundDirectories(files: readonly FoundFile[], names: readonly string[]): ProjectDirectory[] {
  const byDepth = new Map<number, { path: Buffer; files: Map<string, Buffer> }>();
  for (const f of files) {
    let dir = byDepth.get(f.depth);
    if (dir === undefined) byDepth.set(f.depth, (dir = { path: f.dir, files: new Map() }));
    const name = names[f.name];
    if (name !== undefined && f.status === 'read') dir.files.set(name, f.contents);
  }
  return [...byDepth.entries()].sort(([a], [b]) => a - b).map(([, d]) => ({ path: d.path, read: (file: string) => d.files.get(file) }));
}

/** Looks variables up in the project files found: the nearest directory naming one answers it. */
export function projectLookup(files: readonly FoundFile[], names: readonly string[], rules: readonly ProjectFileRule[]): (variable: string) => { value: Buffer | undefined; source: string; versions?: readonly Buffer[] } | undefined {
  const dirs = foundDirectories(files, names);
  const tables = dirs.map((d) => ({ path: d.path, table: directoryEntries(d.read, rules) }));
  return (variable) => {
    for (const { path, table } of tables) {
      const entry = table.get(variable);
      if (entry !== undefined) return { value: entry.value, source: projectSource({ ...entry, dir: path }), ...(entry.versions !== undefined ? { versions: entry.versions } : {}) };
    }
    return undefined;
  };
}

/** What the walk found but did not use, for `resolve --explain`: files not trusted, values refused. */
export function projectSkipped(files: readonly FoundFile[], names: readonly string[], rules: readonly ProjectFileRule[]): Array<{ readonly kind: 'skipped' | 'refused'; readonly text: string }> {
  const out: Array<{ kind: 'skipped' | 'refused'; text: string }> = [];
  const where = (dir: Buffer, file: string) => `${dir.toString()}${dir.toString().endsWith('/') ? '' : '/'}${file}`;
  for (const f of [...files].sort((a, b) => a.depth - b.depth)) {
    if (f.status === 'not trusted') out.push({ kind: 'skipped', text: `${where(f.dir, names[f.name] ?? '?')}: not trusted (owner uid ${f.owner ?? '?'})` });
    if (f.status === 'writable by others') out.push({ kind: 'skipped', text: `${where(f.dir, names[f.name] ?? '?')}: not trusted (writable by its group or others; owner uid ${f.owner ?? '?'})` });
  }
  for (const dir of foundDirectories(files, names)) {
    const refused: Refusal[] = [];
    directoryEntries(dir.read, rules, refused);
    for (const r of refused) out.push({ kind: 'refused', text: `${where(dir.path, r.file)}:${r.line}: ${r.variable} ${r.why}: ${JSON.stringify(r.written.toString('latin1'))}` });
  }
  return out;
}
