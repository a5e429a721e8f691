// src/mountinfo.ts: the parser of /proc/<pid>/mountinfo and the mount-point lookups built on it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { FS_TYPE, connectionName, mountAt, parseMountinfo, readMounts } from '../src/mountinfo';

test('parseMountinfo reads every field of a line, with and without optional fields', () => {
  const text = [
    '42 27 0:39 / /home/a\\040b/vs rw,nosuid - fuse.varsymfs /src\\134x rw,user_id=1',
    '43 42 0:40 /sub /mnt/x ro,relatime shared:7 master:3 - tmpfs tmpfs rw,size=1k',
  ].join('\n');
  assert.deepEqual(parseMountinfo(text), [
    { mountId: 42, device: '0:39', mountPoint: '/home/a b/vs', options: 'rw,nosuid', fsType: 'fuse.varsymfs', source: '/src\\x', superOptions: 'rw,user_id=1' },
    { mountId: 43, device: '0:40', mountPoint: '/mnt/x', options: 'ro,relatime', fsType: 'tmpfs', source: 'tmpfs', superOptions: 'rw,size=1k' },
  ]);
});

test('parseMountinfo undoes exactly the three-digit octal escapes', () => {
  const [m] = parseMountinfo('1 1 0:1 / /a\\011b\\012c\\134d\\040e\\0401 rw - ext4 /dev/x\\040y rw\n');
  assert.equal(m!.mountPoint, '/a\tb\nc\\d e 1');
  assert.equal(m!.source, '/dev/x y');
  // Not an escape: fewer than three digits, or a digit outside 0-7, stays as written.
  const [n] = parseMountinfo('1 1 0:1 / /p\\04 rw - ext4 /q\\089 rw\n');
  assert.equal(n!.mountPoint, '/p\\04');
  assert.equal(n!.source, '/q\\089');
});

test('parseMountinfo: a line ending at the source has empty super options; shorter or separator-less lines are skipped', () => {
  assert.deepEqual(parseMountinfo('5 1 0:2 / /m rw - proc proc'), [{ mountId: 5, device: '0:2', mountPoint: '/m', options: 'rw', fsType: 'proc', source: 'proc', superOptions: '' }]);
  for (const bad of ['5 1 0:2 / /m rw - proc', '5 1 0:2 / /m rw proc proc rw', '5 1 0:2 / - rw proc proc rw', '']) {
    assert.deepEqual(parseMountinfo(bad), [], JSON.stringify(bad));
  }
  // The separator is searched for from the seventh field on: a mount point named "-" is not it.
  assert.deepEqual(parseMountinfo('5 1 0:2 / - rw - proc proc rw').map((m) => [m.mountPoint, m.fsType]), [['-', 'proc']]);
  // Blank lines between entries are ignored.
  assert.equal(parseMountinfo('\n5 1 0:2 / /a rw - proc proc rw\n\n6 1 0:2 / /b rw - proc proc rw\n').length, 2);
});

test('property: a mount point with any characters survives escaping and parsing', () => {
  const escape = (s: string) => s.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
  fc.assert(fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (dir, source) => {
    const [m] = parseMountinfo(`7 1 0:3 / /${escape(dir)} rw shared:1 - fuse.varsymfs ${escape(source)} rw,user_id=0\n`);
    assert.equal(m!.mountPoint, `/${dir}`);
    assert.equal(m!.source, source);
  }));
});

test('readMounts reads this process\'s own mount table', () => {
  const mounts = readMounts();
  assert.deepEqual(mounts, parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')));
  assert.ok(mounts.some((m) => m.mountPoint === '/proc' && m.fsType === 'proc'), 'proc is mounted at /proc');
});

test('mountAt finds the topmost mount at exactly that directory', () => {
  const mounts = parseMountinfo('1 0 0:1 / /m rw - ext4 a rw\n2 1 0:2 / /m rw - fuse.varsymfs b rw\n3 1 0:3 / /m/sub rw - tmpfs c rw\n');
  assert.equal(mountAt('/m', mounts)?.mountId, 2);
  assert.equal(mountAt('/m/sub', mounts)?.mountId, 3);
  assert.equal(mountAt('/', mounts), undefined);
  assert.equal(mountAt('/m/', mounts), undefined);
  // Without a table, this process's own.
  assert.equal(mountAt('/proc')?.fsType, 'proc');
  assert.equal(mountAt('/proc/self'), undefined);
});

test('FS_TYPE is what the kernel reports for subtype=varsymfs', () => {
  assert.equal(FS_TYPE, 'fuse.varsymfs');
});

test('connectionName: fusectl names a connection by the dev_t of its superblock (major << 20 | minor)', () => {
  assert.equal(connectionName({ device: '0:53' }), '53');
  assert.equal(connectionName({ device: '8:1' }), String(8 * 2 ** 20 + 1));
  assert.equal(connectionName({ device: 'x' }), undefined);
  assert.equal(connectionName({ device: '259:12' }), String(259 * 2 ** 20 + 12), 'a major of several digits');
  assert.equal(connectionName({ device: 'x0:53' }), undefined, 'nothing before major');
  assert.equal(connectionName({ device: '0:53x' }), undefined, 'nothing after minor');
});
