// A FUSE mount whose lookups under /hold/<dir>/, and listings of /hold/<dir>, are not answered until the
// test says so: a process that
// execs <mount>/hold/<dir>/x stays inside execve (blocked in the path walk) for as long as a test needs to question it.
// Run as a child process (`node stallfs.js <mountpoint>`), never in the test's own process, whose JS thread
// must stay free: it prints "ready" once mounted and "held" for each request it holds; a line on stdin
// answers all held requests with ENOENT; end of stdin (or SIGTERM) unmounts and exits.
import { loadFuse } from '../../src/native';

const mnt = process.argv[2]!;
const Fuse = loadFuse();
const held: Array<(err: number) => void> = [];
const dir = { mode: 0o40755, size: 4096, nlink: 2, uid: 0, gid: 0, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };
const ops = {
  getattr(p: string, cb: (err: number, stat?: object) => void): void {
    // /hold/<any> is a directory; what lies below it is held. Without FUSE_PARALLEL_DIROPS (libfuse 2) the
    // kernel serializes lookups in one directory, so each held process needs a directory of its own.
    if (p === '/' || /^\/hold(\/[^/]+)?$/.test(p)) return cb(0, dir);
    if (!p.startsWith('/hold/')) return cb(-2);
    held.push((err) => cb(err));
    process.stdout.write('held\n');
  },
  readdir(p: string, cb: (err: number, names?: string[]) => void): void {
    // Listing /hold/<dir> is held too (a walk for project files lists each directory it passes).
    if (p.startsWith('/hold/')) {
      held.push((err) => cb(err));
      process.stdout.write('held\n');
      return;
    }
    cb(0, p === '/' ? ['hold'] : []);
  },
};
const fuse = new Fuse(mnt, ops, { allowOther: true, timeout: false, options: ['entry_timeout=0', 'attr_timeout=0', 'negative_timeout=0'] });
const releaseAll = () => held.splice(0).forEach((reply) => reply(-2));
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  releaseAll();
  fuse.unmount(() => process.exit(0));
  setTimeout(() => process.exit(1), 5000).unref();
};
fuse.mount((err) => {
  if (err) {
    process.stderr.write(`stallfs: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write('ready\n');
});
process.stdin.on('data', releaseAll);
process.stdin.on('end', stop);
process.on('SIGTERM', stop);
