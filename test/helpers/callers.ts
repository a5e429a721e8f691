// test/fixtures/callers.c, compiled once per test file into a world-readable temp directory, and what the
// tests of documented limits and mechanisms share (boundaries, mechanisms, resources).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';

/** The compiled fixture's path, set by a `before` hook that compileCallers() registers. */
export const callers = { bin: '' };

/** Registers hooks that compile test/fixtures/callers.c before the file's tests and remove it after. */
export function compileCallers(): void {
  before(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-callers-'));
    fs.chmodSync(dir, 0o755);
    callers.bin = path.join(dir, 'callers');
    const src = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'callers.c');
    const r = spawnSync('gcc', ['-O1', '-o', callers.bin, src], { encoding: 'utf8' });
    assert.equal(r.status, 0, `gcc: ${r.stderr}`);
  });
  after(() => {
    if (callers.bin !== '') fs.rmSync(path.dirname(callers.bin), { recursive: true, force: true });
  });
}

/** The daemon's open fds. */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** The daemon's resident set, in KiB. */
export function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** errno numbers the fixture prints ("ERR <n>"). */
export const ERRNO = { EPERM: 1, ENOENT: 2, EACCES: 13, E2BIG: 7, ENAMETOOLONG: 36, EOPNOTSUPP: 95 } as const;
