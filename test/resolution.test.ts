// Which environment a resolution uses, through real mounts and real processes (issue #3's table, the rows
// implemented so far).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { mount } from './helpers/mount';
import { describeEachUser } from './helpers/users';

const T = { timeout: 300000 };

function populate(d: string): void {
  fs.writeFileSync(path.join(d, 'bar'), 'bar');
  fs.writeFileSync(path.join(d, 'baz'), 'baz');
  fs.symlinkSync('$<XXX>', path.join(d, 'foo'));
  for (const v of ['go1.0.3', 'go1.2.1']) {
    fs.mkdirSync(path.join(d, v, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(d, v, 'bin', 'go'), `#!/bin/sh\necho ${v}\n`, { mode: 0o755 });
  }
  fs.symlinkSync('$<GO_VERSION>', path.join(d, 'go'));
}

describeEachUser((user) => {
  test('one pid, three program images: each image reads its own environment', T, async (t) => {
    const m = await mount(t, user, { setup: (d) => (populate(d), fs.writeFileSync(path.join(d, 'qux'), 'qux')) });
    // The same process resolves foo itself in each image (a shell's redirection is the shell's own
    // open): sh with XXX=bar, then sh with XXX=baz, then cat with XXX=qux, each exec'd in place.
    const third = 'exec env XXX=qux cat "$0/foo"';
    const second = `echo $$; IFS= read -r b < "$0/foo"; echo "$b"; ${third}`;
    const first = `echo $$; IFS= read -r a < "$0/foo"; echo "$a"; exec env XXX=baz sh -c '${second}' "$0"`;
    const r = await m.run('sh', ['-c', first, m.dir], { XXX: 'bar' });
    const [pid1, a, pid2, b, c] = r.stdout.split('\n');
    assert.equal(pid1, pid2, 'one process');
    assert.deepEqual([a, b, c], ['bar', 'baz', 'qux'], r.stderr);
  });

  test('an empty value counts as unset: mount default, else inline fallback, else literal', T, async (t) => {
    const m = await mount(t, user, {
      args: ['--default', 'XXX=baz'],
      setup: (d) => {
        populate(d);
        fs.symlinkSync('$<NOPE:-bar>', path.join(d, 'fb'));
        fs.symlinkSync('${NOPE}', path.join(d, 'lit'));
      },
    });
    assert.equal((await m.run('cat', [path.join(m.dir, 'foo')], { XXX: '' })).stdout, 'baz', 'empty in the environment: the mount default');
    assert.equal((await m.run('cat', [path.join(m.dir, 'fb')], { NOPE: '' })).stdout, 'bar', 'empty, no default: the fallback');
    assert.equal((await m.run('readlink', [path.join(m.dir, 'lit')], { NOPE: '' })).stdout, '${NOPE}\n', 'empty, nothing else: literal');
    // An empty mount default would count as unset: it is refused (one line, the bad command line's exit
    // code); --unset removes one.
    const empty = await m.cli(['defaults', m.dir, 'XXX=', 'NOPE=']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^Error: invalid default 'XXX=': an empty value/);
    assert.equal((await m.cli(['defaults', m.dir, '--unset', 'XXX'])).stdout, '');
    assert.equal((await m.run('readlink', [path.join(m.dir, 'foo')], { XXX: '' })).stdout, '$<XXX>\n');
    assert.equal((await m.run('cat', [path.join(m.dir, 'fb')], { NOPE: '' })).stdout, 'bar');
  });

  test('a program being exec\'d is resolved with the environment passed to it, not the shell\'s', T, async (t) => {
    const m = await mount(t, user, { setup: populate });
    const r = await m.run('sh', ['-c', 'GO_VERSION=go1.2.1 "$0/go/bin/go"; "$0/go/bin/go"', m.dir], { GO_VERSION: 'go1.0.3' });
    assert.equal(r.stdout, 'go1.2.1\ngo1.0.3\n', r.stderr);
  });

  test('32 processes at once, each with its own value, 300 resolutions each: zero cross-talk', T, async (t) => {
    const m = await mount(t, user, {
      setup: (d) => {
        fs.symlinkSync('value-$<V>', path.join(d, 'l'));
      },
    });
    const loop = 'import os,sys\nbad=0\nfor i in range(300):\n  if os.readlink(sys.argv[1]) != "value-" + os.environ["V"]: bad += 1\nprint(bad)';
    const runs = await Promise.all(Array.from({ length: 32 }, (_, i) => m.run('python3', ['-c', loop, path.join(m.dir, 'l')], { V: `p${i}` })));
    assert.deepEqual(runs.map((r) => r.stdout.trim()), Array(32).fill('0'), runs.map((r) => r.stderr).join(''));
  });

  test('a multithreaded caller resolves with its process\'s environment from every thread', T, async (t) => {
    const m = await mount(t, user, { setup: populate });
    const script = 'import os,sys,threading\nout=[]\ndef w():\n  for i in range(50): out.append(os.readlink(sys.argv[1]))\nts=[threading.Thread(target=w) for _ in range(8)]\n[x.start() for x in ts]\n[x.join() for x in ts]\nprint(len(out), sorted(set(out)))';
    const r = await m.run('python3', ['-c', script, path.join(m.dir, 'foo')], { XXX: 'baz' });
    assert.equal(r.stdout, "400 ['baz']\n", r.stderr);
  });

  test('unset in the caller: mount default, else inline fallback, else literal', T, async (t) => {
    const m = await mount(t, user, {
      args: ['--default', 'XXX=baz'],
      setup: (d) => {
        populate(d);
        fs.symlinkSync('$<NOPE:-bar>', path.join(d, 'fb'));
        fs.symlinkSync('$<NOPE>', path.join(d, 'lit'));
      },
    });
    assert.equal((await m.run('cat', [path.join(m.dir, 'foo')])).stdout, 'baz');
    assert.equal((await m.run('cat', [path.join(m.dir, 'foo')], { XXX: 'bar' })).stdout, 'bar');
    assert.equal((await m.run('cat', [path.join(m.dir, 'fb')])).stdout, 'bar');
    assert.equal((await m.run('readlink', [path.join(m.dir, 'lit')])).stdout, '$<NOPE>\n');
    // The defaults persist with the mount's data, hidden from the mount itself.
    assert.equal((await m.run('ls', ['-A', m.dir])).stdout.includes('.varsymfs-defaults'), false);
    assert.equal((await m.cli(['unmount', m.dir])).code, 0);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(m.dir, '.varsymfs-defaults.json'), 'utf8')), { XXX: 'baz' });
  });
});
