// How the CLI looks at mounts: which varsymfs mount holds a path, asking its daemon, and what each path
// on a walk is (src/linkwalk.ts), with the daemon's own explanation of every variant link on the way.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkSocketDir, printable, request, type Reply, type Request as ControlRequest, type Answers } from './control';
import { VarsymfsError } from './errors';
import type { Entry } from './linkwalk';
import { FS_TYPE, readMounts, type MountEntry } from './mountinfo';
import { socketPath } from './paths';

/** The varsymfs mount holding `file` (the longest mount point that is a prefix of it). */
export function mountOf(file: string, mounts: readonly MountEntry[] = readMounts()): { mount: MountEntry; rel: string } {
  const abs = path.resolve(file);
  let best: MountEntry | undefined;
  for (const m of mounts) {
    if (m.fsType !== FS_TYPE) continue;
    if ((abs === m.mountPoint || abs.startsWith(m.mountPoint === '/' ? '/' : m.mountPoint + '/')) && (!best || m.mountPoint.length > best.mountPoint.length)) best = m;
  }
  if (!best) throw new VarsymfsError(`${abs} is not inside a varsymfs mount`);
  return { mount: best, rel: abs.slice(best.mountPoint.length) || '/' };
}

/** The varsymfs mounts of this user (dead ones too: they are in mountinfo). */
export function userMounts(mounts: readonly MountEntry[] = readMounts()): MountEntry[] {
  const uid = process.getuid?.() ?? 0;
  return mounts.filter((m) => m.fsType === FS_TYPE && m.superOptions.split(',').includes(`user_id=${uid}`));
}

/** Asks the daemon of `mountPoint`; a dead or unreachable daemon is one clear error. */
export async function ask<R extends ControlRequest>(mountPoint: string, req: R): Promise<Extract<Reply<R['cmd']>, { ok: true }>> {
  let r: Reply<R['cmd']>;
  const socket = socketPath(mountPoint);
  checkSocketDir(path.dirname(socket));
  try {
    r = await request(socket, req);
  } catch (err) {
    throw new VarsymfsError(`the daemon of ${mountPoint} does not answer (${(err as Error).message}); see \`varsymfs status\``, { cause: err });
  }
  if (!r.ok) throw new VarsymfsError(printable(r.error));
  return r as Extract<Reply<R['cmd']>, { ok: true }>;
}

export type ResolveAnswer = Extract<Reply<'resolve'>, { ok: true }> & Answers['resolve'];

/** Answers walkLinks for process `pid`: lstat through the mounts, the daemon for a link in a mount. */
export class LinkInspector {
  /** The daemon's explanation of each link in a varsymfs mount the walk met, by its path. */
  readonly answers = new Map<string, ResolveAnswer>();
  private readonly mounts = readMounts();
  constructor(private readonly pid: number) {}

  readonly look = async (abs: string): Promise<Entry> => {
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? { kind: 'missing' } : { kind: 'missing', reason: `${abs} cannot be looked at (${code ?? (err as Error).message})` };
    }
    if (st.isDirectory()) return { kind: 'directory' };
    if (!st.isSymbolicLink()) return { kind: 'other' };
    let inMount;
    try {
      inMount = mountOf(abs, this.mounts);
    } catch {
      const target = await fs.promises.readlink(abs);
      return { kind: 'link', raw: target, target, variant: false };
    }
    const r = (await ask(inMount.mount.mountPoint, { cmd: 'resolve', path: inMount.rel, pid: this.pid })) as ResolveAnswer;
    this.answers.set(abs, r);
    return { kind: 'link', raw: r.raw, target: r.target, variant: r.variant };
  };
}
