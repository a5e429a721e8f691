// Another user's link never reads the follower's environment (issue 17, item 2): on a shared mount (root,
// --allow-other, a sticky world-writable store like /tmp), a variant link is answered from the follower's
// environment and pending exec only when the link belongs to the follower, to root or to the mount's owner;
// anyone else's link gets project files, mount defaults and fallbacks only. Followed by root, by the
// unprivileged test user and by a raw uid with no account (setpriv), through readlink, lstat and exec.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { mount } from './helpers/mount';
import { plainUser, rootUser, run, type RunResult } from './helpers/users';

const T = { timeout: 300000 };
const root = rootUser();
const plain = plainUser();
const skip = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
const RAW_UID = 54321;  // no account: only setpriv gives a process this uid

/** Runs `cmd args` as the raw uid RAW_UID (no groups) with exactly `env`. */
function runRaw(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const argv = ['--reuid', String(RAW_UID), '--regid', String(RAW_UID), '--clear-groups', '--', '/usr/bin/env', cmd, ...args];
    const child = spawn('setpriv', argv, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300000);  // a liveness bound of minutes
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout, stderr })));
  });
}

// One process reads each link twice (readlink, then lstat's size), in the order given: a warm memo entry
// of one link must never answer another link with the same target text.
const READ = `
import os, sys
for p in sys.argv[1:]:
    print(os.path.basename(p), os.readlink(p), os.lstat(p).st_size, os.readlink(p))
`;

function populate(d: string): void {
  fs.chmodSync(d, 0o1777);
  for (const v of ['A', 'C']) {
    fs.mkdirSync(path.join(d, v));
    fs.chmodSync(path.join(d, v), 0o755);
    fs.writeFileSync(path.join(d, v, 'go'), `#!/bin/echo ${v}\n`, { mode: 0o755 });
  }
  fs.symlinkSync('$<SECRET:-none>', path.join(d, 'root-link'));
  fs.symlinkSync('$<V:-C>', path.join(d, 'root-bin'));
}

describe('a variant link reads the follower\'s environment only if the follower, root or the mount\'s owner owns it', { skip }, () => {
  test('readlink and lstat: another user\'s link gets the fallback, never the follower\'s value; warm answers of an allowed link with the same target do not leak into it', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: populate });
    const mk = await run(plain!, 'sh', ['-c', 'cd "$0" && ln -s \'$<SECRET:-none>\' plain-link && ln -s \'$<V:-C>\' plain-bin', m.dir]);
    assert.equal(mk.code, 0, mk.stderr);
    const raw = await runRaw('ln', ['-s', '$<SECRET:-none>', path.join(m.dir, 'raw-link')]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(fs.lstatSync(path.join(m.dir, 'plain-link')).uid, plain!.uid);
    assert.equal(fs.lstatSync(path.join(m.dir, 'raw-link')).uid, RAW_UID);
    const links = ['root-link', 'plain-link', 'raw-link', 'root-link', 'plain-link'].map((l) => path.join(m.dir, l));
    const line = (name: string, v: string) => `${name} ${v} ${v.length} ${v}`;

    const byRoot = await run(root!, 'python3', ['-c', READ, ...links], { SECRET: 'rootsecret' });
    assert.equal(byRoot.code, 0, byRoot.stderr);
    assert.deepEqual(byRoot.stdout.trim().split('\n'), [
      line('root-link', 'rootsecret'), line('plain-link', 'none'), line('raw-link', 'none'), line('root-link', 'rootsecret'), line('plain-link', 'none'),
    ]);
    const byPlain = await run(plain!, 'python3', ['-c', READ, ...links], { SECRET: 'plainsecret' });
    assert.equal(byPlain.code, 0, byPlain.stderr);
    assert.deepEqual(byPlain.stdout.trim().split('\n'), [
      line('root-link', 'plainsecret'), line('plain-link', 'plainsecret'), line('raw-link', 'none'), line('root-link', 'plainsecret'), line('plain-link', 'plainsecret'),
    ]);
    const byRaw = await runRaw('python3', ['-c', READ, ...links], { SECRET: 'rawsecret' });
    assert.equal(byRaw.code, 0, byRaw.stderr);
    assert.deepEqual(byRaw.stdout.trim().split('\n'), [
      line('root-link', 'rawsecret'), line('plain-link', 'none'), line('raw-link', 'rawsecret'), line('root-link', 'rawsecret'), line('plain-link', 'none'),
    ]);
  });

  test('exec through another user\'s link: the pending exec\'s value is not used either', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: populate });
    const mk = await run(plain!, 'sh', ['-c', 'cd "$0" && ln -s \'$<V:-C>\' plain-bin', m.dir]);
    assert.equal(mk.code, 0, mk.stderr);
    const GO = '{ V=A "$0/root-bin/go"; V=A "$0/plain-bin/go"; } | cut -d" " -f1';
    const r = await run(root!, 'sh', ['-c', GO, m.dir]);
    assert.equal(r.stdout, 'A\nC\n', r.stderr);
    const own = await run(plain!, 'sh', ['-c', GO, m.dir]);
    assert.equal(own.stdout, 'A\nA\n', own.stderr);
  });

  test('resolve --explain says which link-owner rule applied', T, async (t) => {
    const m = await mount(t, root!, { args: ['--allow-other'], setup: populate });
    const mk = await run(plain!, 'sh', ['-c', 'cd "$0" && ln -s \'$<SECRET:-none>\' plain-link', m.dir]);
    assert.equal(mk.code, 0, mk.stderr);
    const other = await m.cli(['resolve', path.join(m.dir, 'plain-link'), '--explain'], { SECRET: 'rootsecret' });
    // (exit 1: the target, none, is not installed; the explanation comes first)
    assert.match(other.stdout, new RegExp(`\\nlink owner   uid ${plain!.uid}, not the follower \\(uid 0\\), root or the mount's owner: the follower's environment is not read\\n`));
    assert.match(other.stdout, /\nresolves to {2}none\n/);
    const mine = await m.cli(['resolve', path.join(m.dir, 'root-link'), '--explain'], { SECRET: 'rootsecret' });
    assert.match(mine.stdout, /\nlink owner {3}uid 0: the follower\n/);
    assert.match(mine.stdout, /\nresolves to {2}rootsecret\n/);
    const json = JSON.parse((await m.cli(['resolve', path.join(m.dir, 'plain-link'), '--json'], { SECRET: 'rootsecret' })).stdout);
    assert.equal(json.linkOwner.rule, 'other');
    assert.equal(json.linkOwner.uid, plain!.uid);
  });
});
