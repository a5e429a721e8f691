// walkLinks (src/linkwalk.ts) over a table of paths: links on the way, `..` after a link, loops, and
// where a missing target is reported; how `current` classes a project file (src/current.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { projectFileStatus } from '../src/current';
import { notInstalled, walkLinks, type Entry } from '../src/linkwalk';

/** A filesystem as a table: directories end in '/', links are `{ raw, target }`. */
function fake(table: Record<string, string | { raw: string; target: string }>): (p: string) => Promise<Entry> {
  return async (p) => {
    const e = table[p] ?? table[p + '/'];
    if (e === undefined) return { kind: 'missing' };
    if (typeof e !== 'string') return { kind: 'link', raw: e.raw, target: e.target, variant: e.raw !== e.target };
    return table[p + '/'] !== undefined ? { kind: 'directory' } : { kind: 'other' };
  };
}

const FS = fake({
  '/h/': 'd', '/h/vs/': 'd', '/h/vs/go': { raw: '/opt/go/$<GO_VERSION>', target: '/opt/go/1.22.3' },
  '/opt/': 'd', '/opt/go/': 'd', '/opt/go/1.22.3/': 'd', '/opt/go/1.22.3/bin/': 'd', '/opt/go/1.22.3/bin/go': 'f',
  '/h/vs/rel': { raw: '$<V>', target: 'sub' }, '/h/vs/sub/': 'd', '/h/vs/sub/x': 'f',
  '/h/vs/up': { raw: 'sub/..', target: 'sub/..' }, '/h/vs/loop': { raw: 'loop', target: 'loop' },
  '/h/vs/gone': { raw: '/opt/go/$<GO_VERSION>', target: '/opt/go/9.9.9' },
});

test('walkLinks: a path through a variant link ends at the install, naming the link', async () => {
  const w = await walkLinks('/h/vs/go/bin/go', FS);
  assert.deepEqual([w.path, w.exists, w.hops.map((h) => h.link)], ['/opt/go/1.22.3/bin/go', true, ['/h/vs/go']]);
  assert.deepEqual((await walkLinks('/h/vs/rel/x', FS)).path, '/h/vs/sub/x', 'a relative target, from the link\'s directory');
  assert.deepEqual((await walkLinks('/h/vs/up/go', FS)).hops.map((h) => h.link), ['/h/vs/up', '/h/vs/go'], '.. after a link');
  assert.equal((await walkLinks('/h/vs/sub/x', FS)).hops.length, 0);
});

test('walkLinks: `.` and a trailing slash need a directory before them, as the kernel does (ENOTDIR after a file)', async () => {
  for (const p of ['/h/vs/sub/x/', '/h/vs/sub/x/.', '/h/vs/go/bin/go/', '/h/vs/go/bin/go/.']) {
    const w = await walkLinks(p, FS);
    assert.deepEqual([w.exists, w.reason], [false, `${p.startsWith('/h/vs/go') ? '/opt/go/1.22.3/bin/go' : '/h/vs/sub/x'} is not a directory`], p);
  }
  for (const p of ['/h/vs/sub/', '/h/vs/sub/.', '/h/./vs/./sub/x', '/h/vs/go/', '/h/vs/go/./bin/go', '/.', '/']) assert.equal((await walkLinks(p, FS)).exists, true, p);
  assert.equal((await walkLinks('/h/vs/go/', FS)).path, '/opt/go/1.22.3', 'a link before a trailing slash is followed');
});

test('walkLinks: a missing target, a file used as a directory, and a loop are not there, with the reason', async () => {
  const gone = await walkLinks('/h/vs/gone/bin/go', FS);
  assert.deepEqual([gone.exists, gone.missing, gone.path], [false, '/opt/go/9.9.9', '/opt/go/9.9.9/bin/go']);
  assert.equal(notInstalled(gone), '/h/vs/gone -> /opt/go/9.9.9 (from /opt/go/$<GO_VERSION>): not installed (/opt/go/9.9.9 does not exist)');
  const file = await walkLinks('/h/vs/sub/x/y', FS);
  assert.deepEqual([file.exists, file.reason], [false, '/h/vs/sub/x is not a directory']);
  const loop = await walkLinks('/h/vs/loop', FS);
  assert.equal(loop.exists, false);
  assert.equal(loop.hops.length, 41);
  assert.match(notInstalled(loop), /more than 40 links/);
  assert.equal(notInstalled(await walkLinks('/nope', FS)), '/nope does not exist');
});

