// The patched binding itself: the pid/uid/gid a handler sees is the caller's. This process serves a tiny
// filesystem and never touches it; child processes (spawned asynchronously) make the calls.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadFuse, loadHelpers } from '../src/native';
import { asUser, plainUser, rootUser, type TestUser } from './helpers/users';

function output(user: TestUser, cmd: string, args: string[]): Promise<string> {
  const [file, argv] = asUser(user, cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

test('a handler sees the pid, uid and gid of the process that made the call', { timeout: 300000 }, async (t) => {
  const Fuse = loadFuse();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-binding-'));
  fs.chmodSync(dir, 0o755);
  const now = new Date();
  let fuse: ReturnType<typeof makeFuse> | undefined;
  const makeFuse = () =>
    new Fuse(dir, {
      getattr(p: string, cb: (e: number, st?: object) => void) {
        if (p === '/') return cb(0, { mode: 0o40755, size: 0, atime: now, mtime: now, ctime: now, nlink: 2 });
        if (p === '/who') return cb(0, { mode: 0o120777, size: 64, atime: now, mtime: now, ctime: now });
        return cb(-2);
      },
      readlink(_p: string, cb: (e: number, target: string) => void) {
        const c = fuse!.context();
        cb(0, `${c.pid}:${c.uid}:${c.gid}`);
      },
    }, { timeout: false, options: process.geteuid?.() === 0 ? ['allow_other'] : [] });
  fuse = makeFuse();
  await new Promise<void>((resolve, reject) => fuse!.mount((err) => (err ? reject(err) : resolve())));
  t.after(async () => {
    // fuse-native's own unmount also releases the handles that keep this process alive.
    await new Promise((r) => fuse!.unmount(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const users = [rootUser(), plainUser()].filter((u): u is TestUser => u !== undefined);
  let checked = 0;
  for (const user of users) {
    // Eight processes at once, each printing its own pid, then exec'ing readlink (same pid).
    const results = await Promise.all(Array.from({ length: 8 }, () => output(user, 'sh', ['-c', 'echo $$; exec readlink "$0"', path.join(dir, 'who')])));
    const pids = new Set<string>();
    for (const r of results) {
      const [pid, seen] = r.trim().split('\n');
      assert.equal(seen, `${pid}:${user.uid}:${user.gid}`);
      pids.add(pid!);
      checked++;
    }
    assert.equal(pids.size, 8, 'eight different processes');
  }
  assert.ok(checked >= 8);
});

test('the contract (src/binding/varsymfs.h) agrees with the patched fuse-native: op numbers, names, slot', () => {
  const native = loadHelpers();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const binding = require('node-gyp-build')(path.resolve(__dirname, '..', '..', 'node_modules', 'fuse-native')) as Record<string, unknown>;
  const { layout } = native;
  assert.equal(layout.ops.length, 34);
  layout.ops.forEach((name, i) => assert.equal(binding[`op_${name}`], i, `op_${name}`));
  // The slot sits after the caller context (4 x uint32) and inside the room the patch reserves.
  assert.equal(layout.slot.offset, 16);
  assert.ok(layout.slot.bytes <= layout.slot.room);
  assert.ok(layout.slot.target + layout.targetMax + 1 <= layout.slot.bytes);
  assert.ok(layout.slot.stat + 4 * layout.slot.statInts <= layout.slot.target);
  const codes = [...Object.values(layout.source), ...Object.values(layout.status)];
  assert.ok(codes.every((c) => Number.isInteger(c)));
  assert.equal(new Set(Object.values(layout.source)).size, 6, 'environment sources are distinct');
  // The project fields: inside the slot, before the stat, and distinct walk statuses.
  for (const f of [layout.slot.projectStatus, layout.slot.projectState]) assert.ok(f >= 0 && f + 4 <= layout.slot.stat, String(f));
  const { off, walked, noCwd, timedOut, failed } = layout.project;
  assert.equal(new Set([off, walked, noCwd, timedOut, failed]).size, 5, 'project walk statuses are distinct');
  assert.ok(layout.project.empty !== 0, 'the empty project state is not the memo\'s "independent of the project" key (0)');
  assert.ok(layout.project.namesMax >= 9, 'room for the built-in project files');
  // The caller context the slot follows, as the patched fuse-native's context() reads it (pid, uid, gid, umask).
  assert.deepEqual(layout.caller, { pid: 0, uid: 4, gid: 8, umask: 12, bytes: layout.slot.offset });
  // fuse-native's stat encoding (its getStatArray and populate_stat): u32s, a 64-bit field as low, high.
  assert.deepEqual(layout.stat, { mode: 0, uid: 1, gid: 2, size: 3, dev: 5, nlink: 6, ino: 7, rdev: 9, blksize: 10, blocks: 11, atime: 13, mtime: 16, ctime: 19, ints: layout.slot.statInts });
  assert.equal(layout.slot.statInts, 22);
});

/** The function definitions of a C file in the house style (a definition opens at column 0 with its `{` on
 * that line and closes with a lone `}`): name, first line, lines and parameters. */
function cFunctions(text: string): Array<{ name: string; line: number; lines: number; params: number }> {
  const lines = text.split('\n');
  const out: Array<{ name: string; line: number; lines: number; params: number }> = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(?!typedef|struct|enum|union|#|\/\/)[A-Za-z_][\w \t*]*?\b(\w+)\s*\((.*)\)\s*\{\s*$/.exec(lines[i]!);
    if (m === null || m[1]!.split('(')[0]!.includes('=')) continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== '}') j++;
    const params = m[2]!.trim();
    out.push({ name: m[1]!, line: i + 1, lines: j - i + 1, params: params === '' || params === 'void' ? 0 : params.split(',').length });
    i = j;
  }
  return out;
}

test('src/binding: no function is over 60 lines or 6 parameters, so each reads whole (issue 19)', () => {
  const root = path.resolve(__dirname, '..', '..', 'src', 'binding');
  const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.c') && !f.startsWith('build'));
  const over: string[] = [];
  let count = 0;
  for (const f of files) {
    for (const fn of cFunctions(fs.readFileSync(path.join(root, f), 'utf8'))) {
      count++;
      if (fn.lines > 60 || fn.params > 6) over.push(`${f}:${fn.line} ${fn.name}: ${fn.lines} lines, ${fn.params} parameters`);
    }
  }
  assert.ok(count > 100, `the scanner found ${count} functions`);  // it sees the binding's functions at all
  assert.deepEqual(over, []);
  // The scanner itself: a long function and a wide one are seen.
  const long = `static int f (int a) {\n${'  a++;\n'.repeat(59)}}\nint g (int a, int b, int c, int d, int e, int f, int h) {\n}\n`;
  assert.deepEqual(cFunctions(long).map((x) => [x.name, x.lines, x.params]), [['f', 61, 1], ['g', 2, 7]]);
});
