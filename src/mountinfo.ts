// /proc/self/mountinfo: which directories are mount points, and of what. The parser is pure.
import { readFileSync } from 'node:fs';

export interface MountEntry {
  readonly mountId: number;
  /** The superblock's device, `major:minor` (a FUSE connection's fusectl directory is named by it). */
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  readonly options: string;
  /** Per-superblock options (for FUSE: user_id=, group_id=, allow_other, ...). */
  readonly superOptions: string;
}

/** Undoes mountinfo's octal escapes (\040 for a space, \011, \012, \134). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses the text of /proc/<pid>/mountinfo (see proc(5)). */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 3) continue; // a blank or malformed line
    entries.push({
      mountId: Number(fields[0]),
      device: fields[2]!,
      mountPoint: unescape(fields[4]!),
      options: fields[5]!,
      fsType: fields[sep + 1]!,
      source: unescape(fields[sep + 2]!),
      superOptions: fields[sep + 3] ?? '',
    });
  }
  return entries;
}

/** The mounts of this process's mount namespace (never touches a mount, only /proc). */
export function readMounts(): MountEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The topmost mount at `dir`, if `dir` is a mount point. */
export function mountAt(dir: string, mounts: readonly MountEntry[] = readMounts()): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const m of mounts) if (m.mountPoint === dir) found = m;
  return found;
}

/** The directory name fusectl gives a FUSE mount's connection: the kernel's dev_t of its superblock. */
export function connectionName(m: Pick<MountEntry, 'device'>): string | undefined {
  const d = /^(\d+):(\d+)$/.exec(m.device);
  return d === null ? undefined : String(Number(d[1]) * 2 ** 20 + Number(d[2]));
}

export const FS_TYPE = 'fuse.varsymfs';
