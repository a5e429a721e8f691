// `varsymfs current [-C DIR]`: what runs here, for every tool at once: each variant link of each mount of
// this user, with its values, their scopes and files, the directory it leads to and whether that exists;
// then the project files a walk from DIR up considered, read or skipped and why.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VarsymfsError } from './errors';
import { ask, LinkInspector, userMounts, type ResolveAnswer } from './inspect';
import { walkLinks } from './linkwalk';
import { loadHelpers } from './native';
import { BUILTIN_PROJECT_FILES, projectFileNames } from './project';

export interface CurrentLink {
  /** The link's path, and its name inside the mount. */
  link: string;
  name: string;
  raw: string;
  target: string;
  /** The directory the target names, absolute. */
  path: string;
  exists: boolean;
  refs: ResolveAnswer['refs'];
}

export interface CurrentMount {
  mountPoint: string;
  links: CurrentLink[];
  /** Set when the daemon does not answer. */
  problem?: string;
}

export interface ProjectFileState {
  file: string;
  status: string;
}

export interface Current {
  directory: string;
  mounts: CurrentMount[];
  projectFiles: ProjectFileState[];
}

/**
 * How the project walk treats a file, from its stat (or the error of stat), the owner of the name itself
 * (a symlink's own owner, else the file's) and whether it can be read. `uid` and `gid` are the caller's:
 * the trust rule is the daemon's (docs/security.md, "Project files on a shared machine"); a mount's
 * `--trust-dir` is not known here, so a file under one is still listed as not trusted (nor is a FUSE
 * mount's mounter: such a file is judged by the owner it reports).
 */
export function projectFileStatus(st: fs.Stats | NodeJS.ErrnoException, readable: boolean, fileMax: number, uid?: number, linkOwner?: number, gid?: number): string | undefined {
  if (st instanceof Error) return st.code === 'ENOENT' || st.code === 'ENOTDIR' ? undefined : `skipped: unreadable (${st.code ?? st.message})`;
  if (!st.isFile()) return 'skipped: not a regular file';
  for (const owner of [linkOwner, st.uid]) {
    if (uid !== undefined && owner !== undefined && owner !== uid && owner !== 0) return `skipped: not trusted (owner uid ${owner}; only yours and root's count, or a mount's --trust-dir)`;
  }
  // Nor one others may write: o+w, or g+w unless it is the caller's own file in its own primary group.
  const groupOk = st.uid === uid && gid !== undefined && st.gid === gid;
  if (uid !== undefined && ((st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && !groupOk))) return `skipped: not trusted (writable by its group or others; owner uid ${st.uid})`;
  if (st.size > fileMax) return `skipped: larger than ${fileMax} bytes`;
  return readable ? 'read' : 'skipped: unreadable';
}

/** Every symlink in the mount down to `depth` levels (links and their targets are not entered). */
async function symlinksUnder(dir: string, depth: number): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch {
    return []; // unreadable to this user: nothing it could run from there either
  }
  const found: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink()) found.push(p);
    else if (e.isDirectory() && depth > 1) found.push(...(await symlinksUnder(p, depth - 1)));
  }
  return found;
}

async function mountLinks(mountPoint: string, depth: number): Promise<CurrentMount> {
  const inspector = new LinkInspector(process.pid);
  const links: CurrentLink[] = [];
  try {
    for (const link of await symlinksUnder(mountPoint, depth)) {
      const walk = await walkLinks(link, inspector.look);
      const r = inspector.answers.get(link);
      if (r === undefined || !r.variant) continue;
      links.push({ link, name: path.relative(mountPoint, link), raw: r.raw, target: r.target, path: path.resolve(path.dirname(link), r.target), exists: walk.exists, refs: r.refs });
    }
  } catch (err) {
    return { mountPoint, links, problem: (err as Error).message };
  }
  return { mountPoint, links };
}

