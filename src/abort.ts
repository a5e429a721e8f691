// Aborting a FUSE connection through fusectl (/sys/fs/fuse/connections/<dev>/abort), as `fusermount -u`
// cannot: a daemon killed while one of its threads waited on another, hung FUSE server stays a zombie that
// holds the connection, so nothing answers its requests and whatever waits on them keeps the mount busy.
// Aborting fails every pending and future request (ECONNABORTED); the mount can then be unmounted.
import * as fs from 'node:fs';
import { request } from './control';
import { connectionName, readMounts, type MountEntry } from './mountinfo';
import { socketPath } from './paths';
import { runProgram, findProgram, isRoot } from './system';

const CONNECTIONS = '/sys/fs/fuse/connections';

/** fusectl's directory of the connection behind mount `m`; mounts fusectl first when root and it is absent. */
async function connectionDir(m: MountEntry): Promise<string | undefined> {
  const name = connectionName(m);
  if (name === undefined) return undefined;
  if (!readMounts().some((x) => x.fsType === 'fusectl' && x.mountPoint === CONNECTIONS)) {
    const mountCmd = findProgram('mount');
    if (!isRoot() || mountCmd === undefined) return undefined;
    await runProgram(mountCmd, ['-t', 'fusectl', 'fusectl', CONNECTIONS]);
  }
  const dir = `${CONNECTIONS}/${name}`;
  return fs.existsSync(dir) ? dir : undefined;
}

/** Requests of mount `m` sent to its daemon and not answered yet (undefined: cannot tell). */
export async function waitingRequests(m: MountEntry): Promise<number | undefined> {
  const dir = await connectionDir(m);
  if (dir === undefined) return undefined;
  try {
    return Number(fs.readFileSync(`${dir}/waiting`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** Aborts the FUSE connection of mount `m`; undefined, or why it could not. */
export async function abortConnection(m: MountEntry): Promise<string | undefined> {
  const dir = await connectionDir(m);
  if (dir === undefined) return `fusectl is not mounted at ${CONNECTIONS}${isRoot() ? '' : ' (only root can mount it)'}`;
  try {
    fs.writeFileSync(`${dir}/abort`, '1');
    return undefined;
  } catch (err) {
    return `cannot abort its connection: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
}

/** A mount whose daemon does not answer its control socket (3 s) while requests wait on its connection. */
export async function daemonStuck(m: MountEntry): Promise<boolean> {
  if (!((await waitingRequests(m)) ?? 0)) return false;
  try {
    await request(socketPath(m.mountPoint), { cmd: 'status' }, 3000);
    return false;
  } catch {
    return true;
  }
}
