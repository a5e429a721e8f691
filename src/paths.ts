// Where varsymfs keeps per-user files (XDG base directories). Pure given the environment passed in.
import * as os from 'node:os';
import * as path from 'node:path';

/** $XDG_STATE_HOME/varsymfs, default ~/.local/state/varsymfs: daemon logs. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(base, 'varsymfs');
}

/** A file name for a mount point: its path with every character outside [A-Za-z0-9._-] made '_'. */
export function mountFileName(mountPoint: string): string {
  return mountPoint.replace(/^\//, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
}

/** The daemon log of a mount point. */
export function logFile(mountPoint: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateDir(env), `${mountFileName(mountPoint)}.log`);
}
