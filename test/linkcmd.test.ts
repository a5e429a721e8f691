// `varsymfs link <mount> --from …` and `--defaults-from mise` (src/linkcmd.ts) through a real mount: the links
// it makes run the installed versions, it says what it did, and it overwrites nothing without --force.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { chownTree, mount, tempDir } from './helpers/mount';
import { describeEachUser } from './helpers/users';

const T = { timeout: 300000 };

describeEachUser((user) => {
  test('link --from mise, --defaults-from mise, and --force', T, async (t) => {
    const home = tempDir(t, user, 'varsymfs-firsthour-');
    for (const v of ['1.21.0', '1.22.3']) {
      fs.mkdirSync(path.join(home, `.local/share/mise/installs/go/${v}/bin`), { recursive: true });
      fs.writeFileSync(path.join(home, `.local/share/mise/installs/go/${v}/bin/go`), `#!/bin/sh\necho go${v}\n`, { mode: 0o755 });
    }
    fs.mkdirSync(path.join(home, '.local/share/mise/installs/node/20.11.1/bin'), { recursive: true });
    fs.mkdirSync(path.join(home, '.config/mise'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config/mise/config.toml'), '[tools]\ngo = "1.21.0"\nnode = "prefix:20"\n');
    chownTree(home, user);
    const m = await mount(t, user, { setup: (d) => fs.symlinkSync('elsewhere', path.join(d, 'node')) });
    const env = { HOME: home };
    const r = await m.cli(['link', m.dir, '--from', 'mise', '--defaults-from', 'mise'], env);
    assert.equal(r.code, 1, 'node was left alone');
    assert.match(r.stdout, new RegExp(`^linked ${m.dir}/go -> ${home}/\\.local/share/mise/installs/go/\\$<GO_VERSION>$`, 'm'));
    assert.match(r.stdout, new RegExp(`^skipped ${m.dir}/node: it is a link to elsewhere \\(--force replaces it\\)$`, 'm'));
    assert.match(r.stdout, /^default GO_VERSION=1\.21\.0$/m);
    // `prefix:20` is the partial version 20: the default as written, matched at resolution (below).
    assert.match(r.stdout, /^default NODE_VERSION=20$/m);
    assert.equal((await m.run(path.join(m.dir, 'go/bin/go'), [], {})).stdout, 'go1.21.0\n', 'the mount default');
    assert.equal((await m.run(path.join(m.dir, 'go/bin/go'), [], { GO_VERSION: '1.22.3' })).stdout, 'go1.22.3\n');
    const again = await m.cli(['link', m.dir, '--from', 'mise', '--force'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`^unchanged ${m.dir}/go -> `, 'm'));
    assert.match(again.stdout, new RegExp(`^replaced ${m.dir}/node -> .*installs/node/\\$<NODE_VERSION> \\(was a link to elsewhere\\)$`, 'm'));
    assert.equal((await m.run('readlink', [path.join(m.dir, 'node')], {})).stdout, `${home}/.local/share/mise/installs/node/20.11.1\n`, 'the newest installed 20.x');
    const bad = await m.cli(['link', m.dir, '--from', 'brew'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Error: .*brew.*mise, asdf, nvm, pyenv, rbenv, goenv/);
  });
});
