// `varsymfs setup`: installs the exec-env helper (built by `npm ci` into src/binding/build) at a stable
// system path, owned by root and writable by root only, with the file capability CAP_SYS_PTRACE (as
// fusermount is installed setuid); `--remove` undoes it. Never inside node_modules, which `npm ci` replaces.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VarsymfsError } from './errors';
import { readMounts } from './mountinfo';
import { INSTALLED_HELPER } from './pendingexec';
import { findProgram, isRoot } from './system';

export const HELPER_DIR = path.dirname(INSTALLED_HELPER);
const HELPER_NAME = path.basename(INSTALLED_HELPER);
/** Where `npm ci` builds the helper. */
export const BUILT_HELPER = path.resolve(__dirname, '..', '..', 'src', 'binding', 'build', HELPER_NAME);

function requireRoot(what: string): void {
  if (!isRoot()) throw new VarsymfsError(`${what} must run as root: sudo varsymfs setup${what.includes('remove') ? ' --remove' : ''}`);
}

/** Creates `dir` (0755) as needed; every directory on the way must be root's and writable by root only (or sticky). */
function ensureRootDirectory(dir: string): void {
  let at = '/';
  for (const part of dir.split('/').filter(Boolean)) {
    at = path.join(at, part);
    if (!fs.existsSync(at)) {
      fs.mkdirSync(at);
      fs.chmodSync(at, 0o755);
    }
    const st = fs.lstatSync(at);
    if (!st.isDirectory()) throw new VarsymfsError(`${at} is not a directory`);
    if (st.uid !== 0 || ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)) {
      throw new VarsymfsError(`${at} is not owned by root, or others than root can change it: the helper must live where only root can replace it`);
    }
  }
}

/** The mount holding `dir` must honour file capabilities (they are ignored on nosuid mounts). */
function checkNotNosuid(dir: string): void {
  let best: { mountPoint: string; options: string } | undefined;
  for (const m of readMounts()) {
    if ((dir === m.mountPoint || dir.startsWith(m.mountPoint === '/' ? '/' : m.mountPoint + '/')) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  if (best && best.options.split(',').includes('nosuid')) {
    throw new VarsymfsError(`${dir} is on a nosuid mount (${best.mountPoint}), where file capabilities are ignored; choose another directory`);
  }
}

/** Installs the helper into `dir`; returns its path. */
export function installHelper(dir = HELPER_DIR): string {
  requireRoot('setup');
  dir = path.resolve(dir);
  if (dir.split('/').includes('node_modules')) throw new VarsymfsError(`${dir} is inside node_modules, which npm replaces; choose a system directory`);
  if (!fs.existsSync(BUILT_HELPER)) throw new VarsymfsError(`the exec-env helper is not built (${BUILT_HELPER} is missing): run npm ci in the varsymfs directory`);
  const setcap = findProgram('setcap');
  if (setcap === undefined) throw new VarsymfsError('setcap is not installed: apt-get install libcap2-bin');
  ensureRootDirectory(dir);
  checkNotNosuid(dir);
  const target = path.join(dir, HELPER_NAME);
  // Prepared under a temporary name and renamed into place, so the path never names a half-made helper.
  const temp = path.join(dir, `.${HELPER_NAME}.${process.pid}`);
  fs.rmSync(temp, { force: true });
  try {
    fs.copyFileSync(BUILT_HELPER, temp, fs.constants.COPYFILE_EXCL);
    fs.chownSync(temp, 0, 0);
    fs.chmodSync(temp, 0o755);
    const r = spawnSync(setcap, ['cap_sys_ptrace=ep', temp], { encoding: 'utf8' });
    if (r.status !== 0) throw new VarsymfsError(`setcap cap_sys_ptrace=ep failed in ${dir}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0]}`);
    fs.renameSync(temp, target);
  } finally {
    fs.rmSync(temp, { force: true });
  }
  return target;
}

/** Removes the helper from `dir` (and `dir` when empty); returns its path, or undefined if none was there. */
export function removeHelper(dir = HELPER_DIR): string | undefined {
  requireRoot('setup --remove');
  const target = path.join(path.resolve(dir), HELPER_NAME);
  if (!fs.existsSync(target)) return undefined;
  fs.rmSync(target);
  try {
    fs.rmdirSync(path.resolve(dir));
  } catch {
    // not empty: something else lives there
  }
  return target;
}
