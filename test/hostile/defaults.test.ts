// The mount defaults' file under attack (src/defaults.ts; issue 9, findings 9 and 11): `varsymfs defaults`
// never writes through a symlink planted in the store, and the reserved name never becomes a symlink.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { T } from '../helpers/hostile';
import { mount, tempDir } from '../helpers/mount';
import { testUsers } from '../helpers/users';

for (const [label, user] of testUsers()) {
  describe(`${label}`, () => {
    test('9. `varsymfs defaults` never writes through a planted symlink', T, async (t) => {
      const store = tempDir(t, user);
      const m = await mount(t, user, { args: ['--source', store] });
      const victim = path.join(tempDir(t, user), 'victim');
      fs.writeFileSync(victim, 'untouched');
      for (let pid = m.pid - 2; pid <= m.pid + 2; pid++) fs.symlinkSync(victim, path.join(store, `.varsymfs-defaults.json.${pid}.tmp`));
      const r = await m.cli(['defaults', m.dir, 'X=1']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(store, '.varsymfs-defaults.json'), 'utf8')), { X: '1' });
    });

    test('11. a rejected symlink onto the reserved name is not created', T, async (t) => {
      const store = tempDir(t, user);
      const m = await mount(t, user, { args: ['--source', store] });
      for (const name of ['.varsymfs-defaults.json', '.varsymfs-defaults.json.tmp']) {
        const r = await m.run('ln', ['-s', 'x', path.join(m.dir, name)]);
        assert.notEqual(r.code, 0);
        assert.throws(() => fs.lstatSync(path.join(store, name)), /ENOENT/, `${name} must not exist in the store`);
      }
      for (const [cmd, args] of [['cat', ['.varsymfs-defaults.json']], ['touch', ['.varsymfs-defaults.json']], ['mkdir', ['.varsymfs-defaults.jsonx']]] as const) {
        assert.notEqual((await m.run(cmd, args.map((a) => path.join(m.dir, a)))).code, 0, `${cmd} ${args[0]}`);
      }
      assert.deepEqual(fs.readdirSync(store), []);
      // A target is text, not a name in the mount: a link whose target is the reserved path is an ordinary
      // link, and what the caller is told agrees with what the store holds.
      const r = await m.run('ln', ['-s', '/.varsymfs-defaults.json', path.join(m.dir, 'points-at-it')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readlinkSync(path.join(store, 'points-at-it')), '/.varsymfs-defaults.json');
    });
  });
}