test('projectFileStatus: missing files are not listed; the others read or skipped with the reason', async () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  const stat = (file: boolean, size: number) => ({ isFile: () => file, size }) as import('node:fs').Stats;
  assert.equal(projectFileStatus(err('ENOENT'), false, 10), undefined);
  assert.equal(projectFileStatus(err('ENOTDIR'), false, 10), undefined);
  assert.equal(projectFileStatus(err('EACCES'), false, 10), 'skipped: unreadable (EACCES)');
  assert.equal(projectFileStatus(stat(false, 0), true, 10), 'skipped: not a regular file');
  assert.equal(projectFileStatus(stat(true, 11), true, 10), 'skipped: larger than 10 bytes');
  assert.equal(projectFileStatus(stat(true, 10), false, 10), 'skipped: unreadable');
  assert.equal(projectFileStatus(stat(true, 10), true, 10), 'read');
  const owned = (uid: number) => ({ isFile: () => true, size: 1, uid }) as import('node:fs').Stats;
  assert.equal(projectFileStatus(owned(1000), true, 10, 1000, 1000), 'read');
  assert.equal(projectFileStatus(owned(0), true, 10, 1000, 0), 'read', "root's files count");
  assert.match(projectFileStatus(owned(1001), true, 10, 1000, 1001)!, /^skipped: not trusted \(owner uid 1001/);
  assert.match(projectFileStatus(owned(1000), true, 10, 1000, 1001)!, /^skipped: not trusted \(owner uid 1001/, "another user's link to the caller's file");
  const moded = (uid: number, gid: number, mode: number) => ({ isFile: () => true, size: 1, uid, gid, mode: 0o100000 | mode }) as import('node:fs').Stats;
  assert.match(projectFileStatus(moded(0, 1000, 0o664), true, 10, 1000, 0, 1000)!, /^skipped: not trusted \(writable by its group or others; owner uid 0/, "root's file its group may write");
  assert.match(projectFileStatus(moded(1000, 1000, 0o646), true, 10, 1000, 1000, 1000)!, /^skipped: not trusted \(writable by its group or others/, 'writable by others');
  assert.equal(projectFileStatus(moded(1000, 1000, 0o664), true, 10, 1000, 1000, 1000), 'read', "the caller's own file in its own group");
});

test('walkLinks: a reason from look is kept; a file used as a directory names the path under it; the last variant link names the install', async () => {
  const denied: (p: string) => Promise<Entry> = async (p) => (p === '/opt' ? { kind: 'directory' } : { kind: 'missing', reason: 'EACCES' });
  const w = await walkLinks('/opt/go/bin', denied);
  assert.deepEqual([w.exists, w.missing, w.reason, w.path], [false, '/opt/go', 'EACCES', '/opt/go/bin']);
  assert.equal(notInstalled(w), 'EACCES');
  const file = await walkLinks('/h/vs/sub/x/y/z', FS);
  assert.deepEqual([file.missing, file.path], ['/h/vs/sub/x/y', '/h/vs/sub/x/y/z']);
  const chain = fake({
    '/v/': 'd', '/v/a': { raw: '/v/$<A>', target: '/v/b' }, '/v/b': { raw: '/v/$<B>', target: '/v/c' },
    '/v/c': { raw: '/v/d', target: '/v/d' },
  });
  const two = await walkLinks('/v/a', chain);
  assert.deepEqual(two.hops.map((h) => h.link), ['/v/a', '/v/b', '/v/c']);
  assert.equal(notInstalled(two), '/v/b -> /v/c (from /v/$<B>): not installed (/v/d does not exist)', 'the last variant link, not the first nor the last link');
});

test('walkLinks: one lookup per component, none for `.` and `..`, and a missing entry without a reason gives none', async () => {
  const looked: string[] = [];
  const recording = async (p: string) => {
    looked.push(p);
    return FS(p);
  };
  const w = await walkLinks('/h/vs/../vs/./sub/', recording);
  assert.deepEqual([w.path, w.exists], ['/h/vs/sub', true]);
  assert.deepEqual(looked, ['/h', '/h/vs', '/h/vs', '/h/vs/sub'], '`..` goes to the parent and `.` (a trailing slash too) stays, without a lookup');
  looked.length = 0;
  assert.equal((await walkLinks('/h/../', recording)).exists, true);
  assert.deepEqual(looked, ['/h']);
  assert.deepEqual(await walkLinks('/nope/x', FS), { hops: [], path: '/nope/x', exists: false, missing: '/nope' }, 'no `reason` key when look gave none');
});
