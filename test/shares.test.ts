// One user's share of the daemon (src/binding/shares.c; issue 17, item 4): a user holds at most 16 of the
// daemon's resolutions at once, through a root --allow-other mount, with the unprivileged test user's
// resolutions held on a hung FUSE filesystem and root as the other user.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { READLINK_IN, readlinkFrom, stallMount } from './helpers/execenv';
import { mount, tempDir } from './helpers/mount';
import { plainUser, rootUser, run } from './helpers/users';

const T = { timeout: 300000 };

const root = rootUser();
const plain = plainUser();
const crossUser = !root || !plain || plain.uid === 0 ? 'needs root and the unprivileged test user' : false;
const EAGAIN = 11;

describe('one user\'s share of the daemon', { skip: crossUser }, () => {
  test('a user whose resolutions are held pins at most 16; its next are refused (EAGAIN), counted, and another user\'s resolution and a plain stat complete', T, async (t) => {
    const SHARE = 16;
    const CALLERS = SHARE + 8;
    // The attacker works in directories of a hung FUSE filesystem: each of its walks for project files
    // stays there (given a long --project-timeout), holding its resolution in the daemon.
    const stall = await stallMount(t);
    const m = await mount(t, root!, {
      dir: tempDir(t, root!, 'bounds-'),
      args: ['--allow-other', '--project-timeout', '600'],
      setup: (d) => {
        // A directory per caller: the kernel serializes lookups within one directory of a FUSE mount.
        for (let i = 0; i < CALLERS; i++) {
          fs.mkdirSync(path.join(d, `a${i}`));
          fs.symlinkSync('$<NOPE:-fallback>', path.join(d, `a${i}`, 'v'));
        }
        fs.mkdirSync(path.join(d, 'b'));
        fs.symlinkSync('$<B_VAR>', path.join(d, 'b', 'v'));
        fs.writeFileSync(path.join(d, 'plain'), 'plain\n');
      },
    });
    const callers = Array.from({ length: CALLERS }, (_, i) => readlinkFrom(t, plain!, path.join(stall.dir, 'hold', `d${i}`), path.join(m.dir, `a${i}`, 'v')));
    // The first CALLERS - SHARE to finish are the ones past the share: each refused after a bounded wait.
    const early: string[] = [];
    await new Promise<void>((resolve) => {
      for (const c of callers) {
        void c.done.then((out) => {
          early.push(out);
          if (early.length === CALLERS - SHARE) resolve();
        });
      }
    });
    assert.deepEqual(early, Array(CALLERS - SHARE).fill(`errno ${EAGAIN}`), 'the callers past the share are refused');
    // Another user, meanwhile: a cold resolution (a new process, a new environment) and a plain stat.
    const b = await run(root!, 'python3', ['-c', READLINK_IN, '/', path.join(m.dir, 'b', 'v')], { B_VAR: 'bee' });
    assert.equal(b.stdout.trim(), 'bee', b.stderr);
    const st = await run(root!, 'stat', ['-c', '%s', path.join(m.dir, 'plain')]);
    assert.equal(st.stdout.trim(), '6', st.stderr);
    const status = await m.cli(['status', m.dir, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const cache = (JSON.parse(status.stdout) as Array<{ cache: { shareRefused?: number } }>)[0]!.cache;
    assert.ok((cache.shareRefused ?? 0) >= CALLERS - SHARE, `status counts the refusals: ${JSON.stringify(cache)}`);
    // Released, the held ones get their answer (each walk's next lookup is held again: answered in turn).
    let finished = false;
    const all = Promise.all(callers.map((c) => c.done)).finally(() => (finished = true));
    while (!finished) {
      stall.release();
      await Promise.race([stall.held(), all]);
    }
    const late = await all;
    assert.equal(late.filter((o) => o === 'fallback').length, SHARE, late.join(', '));
  });
});
