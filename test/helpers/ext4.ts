// A small real filesystem with root's reserved blocks, for tests of who writes are charged to.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onCleanup, tempDir } from './mount';
import { rootUser } from './users';

/** A fresh ext4 of 48 MiB with half its blocks reserved for root, loop-mounted at a directory under a
 * temp dir (unmounted when the test ends), its root writable by everyone. `prefix` names the temp dir. */
export function reservedExt4(t: Parameters<typeof tempDir>[0], prefix: string): string {
  const base = tempDir(t, rootUser()!, prefix);
  const image = path.join(base, 'image');
  const dir = path.join(base, 'fs');
  fs.mkdirSync(dir);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 48 << 20);
  const mkfs = spawnSync('mkfs.ext4', ['-q', '-F', '-m', '50', image], { encoding: 'utf8' });
  assert.equal(mkfs.status, 0, mkfs.stderr);
  const mounted = spawnSync('mount', ['-o', 'loop', image, dir], { encoding: 'utf8' });
  assert.equal(mounted.status, 0, mounted.stderr);
  onCleanup(t, () => void spawnSync('umount', ['-l', dir]));
  fs.chmodSync(dir, 0o777);
  return dir;
}
