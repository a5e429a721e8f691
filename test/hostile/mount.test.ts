// Mounting under attack (src/daemon.ts, src/cli.ts): a long --source path is a clear error past the limit
// and never costs default_permissions (issue 9, finding 7); a normal user's --allow-other mount says whose
// rights it serves with (the native-path review, L: a documented limit, docs/security.md explains).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { T, needsRootAndPlain, plain, root } from '../helpers/hostile';
import { mount, tempDir } from '../helpers/mount';
import { run, testUsers } from '../helpers/users';

for (const [label, user] of testUsers()) {
  describe(`${label}`, () => {
    test('7. a long source path is a clear error past the limit, and never costs default_permissions', T, async (t) => {
      const base = tempDir(t, user);
      let deep = base;
      while (deep.length < 1500) deep = path.join(deep, 'd'.repeat(200));
      fs.mkdirSync(deep, { recursive: true });
      if (process.geteuid?.() === 0) spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, base]);
      const mnt = tempDir(t, user);
      const ok = await run(user, user.bin, ['mount', mnt, '--source', deep, '--allow-other'], { XDG_STATE_HOME: path.join(base, 'state') });
      t.after(() => run(user, user.bin, ['unmount', mnt]));
      assert.equal(ok.code, 0, ok.stderr);
      const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt) ?? '';
      assert.match(line, /default_permissions/);
      assert.match(line, /allow_other/);
      await run(user, user.bin, ['unmount', mnt]);
      let tooDeep = deep;
      while (tooDeep.length < 3500) tooDeep = path.join(tooDeep, 'e'.repeat(200));
      fs.mkdirSync(tooDeep, { recursive: true });
      if (process.geteuid?.() === 0) spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, base]);
      const bad = await run(user, user.bin, ['mount', mnt, '--source', tooDeep], { XDG_STATE_HOME: path.join(base, 'state') });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^Error: the source path is too long to mount/);
      assert.equal(bad.stderr.trim().split('\n').length, 1);
    });
  });
}

describe('L. a normal user\'s --allow-other mount says whose rights it serves with', { skip: needsRootAndPlain }, () => {
  test('one warning line at mount; none for root or without --allow-other', T, async (t) => {
    const m = await mount(t, plain!, { args: ['--allow-other'] });
    assert.match(m.output.stderr, /^Warning: --allow-other on a normal user's mount serves every user with your rights/m);
    assert.equal(m.output.stderr.split('\n').filter((l) => l.startsWith('Warning: --allow-other')).length, 1);
    const r = await mount(t, root!, { args: ['--allow-other'] });
    assert.doesNotMatch(r.output.stderr, /--allow-other on a normal user's mount/);
    const p = await mount(t, plain!);
    assert.doesNotMatch(p.output.stderr, /--allow-other/);
  });
});
