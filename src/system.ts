// The host facts a mount depends on (/dev/fuse, fusermount, libfuse2) and the external commands varsymfs
// runs to unmount. Checked before mounting, so that each failure is one clear line.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VarsymfsError } from './errors';
import { loadFuse, loadHelpers } from './native';

export const isRoot = (): boolean => process.geteuid?.() === 0;

/** The first executable `name` on PATH (plus the sbin directories, where umount lives). */
export function findProgram(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...envPath.split(':'), '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** fusermount3 or fusermount, whichever is installed. */
export function findFusermount(): string | undefined {
  return findProgram('fusermount3') ?? findProgram('fusermount');
}

/** Throws a one-line VarsymfsError when this machine cannot mount FUSE for this user. */
export function preflight(opts: { allowOther: boolean }): void {
  loadFuse(); // libfuse2 missing, or the binding not built: says which
  loadHelpers();
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new VarsymfsError('/dev/fuse does not exist: load the module with `modprobe fuse` (in a container, pass the device in with --device /dev/fuse)');
    throw new VarsymfsError('/dev/fuse is not accessible to this user: make it mode 0666 (`chmod 666 /dev/fuse`, as most distributions ship it)');
  }
  if (!isRoot()) {
    if (findFusermount() === undefined) {
      throw new VarsymfsError('fusermount is not installed (a normal user needs it to mount): install it with `apt-get install fuse3`');
    }
    if (opts.allowOther && !/^\s*user_allow_other\b/m.test(readOr('/etc/fuse.conf', ''))) {
      throw new VarsymfsError("--allow-other needs 'user_allow_other' in /etc/fuse.conf (ask root to add that line)");
    }
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** Runs a program without a shell; resolves with its exit code and stderr (never touches our own mount). */
export function runProgram(file: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => resolve({ code: 127, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stderr: stderr.trim() }));
  });
}

/** Unmounts a FUSE mount: fusermount -u (any user), or umount(8) as root when fusermount is missing. */
export async function unmountFuse(mountPoint: string, lazy: boolean): Promise<{ code: number; stderr: string }> {
  const fusermount = findFusermount();
  if (fusermount !== undefined) return runProgram(fusermount, ['-u', ...(lazy ? ['-z'] : []), '--', mountPoint]);
  const umount = findProgram('umount');
  if (umount !== undefined && isRoot()) return runProgram(umount, [...(lazy ? ['-l'] : []), mountPoint]);
  return { code: 127, stderr: 'fusermount is not installed: install it with `apt-get install fuse3`' };
}
