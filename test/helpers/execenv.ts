// Drives the exec-env helper directly, as the daemon's client does (src/binding/execenv_protocol.h holds
// the layout; test/execenv.test.ts checks these constants against it), and the tools its tests need: a
// stalling FUSE mount to hold a process inside execve (or a caller's project walk: readlinkFrom), and processes
// with chosen memory and credentials.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { onCleanup, tempDir } from './mount';
import { asUser, baseEnv, type TestUser } from './users';

/**
 * A store with go1.0.3 and go1.2.1 and the variant link `go` → `$<GO_VERSION>`. Each `go` is an
 * interpreter line that says its version: only the kernel's exec-time resolution decides which file runs
 * (a /bin/sh script would be opened again, by path, with the new program's own environment).
 */
export function goVersionsStore(d: string): void {
  for (const v of ['go1.0.3', 'go1.2.1']) {
    fs.mkdirSync(path.join(d, v, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(d, v, 'bin', 'go'), `#!/bin/echo ${v}\n`, { mode: 0o755 });
  }
  fs.symlinkSync('$<GO_VERSION>', path.join(d, 'go'));
}

/** `sh -c GO_THROUGH_LINK <store>`: go through the link with GO_VERSION=go1.2.1 set by the exec, then with the caller's own. */
export const GO_THROUGH_LINK = 'GO_VERSION=go1.2.1 "$0/go/bin/go" | cut -d" " -f1; "$0/go/bin/go" | cut -d" " -f1';

export const PROTOCOL = { magic: 0x31455856, version: 1, maxBytes: 6 << 20, maxStrlen: 32 * 4096 } as const;

/** A running helper, spoken to over its stdin and stdout. */
export class HelperProcess {
  private buf = Buffer.alloc(0);
  private ended = false;
  private wake: Array<() => void> = [];
  private seq = 0;
  readonly exited: Promise<{ code: number | null; stderr: string }>;

  constructor(readonly child: ChildProcess) {
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake.splice(0).forEach((w) => w());
    });
    child.stdout!.on('end', () => {
      this.ended = true;
      this.wake.splice(0).forEach((w) => w());
    });
    child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  }

  private async take(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`the helper closed its output (${this.buf.length} of ${n} bytes)`);
      await new Promise<void>((r) => this.wake.push(r));
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async hello(): Promise<{ magic: number; version: number; status: number; uid: number }> {
    const b = await this.take(16);
    return { magic: b.readUInt32LE(0), version: b.readUInt32LE(4), status: b.readInt32LE(8), uid: b.readUInt32LE(12) };
  }

  /** Asks about `tid`: status 1 with the envp bytes, 0, or -errno. */
  async ask(tid: number): Promise<{ status: number; env?: Buffer }> {
    const q = Buffer.alloc(8);
    q.writeUInt32LE(++this.seq, 0);
    q.writeInt32LE(tid, 4);
    this.child.stdin!.write(q);
    const a = await this.take(16);
    if (a.readUInt32LE(0) !== this.seq) throw new Error('answer out of step');
    const status = a.readInt32LE(4);
    const len = a.readUInt32LE(8);
    return status === 1 ? { status, env: Buffer.from(await this.take(len)) } : { status };
  }

  /** Closes its input (the daemon going away); resolves with its exit. */
  close(): Promise<{ code: number | null; stderr: string }> {
    this.child.stdin!.end();
    return this.exited;
  }
}

/** Starts the helper at `file` as `user`, killed when the test ends. */
export function startHelper(t: TestContext, user: TestUser, file: string, args: string[] = []): HelperProcess {
  const [cmd, argv] = asUser(user, file, args);
  const child = spawn(cmd, argv, { env: baseEnv(user), stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new HelperProcess(child);
}

/** A process of `user` (python3 running `script` with `args`), killed when the test ends. It prints "ok" when set. */
export async function startProcess(t: TestContext, user: TestUser, script: string, args: string[] = []): Promise<ChildProcess> {
  const [cmd, argv] = asUser(user, 'python3', ['-c', script, ...args]);
  const child = spawn(cmd, argv, { env: baseEnv(user), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ok')) resolve();
    });
    child.on('close', (code) => reject(new Error(`process exited (${code}) before it was ready`)));
  });
  return child;
}

/** The stalling FUSE mount (test/helpers/stallfs.ts), mounted by root with allow_other for `t`. */
export async function stallMount(t: TestContext): Promise<{ dir: string; held: () => Promise<void>; release: () => void }> {
  const dir = tempDir(t, { name: 'root', uid: 0, gid: 0, home: '/root', bin: '' }, 'varsymfs-stall-');
  const child = spawn(process.execPath, [path.join(__dirname, 'stallfs.js'), dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    waiters.splice(0).forEach((w) => w());
  });
  const until = async (cond: () => boolean) => {
    while (!cond()) {
      if (child.exitCode !== null) throw new Error(`stallfs exited: ${out}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  t.after(async () => {
    child.stdin!.end();
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.on('close', r)));
  });
  child.on('close', () => waiters.splice(0).forEach((w) => w()));
  await until(() => out.includes('ready\n'));
  let seen = 0;
  return {
    dir,
    held: async () => {
      const want = ++seen;
      await until(() => out.split('held\n').length - 1 >= want);
    },
    release: () => child.stdin!.write('go\n'),
  };
}

/** Python: chdir to argv[1], readlink argv[2]; prints the target, or `errno N`. */
export const READLINK_IN = `import os, sys
os.chdir(sys.argv[1])
try:
    print(os.readlink(sys.argv[2]))
except OSError as e:
    print('errno', e.errno)
`;

/** A process of `user` that readlinks `link` from `cwd`; resolves with what it printed once it exits. */
export function readlinkFrom(t: TestContext, user: TestUser, cwd: string, link: string): { child: ChildProcess; done: Promise<string> } {
  const [cmd, argv] = asUser(user, 'python3', ['-c', READLINK_IN, cwd, link]);
  const child = spawn(cmd, argv, { env: baseEnv(user), cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(t, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, done: new Promise((resolve) => child.on('close', () => resolve(out.trim()))) };
}

/** A root-owned file of `bytes` in a fresh root-owned directory others can read (for file-backed envp). */
export function rootFile(t: TestContext, bytes: Buffer): string {
  const dir = tempDir(t, { name: 'root', uid: 0, gid: 0, home: '/root', bin: '' }, 'varsymfs-file-');
  const file = path.join(dir, 'envdata');
  fs.writeFileSync(file, bytes, { mode: 0o644 });
  return file;
}
