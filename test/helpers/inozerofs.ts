// A FUSE filesystem whose one file, /envdata, reports inode number 0 (a FUSE server chooses its inode
// numbers: with use_ino the kernel shows the one it is given). Run as a child process
// (`node inozerofs.js <mountpoint> <hex bytes>`): it prints "ready" once mounted; end of stdin (or SIGTERM)
// unmounts and exits. For the rule "a page of a file is never read for envp", whatever its inode says.
import { loadFuse } from '../../src/native';

const mnt = process.argv[2]!;
const data = Buffer.from(process.argv[3] ?? '', 'hex');
const Fuse = loadFuse();
const when = new Date(0);
const dir = { mode: 0o40755, size: 4096, nlink: 2, uid: 0, gid: 0, ino: 1, mtime: when, atime: when, ctime: when };
const file = { mode: 0o100644, size: data.length, nlink: 1, uid: 0, gid: 0, ino: 0, mtime: when, atime: when, ctime: when };
const ops = {
  getattr(p: string, cb: (err: number, stat?: object) => void): void {
    if (p === '/') return cb(0, dir);
    if (p === '/envdata') return cb(0, file);
    cb(-2);
  },
  readdir(p: string, cb: (err: number, names?: string[]) => void): void {
    cb(0, p === '/' ? ['envdata'] : []);
  },
  open(p: string, flags: number, cb: (err: number, fd?: number) => void): void {
    cb(p === '/envdata' ? 0 : -2, 0);
  },
  read(p: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void): void {
    cb(pos >= data.length ? 0 : data.copy(buf, 0, pos, Math.min(data.length, pos + len)));
  },
};
const fuse = new Fuse(mnt, ops, { allowOther: true, timeout: false, options: ['use_ino'] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  fuse.unmount(() => process.exit(0));
  setTimeout(() => process.exit(1), 5000).unref();
};
fuse.mount((err) => {
  if (err) {
    process.stderr.write(`inozerofs: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write('ready\n');
});
process.stdin.on('data', () => {}).on('end', stop);
process.on('SIGTERM', stop);
