// mise's configuration files in a subdirectory (`.config/mise.toml`, `.config/mise/config.toml`,
// `mise/config.toml`, `.mise/config.toml`; issue 21 item 2), through a real mount: a long-lived caller (the
// project/fast.c fast path answers it) sees each change of such a file, and of the subdirectory itself, at its
// next resolution; a symlink on the way to one is never followed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { T, goMount, needsRoot, prober, quietDir, root, runIn, settle, tree } from './helpers/prober';

const tools = (go: string) => `[tools]\ngo = "${go}"\n`;

describe('mise configuration files in a subdirectory', { skip: needsRoot }, () => {
  test('a long-lived caller sees each change of .config/mise.toml and .config/mise/config.toml at its next resolution', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'proj/': '', 'staging/.config/mise.toml': tools('1.21.0'), 'elsewhere/config.toml': tools('1.20.1') });
    const proj = path.join(base, 'proj');
    await settle();
    const p = await prober(t, root!, proj);
    const link = `r ${path.join(m.dir, 'GO')}`;
    const again = async (want: string, why: string) => {
      await settle();
      for (let i = 0; i < 3; i++) assert.equal(await p.ask(link), want, why);
    };
    await again('none', 'no project file');
    // The subdirectory renamed into place, with its file.
    fs.renameSync(path.join(base, 'staging', '.config'), path.join(proj, '.config'));
    await again('1.21.0', '.config renamed into place');
    fs.writeFileSync(path.join(proj, '.config', 'mise.toml'), tools('1.21.9'));
    await again('1.21.9', 'edited in place');
    fs.writeFileSync(path.join(proj, '.config', 'next'), tools('1.22.0'));
    fs.renameSync(path.join(proj, '.config', 'next'), path.join(proj, '.config', 'mise.toml'));
    await again('1.22.0', 'a new file renamed into place');
    // A directory made in the subdirectory, then a file linked into it: the only event seen is the mkdir.
    fs.mkdirSync(path.join(proj, '.config', 'mise'));
    fs.linkSync(path.join(base, 'elsewhere', 'config.toml'), path.join(proj, '.config', 'mise', 'config.toml'));
    await again('1.22.0', '.config/mise.toml wins over .config/mise/config.toml');
    fs.unlinkSync(path.join(proj, '.config', 'mise.toml'));
    await again('1.20.1', '.config/mise.toml removed: .config/mise/config.toml');
    fs.rmSync(path.join(proj, '.config'), { recursive: true });
    await again('none', '.config removed');
    fs.mkdirSync(path.join(proj, '.config'));
    await again('none', 'an empty .config');
    fs.writeFileSync(path.join(proj, '.config', 'mise.toml'), tools('1.21.10'));
    assert.equal(await p.ask(link), '1.21.10', 'a file created in a .config made after the last walk');
  });

  test('a symlink on the way to a subdirectory config file, or the file itself a symlink, is never followed', T, async (t) => {
    const m = await goMount(t);
    const base = quietDir(t);
    tree(base, { 'real/.config/mise.toml': tools('1.21.0'), 'real/mise.toml': tools('1.21.9'), 'a/': '', 'b/.config/': '', 'c/mise/': '' });
    fs.symlinkSync(path.join(base, 'real', '.config'), path.join(base, 'a', '.config'));
    fs.symlinkSync(path.join(base, 'real', '.config', 'mise.toml'), path.join(base, 'b', '.config', 'mise.toml'));
    fs.symlinkSync(path.join(base, 'real', 'mise.toml'), path.join(base, 'c', 'mise', 'config.toml'));
    const read = async (dir: string) => (await runIn(root!, path.join(base, dir), ['/usr/bin/readlink', path.join(m.dir, 'GO')], { EDITOR: 'vi' })).stdout;
    assert.equal(await read('real'), '1.21.9\n', 'mise.toml over .config/mise.toml');
    assert.equal(await read('a'), 'none\n', '.config a symlink');
    assert.equal(await read('b'), 'none\n', '.config/mise.toml a symlink');
    assert.equal(await read('c'), 'none\n', 'mise/config.toml a symlink');
  });
});
