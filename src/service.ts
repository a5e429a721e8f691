// `varsymfs service install|remove`: a systemd *user* unit that mounts at login. It only writes (or
// removes) the unit file and prints the systemctl commands; it never runs systemctl itself.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VarsymfsError } from './errors';
import { mountFileName } from './paths';

/** ~/.config/systemd/user (or $XDG_CONFIG_HOME/systemd/user). */
export function unitDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'systemd', 'user');
}

export function unitName(mountPoint: string): string {
  return `varsymfs-${mountFileName(mountPoint)}.service`;
}

/** systemd's quoting for one ExecStart word. */
function quote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;
}

/** The unit text: runs `varsymfs mount --foreground` (SIGTERM unmounts cleanly), restarts on failure. */
export function unitText(mountPoint: string, mountArgs: readonly string[], bin: string, node = process.execPath): string {
  const exec = [node, bin, 'mount', '--foreground', mountPoint, ...mountArgs].map(quote).join(' ');
  return `# Written by \`varsymfs service install\`; remove with \`varsymfs service remove ${mountPoint}\`.
[Unit]
Description=varsymfs variant symlinks at ${mountPoint}
Documentation=file://${path.resolve(bin, '..', '..', 'docs', 'usage.md')}

[Service]
Type=simple
Environment=UV_THREADPOOL_SIZE=64
ExecStart=${exec}
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
`;
}

export function installUnit(mountPoint: string, mountArgs: readonly string[], bin: string): { file: string; name: string } {
  const dir = unitDir();
  const name = unitName(mountPoint);
  const file = path.join(dir, name);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, unitText(mountPoint, mountArgs, bin));
  } catch (err) {
    throw new VarsymfsError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { file, name };
}

export function removeUnit(mountPoint: string): { file: string; name: string } {
  const name = unitName(mountPoint);
  const file = path.join(unitDir(), name);
  if (!fs.existsSync(file)) throw new VarsymfsError(`no unit for ${mountPoint} (${file} does not exist)`);
  fs.rmSync(file);
  return { file, name };
}