/** The project files a caller in `directory` has considered, nearest first. */
function projectFiles(directory: string, names: readonly string[], fileMax: number): ProjectFileState[] {
  const out: ProjectFileState[] = [];
  for (let dir = directory; ; dir = path.dirname(dir)) {
    for (const name of names) {
      const file = path.join(dir, name);
      let st: fs.Stats | NodeJS.ErrnoException;
      try {
        st = fs.statSync(file);
      } catch (err) {
        st = err as NodeJS.ErrnoException;
      }
      let readable = true;
      try {
        fs.accessSync(file, fs.constants.R_OK);
      } catch {
        readable = false;
      }
      let linkOwner: number | undefined;
      try {
        linkOwner = fs.lstatSync(file).uid;
      } catch {
        linkOwner = undefined;
      }
      const status = projectFileStatus(st, readable, fileMax, process.geteuid!(), linkOwner, process.getegid!());
      if (status !== undefined) out.push({ file, status });
    }
    if (dir === '/') return out;
  }
}

const MOUNT_DEADLINE_MS = 5000;

/** Set when a mount missed its deadline: its request may never end, and must not keep this process alive. */
let stalled = false;

function withDeadline(work: Promise<CurrentMount>, late: CurrentMount): Promise<CurrentMount> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => ((stalled = true), resolve(late)), MOUNT_DEADLINE_MS);
    void work.then((m) => (clearTimeout(timer), resolve(m)));
  });
}

/** Gathers what runs in `directory` (this process moves there: the daemons read its working directory). */
export async function gatherCurrent(directory: string | undefined, depth: number): Promise<Current> {
  const dir = path.resolve(directory ?? '.');
  try {
    process.chdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VarsymfsError(`-C ${dir}: ${code === 'ENOENT' ? `${dir} does not exist` : code === 'ENOTDIR' ? 'not a directory' : `cannot enter it (${code})`}`);
  }
  const mounts = await Promise.all(userMounts().map((m) => withDeadline(mountLinks(m.mountPoint, depth), { mountPoint: m.mountPoint, links: [], problem: `no answer within ${MOUNT_DEADLINE_MS / 1000} s (a stalled daemon, or a stalled filesystem in its store)` })));
  // A dead daemon gives no names: its mount already says so.
  const asked = await Promise.all(userMounts().map((m) => ask(m.mountPoint, { cmd: 'status' }).then((r) => r.project.files, () => [])));
  const names = new Set(asked.flat());
  const fileNames = names.size > 0 ? [...names] : projectFileNames(BUILTIN_PROJECT_FILES);
  return { directory: dir, mounts, projectFiles: projectFiles(dir, fileNames, loadHelpers().layout.project.fileMax) };
}

/** Rows of columns, each column as wide as its widest cell. */
function table(rows: string[][], indent = '  '): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return rows.map((r) => (indent + r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).trimEnd());
}

/** The human-readable report. */
export function formatCurrent(c: Current): string {
  const out: string[] = [];
  if (c.mounts.length === 0) out.push('no varsymfs mounts of this user');
  for (const m of c.mounts) {
    out.push(m.mountPoint);
    if (m.problem !== undefined) out.push(`  ${m.problem}`);
    else if (m.links.length === 0) out.push('  no variant links');
    out.push(...table(m.links.map((l) => [
      l.name,
      l.refs.map((r) => (r.scope === 'unresolved' ? r.name : `${r.name}=${r.value}`)).join(' '),
      [...new Set(l.refs.map((r) => r.scope))].join(', '),
      l.refs.map((r) => r.file ?? '').filter((f) => f !== '').join(' '),
      l.path,
      l.exists ? '' : 'NOT INSTALLED',
    ])));
  }
  out.push(`project files, from ${c.directory} up`);
  if (c.projectFiles.length === 0) out.push('  none');
  out.push(...table(c.projectFiles.map((f) => [f.file, f.status])));
  return out.join('\n') + '\n';
}

export async function currentCommand(o: { directory?: string; json?: boolean; depth: number }): Promise<void> {
  const c = await gatherCurrent(o.directory, o.depth);
  process.stdout.write(o.json ? JSON.stringify(c, null, 2) + '\n' : formatCurrent(c));
  // A stalled mount's readdir holds a thread that may never return: leave once the report is out.
  if (stalled) process.stdout.write('', () => process.exit(process.exitCode ?? 0));
}
