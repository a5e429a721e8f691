// The shared table of file-operation checks: run with a directory argument, it performs each case in a
// fresh subdirectory and prints one JSON line of results (a value, or the error code). The suite runs it
// against a plain directory and against the mount; the two must agree, which shows the table describes
// the kernel's behaviour rather than the implementation's.
import * as fs from 'node:fs';
import * as path from 'node:path';

type Case = (dir: string) => unknown;

const C = fs.constants;
const w = (p: string, s: string) => fs.writeFileSync(p, s);

export const CASES: Record<string, Case> = {
  'write then read': (d) => (w(`${d}/f`, 'hello'), fs.readFileSync(`${d}/f`, 'utf8')),
  'stat size and type': (d) => (w(`${d}/f`, 'abc'), ((s) => [s.size, s.isFile(), s.mode & 0o777])(fs.statSync(`${d}/f`))),
  'open O_EXCL on existing': (d) => (w(`${d}/f`, 'x'), fs.openSync(`${d}/f`, C.O_CREAT | C.O_EXCL | C.O_WRONLY)),
  'create with O_EXCL: mode': (d) => (fs.closeSync(fs.openSync(`${d}/n`, C.O_CREAT | C.O_EXCL | C.O_WRONLY, 0o640)), fs.statSync(`${d}/n`).mode & 0o777),
  'O_TRUNC empties the file': (d) => (w(`${d}/f`, 'long text'), fs.closeSync(fs.openSync(`${d}/f`, C.O_WRONLY | C.O_TRUNC)), fs.statSync(`${d}/f`).size),
  'open O_APPEND': (d) => {
    w(`${d}/f`, 'ab');
    const fd = fs.openSync(`${d}/f`, C.O_WRONLY | C.O_APPEND);
    fs.writeSync(fd, 'cd', 0);
    fs.closeSync(fd);
    return fs.readFileSync(`${d}/f`, 'utf8');
  },
  'open O_NOFOLLOW on a symlink': (d) => (w(`${d}/f`, 'x'), fs.symlinkSync('f', `${d}/l`), fs.openSync(`${d}/l`, C.O_RDONLY | C.O_NOFOLLOW)),
  'open missing': (d) => fs.openSync(`${d}/missing`, 'r'),
  'open a directory for writing': (d) => (fs.mkdirSync(`${d}/sub`), fs.openSync(`${d}/sub`, 'w')),
  'mkdir existing': (d) => (fs.mkdirSync(`${d}/x`), fs.mkdirSync(`${d}/x`)),
  'mkdir mode': (d) => (fs.mkdirSync(`${d}/x`, 0o701), fs.statSync(`${d}/x`).mode & 0o777),
  'rmdir non-empty': (d) => (fs.mkdirSync(`${d}/x`), w(`${d}/x/f`, ''), fs.rmdirSync(`${d}/x`)),
  'unlink a directory': (d) => (fs.mkdirSync(`${d}/x`), fs.unlinkSync(`${d}/x`)),
  'rename over an existing file': (d) => (w(`${d}/a`, 'A'), w(`${d}/b`, 'B'), fs.renameSync(`${d}/a`, `${d}/b`), [fs.readFileSync(`${d}/b`, 'utf8'), fs.existsSync(`${d}/a`)]),
  'rename a dir over a non-empty dir': (d) => (fs.mkdirSync(`${d}/a`), fs.mkdirSync(`${d}/b`), w(`${d}/b/f`, ''), fs.renameSync(`${d}/a`, `${d}/b`)),
  'rename a dir over an empty dir': (d) => (fs.mkdirSync(`${d}/a`), w(`${d}/a/f`, '1'), fs.mkdirSync(`${d}/b`), fs.renameSync(`${d}/a`, `${d}/b`), fs.readdirSync(`${d}/b`)),
  'rename a file over a dir': (d) => (w(`${d}/a`, ''), fs.mkdirSync(`${d}/b`), fs.renameSync(`${d}/a`, `${d}/b`)),
  'hard link and link counts': (d) => (w(`${d}/a`, 'x'), fs.linkSync(`${d}/a`, `${d}/b`), [fs.statSync(`${d}/a`).nlink, fs.statSync(`${d}/b`).nlink, fs.statSync(`${d}/a`).ino === fs.statSync(`${d}/b`).ino]),
  'hard link onto an existing name': (d) => (w(`${d}/a`, ''), w(`${d}/b`, ''), fs.linkSync(`${d}/a`, `${d}/b`)),
  'plain symlink and readlink': (d) => (fs.symlinkSync('../some/where', `${d}/l`), [fs.readlinkSync(`${d}/l`), fs.lstatSync(`${d}/l`).isSymbolicLink(), fs.lstatSync(`${d}/l`).size]),
  'dangling symlink stat': (d) => (fs.symlinkSync('nowhere', `${d}/l`), fs.statSync(`${d}/l`)),
  'chmod': (d) => (w(`${d}/f`, ''), fs.chmodSync(`${d}/f`, 0o4751), fs.statSync(`${d}/f`).mode & 0o7777),
  'utimes with nanoseconds': (d) => {
    w(`${d}/f`, '');
    fs.utimesSync(`${d}/f`, 1700000000.5, 1600000000.25);
    const s = fs.statSync(`${d}/f`, { bigint: true });
    return [String(s.atimeNs / 1000000n), String(s.mtimeNs / 1000000n)];
  },
  'truncate to a larger size': (d) => (w(`${d}/f`, 'ab'), fs.truncateSync(`${d}/f`, 10000), [fs.statSync(`${d}/f`).size, fs.readFileSync(`${d}/f`).subarray(2).every((b) => b === 0)]),
  'sparse file': (d) => {
    const fd = fs.openSync(`${d}/s`, 'w');
    fs.writeSync(fd, 'end', 8 * 1024 * 1024);
    fs.closeSync(fd);
    const s = fs.statSync(`${d}/s`);
    return [s.size, s.blocks < 64];
  },
  'long name (255 bytes)': (d) => (w(`${d}/${'n'.repeat(255)}`, 'x'), fs.readFileSync(`${d}/${'n'.repeat(255)}`, 'utf8')),
  'too long name (256 bytes)': (d) => w(`${d}/${'n'.repeat(256)}`, 'x'),
  'long path (60 levels)': (d) => {
    let p = d;
    for (let i = 0; i < 60; i++) p = path.join(p, 'level-' + String(i).padStart(40, '0'));
    fs.mkdirSync(p, { recursive: true });
    w(`${p}/f`, 'deep');
    return [p.length > 2600, fs.readFileSync(`${p}/f`, 'utf8')];
  },
  'sticky directory': (d) => (fs.mkdirSync(`${d}/t`), fs.chmodSync(`${d}/t`, 0o1777), fs.statSync(`${d}/t`).mode & 0o7777),
  'readdir': (d) => (w(`${d}/b`, ''), w(`${d}/a`, ''), fs.mkdirSync(`${d}/c`), fs.readdirSync(d).sort()),
  'access': (d) => (w(`${d}/f`, ''), fs.chmodSync(`${d}/f`, 0o600), fs.accessSync(`${d}/f`, C.R_OK | C.W_OK), fs.accessSync(`${d}/f`, C.X_OK)),
  'read and write at offsets': (d) => {
    const fd = fs.openSync(`${d}/f`, 'w+');
    fs.writeSync(fd, 'abcdef', 0);
    fs.writeSync(fd, 'XY', 2);
    const buf = Buffer.alloc(4);
    fs.readSync(fd, buf, 0, 4, 1);
    fs.closeSync(fd);
    return buf.toString();
  },
  'ftruncate through an open fd': (d) => {
    const fd = fs.openSync(`${d}/f`, 'w+');
    fs.writeSync(fd, 'abcdef');
    fs.ftruncateSync(fd, 3);
    fs.fsyncSync(fd);
    const size = fs.fstatSync(fd).size;
    fs.closeSync(fd);
    return [size, fs.readFileSync(`${d}/f`, 'utf8')];
  },
  'read of an unlinked open file': (d) => {
    w(`${d}/f`, 'still here');
    const fd = fs.openSync(`${d}/f`, 'r');
    fs.unlinkSync(`${d}/f`);
    const buf = Buffer.alloc(10);
    fs.readSync(fd, buf, 0, 10, 0);
    fs.closeSync(fd);
    return [buf.toString(), fs.existsSync(`${d}/f`)];
  },
  'fstat and write of an unlinked open file, then rmdir': (d) => {
    fs.mkdirSync(`${d}/sub`);
    const fd = fs.openSync(`${d}/sub/f`, 'w+');
    fs.writeSync(fd, 'abc');
    fs.unlinkSync(`${d}/sub/f`);
    fs.writeSync(fd, 'def');
    const size = fs.fstatSync(fd).size;
    fs.rmdirSync(`${d}/sub`); // nothing is left behind in the directory
    fs.closeSync(fd);
    return size;
  },
  'statfs': (d) => fs.statfsSync(d).bsize > 0,
};

function outcome(fn: () => unknown): unknown {
  try {
    const v = fn();
    return { ok: v === undefined ? null : v };
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

/** Runs every case in its own subdirectory of `dir`; returns case name → outcome. */
export function runCases(dir: string): Record<string, unknown> {
  const results: Record<string, unknown> = {};
  let i = 0;
  for (const [name, fn] of Object.entries(CASES)) {
    const sub = path.join(dir, `case-${i++}`);
    fs.mkdirSync(sub);
    const r = outcome(() => fn(sub));
    // File descriptors returned by successful opens differ between runs: compare only success.
    results[name] = typeof (r as { ok?: unknown }).ok === 'number' && name.startsWith('open') ? { ok: 'fd' } : r;
  }
  return results;
}

if (require.main === module) {
  process.stdout.write(JSON.stringify(runCases(process.argv[2]!)) + '\n');
}
