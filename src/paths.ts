// Where varsymfs keeps per-user files (XDG base directories). Pure given the environment passed in.
import { createHash } from 'node:crypto';
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

/**
 * $XDG_RUNTIME_DIR/varsymfs, or /tmp/varsymfs-<uid> when XDG_RUNTIME_DIR is unset (root shells, su):
 * the control sockets. Created 0700 by the daemon.
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR)) return path.join(env.XDG_RUNTIME_DIR, 'varsymfs');
  return path.join(os.tmpdir(), `varsymfs-${uid}`);
}

/** The control socket of a mount point (hashed: socket paths are limited to 107 bytes). */
export function socketPath(mountPoint: string, env: NodeJS.ProcessEnv = process.env, uid?: number): string {
  const hash = createHash('sha256').update(mountPoint).digest('hex').slice(0, 20);
  return path.join(runtimeDir(env, uid), `${hash}.sock`);
}
