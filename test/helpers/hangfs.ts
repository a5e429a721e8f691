// A FUSE filesystem that hangs on demand, for walks that meet an attacker's hung mount
// (test/hostile/project-files.test.ts, trust.test.ts): mounted on a directory named like a project file, a
// lookup of that name then waits without end.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { bin } from './prober';
import { onCleanup } from './mount';

// A FUSE filesystem (a child process, never the test's own thread) whose root answers getattr until it is
// told "hold", then holds every getattr of its root until told "go". Mounted on a directory it stands for
// a project file name on a hung filesystem: a lookup of the name itself then waits without end.
const HANGFS_JS = String.raw`
const { loadFuse } = require(process.argv[3]);
const Fuse = loadFuse();
const held = [];
let holding = false;
const dir = { mode: 0o40755, size: 4096, nlink: 2, uid: 0, gid: 0, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };
const ops = {
  getattr (p, cb) {
    if (p !== '/') return cb(-2);
    if (!holding) return cb(0, dir);
    held.push(() => cb(0, dir));
    process.stdout.write('held\n');
  },
  readdir (p, cb) { cb(0, []); },
};
const fuse = new Fuse(process.argv[2], ops, { allowOther: true, timeout: false, options: ['entry_timeout=0', 'attr_timeout=0', 'negative_timeout=0'] });
const release = () => { holding = false; held.splice(0).forEach((r) => r()); };
fuse.mount((err) => { if (err) { process.stderr.write('hangfs: ' + err.message + '\n'); process.exit(1); } process.stdout.write('ready\n'); });
require('readline').createInterface({ input: process.stdin }).on('line', (l) => { if (l === 'hold') { holding = true; process.stdout.write('holding\n'); } else release(); });
process.stdin.on('end', () => { release(); fuse.unmount(() => process.exit(0)); setTimeout(() => process.exit(1), 5000).unref(); });
`;

/** hangfs mounted on directory `dir` (made here); `hold()` makes its root hang, `release()` answers. */
export async function hangMount(t: TestContext, dir: string): Promise<{ hold: () => Promise<void>; release: () => void }> {
  fs.mkdirSync(dir);
  const script = path.join(bin, 'hangfs.js');
  fs.writeFileSync(script, HANGFS_JS);
  const child = spawn(process.execPath, [script, dir, path.join(__dirname, '..', '..', 'src', 'native.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => ((out += d.toString()), waiters.splice(0).forEach((w) => w())));
  child.on('close', () => waiters.splice(0).forEach((w) => w()));
  const until = async (what: string) => {
    while (!out.includes(what)) {
      if (child.exitCode !== null) throw new Error(`hangfs exited: ${out}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  onCleanup(t, async () => {
    child.stdin!.end();
    if (child.exitCode === null) await new Promise((r) => child.on('close', r));
  });
  await until('ready\n');
  return { hold: async () => (child.stdin!.write('hold\n'), await until('holding\n')), release: () => child.stdin!.write('go\n') };
}

