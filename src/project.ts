// Project files: the versions a project asks for (`.tool-versions`, `.nvmrc`, …) and varsymfs's own
// `NAME=VALUE` file, found by walking up from a caller's working directory. Pure: the caller reads the
// files (as the caller) and passes their bytes in; values come back as bytes, never decoded.
// The rules are described for users in docs/project-files.md.
import { VarsymfsError } from './errors';
import { isVariableName } from './names';

/** varsymfs's own project file: `NAME=VALUE` lines, for any variable. */
export const OWN_FILE = '.varsymfs-env';

/** asdf's and mise's multi-tool file: `tool version [version…]` lines. */
export const TOOL_VERSIONS_FILE = '.tool-versions';

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
  | OneValueRule;

function oneValue(file: string, variable: string): OneValueRule {
  return Object.freeze({ file, format: 'one-value', variable });
}

/**
 * The files understood without configuration, in precedence order inside one directory: the own file
 * (written for varsymfs, so it is the most deliberate), then `.tool-versions`, then the one-value files
 * (asdf reads `.tool-versions` before a plugin's legacy files too; `.nvmrc` before `.node-version` is the
 * order of asdf-nodejs and mise).
 */
export const BUILTIN_PROJECT_FILES: readonly ProjectFileRule[] = Object.freeze([
  Object.freeze({ file: OWN_FILE, format: 'assignments' as const }),
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
}

const SLASH = 0x2f;
const COLON = 0x3a;
const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');
const SYSTEM = Buffer.from('system');
const REF = Buffer.from('ref:');
const REF_DIR = Buffer.from('ref-');

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
 * `ref-X` for `ref:X` (the directory asdf and mise install a git ref into); undefined — the project
 * defers to the mount defaults — for `system` and for anything that is not one plain path component:
 * `path:DIR`, mise's `prefix:`/`sub-1:` and other directives, nvm's `lts/*`.
 */
export function versionValue(written: Buffer): Buffer | undefined {
  if (written.equals(SYSTEM)) return undefined;
  if (written.subarray(0, REF.length).equals(REF)) {
    const ref = written.subarray(REF.length);
    return isPlainVersion(ref) ? Buffer.concat([REF_DIR, ref]) : undefined;
  }
  return isPlainVersion(written) ? written : undefined;
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
 * blank lines. The first version of a line is the one used (asdf would try the others only when it is
 * not installed); the first line naming a variable wins; a tool that makes no valid variable is skipped.
 */
export function parseToolVersions(contents: Buffer, file = TOOL_VERSIONS_FILE): ProjectEntry[] {
  const entries: ProjectEntry[] = [];
  const seen = new Set<string>();
  eachLine(contents, (start, end, line) => {
    const stop = commentStart(contents, start, end);
    const toolStart = skipSpace(contents, start, stop);
    const toolEnd = skipWord(contents, toolStart, stop);
    const versionStart = skipSpace(contents, toolEnd, stop);
    if (versionStart === stop) return;
    const variable = toolVariable(contents.toString('latin1', toolStart, toolEnd));
    if (variable === undefined || seen.has(variable)) return;
    seen.add(variable);
    const written = copy(contents, versionStart, skipWord(contents, versionStart, stop));
    entries.push({ variable, value: versionValue(written), written, file, line });
  });
  return entries;
}

/**
 * Parses a one-value file (`.nvmrc`, `.python-version`, …): the first word of the first line that has
 * one, `#` starting a comment; further words and lines (pyenv's extra versions) are not used.
 */
export function parseOneValueFile(contents: Buffer, file: string, variable: string): ProjectEntry | undefined {
  let entry: ProjectEntry | undefined;
  eachLine(contents, (start, end, line) => {
    const stop = commentStart(contents, start, end);
    const wordStart = skipSpace(contents, start, stop);
    if (wordStart === stop) return false;
    const written = copy(contents, wordStart, skipWord(contents, wordStart, stop));
    entry = { variable, value: versionValue(written), written, file, line };
    return true;
  });
  return entry;
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

/** Parses one project file by its rule. */
export function parseProjectFile(rule: ProjectFileRule, contents: Buffer, refused?: Refusal[]): ProjectEntry[] {
  switch (rule.format) {
    case 'assignments':
      return parseAssignments(contents, rule.file, refused);
    case 'tool-versions':
      return parseToolVersions(contents, rule.file);
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
 * The project answer for `variable`: the first directory (nearest first) whose files name it. Stops
 * at that directory, so `dirs` may be lazy. undefined: no project file names it. An answer whose value
 * is undefined means the project defers: resolution goes on with the mount defaults.
 */
export function findProjectValue(variable: string, dirs: Iterable<ProjectDirectory>, rules: readonly ProjectFileRule[] = BUILTIN_PROJECT_FILES): ProjectAnswer | undefined {
  for (const dir of dirs) {
    const entry = directoryEntries(dir.read, rules).get(variable);
    if (entry !== undefined) return { ...entry, dir: dir.path };
  }
  return undefined;
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

/**
 * The directories of the walk for working directory `cwd`: itself, its parent, …, `/`. A path that is
 * not absolute (an unreachable working directory) has none.
 */
export function walkDirectories(cwd: Buffer): Buffer[] {
  if (cwd[0] !== SLASH) return [];
  const dirs: Buffer[] = [];
  let end = cwd.length;
  for (;;) {
    while (end > 1 && cwd[end - 1] === SLASH) end--;
    dirs.push(cwd.subarray(0, end));
    if (end === 1) return dirs;
    end = Math.max(cwd.lastIndexOf(SLASH, end - 1), 1);
  }
}

/** Where an answer came from, for a person: `/srv/you/proj/.tool-versions:3`. */
export function projectSource(answer: ProjectAnswer): string {
  const dir = answer.dir.toString();
  return `${dir}${dir.endsWith('/') ? '' : '/'}${answer.file}:${answer.line}`;
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
  if (file === OWN_FILE || file === TOOL_VERSIONS_FILE) throw bad(`${file} has its own format and needs no mapping`);
  return oneValue(file, variable);
}

/** A project file the daemon found on a caller's walk (native.ts decodes them from the hook's block). */
export interface FoundFile {
  /** 0: the working directory, 1: its parent, … */
  readonly depth: number;
  /** Its name's index in the names the daemon looked for (projectFileNames of the mount's rules). */
  readonly name: number;
  /** 'read', or why it counts as absent ('not trusted': see docs/security.md). */
  readonly status: string;
  /** 'not trusted': the owner that made it so. */
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
export function projectLookup(files: readonly FoundFile[], names: readonly string[], rules: readonly ProjectFileRule[]): (variable: string) => { value: Buffer | undefined; source: string } | undefined {
  const dirs = foundDirectories(files, names);
  const tables = dirs.map((d) => ({ path: d.path, table: directoryEntries(d.read, rules) }));
  return (variable) => {
    for (const { path, table } of tables) {
      const entry = table.get(variable);
      if (entry !== undefined) return { value: entry.value, source: projectSource({ ...entry, dir: path }) };
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
  }
  for (const dir of foundDirectories(files, names)) {
    const refused: Refusal[] = [];
    directoryEntries(dir.read, rules, refused);
    for (const r of refused) out.push({ kind: 'refused', text: `${where(dir.path, r.file)}:${r.line}: ${r.variable} ${r.why}: ${JSON.stringify(r.written.toString('latin1'))}` });
  }
  return out;
}
