// The docs' examples run as written: the ```sh blocks of docs/gvm.md, docs/version-managers.md, the README
// and docs/usage.md, in order, each document as one bash script against a real mount, as root and as the
// unprivileged user.
// `cmd  #=> text` asserts cmd prints text; /home/you in an expectation stands for the home directory.
// Blocks under a heading listed in `skip` (installing the project) are not run: the suite has done that.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers/mount';
import { describeEachUser, run } from './helpers/users';

const ROOT = path.resolve(__dirname, '..', '..');

/** Turns a markdown file's sh blocks (except those under a heading in `skip`) into one checked bash script. */
export function scriptOf(markdown: string, skip: readonly string[] = []): string {
  const blocks = [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)]
    .filter((m) => !skip.includes([...markdown.slice(0, m.index).matchAll(/^#+ .*$/gm)].pop()?.[0] ?? ''))
    .map((m) => m[1]!);
  const lines: string[] = ['set -euo pipefail'];
  for (const block of blocks) {
    for (const line of block.split('\n')) {
      const m = /^(.*?)\s+#=> (.*)$/.exec(line);
      if (!m) {
        lines.push(line);
        continue;
      }
      const [, cmd, expected] = m;
      const want = JSON.stringify(expected).replace(/\$/g, '\\$').replace(/`/g, '\\`').replace(/\/home\/you/g, '$HOME');
      const shown = JSON.stringify(cmd).replace(/\$/g, '\\$');
      // A failing command would end the script silently (set -e in an assignment): name it instead.
      lines.push(`got=$( ${cmd} ) || { printf 'FAILED (exit %s): %s\\n' "$?" ${shown}; exit 1; }`);
      lines.push(`want=${want}; if [ "$got" != "$want" ]; then printf 'MISMATCH: %s\\n  want: %s\\n  got:  %s\\n' ${shown} "$want" "$got"; exit 1; fi`);
    }
  }
  return lines.join('\n') + '\n';
}

// Each document: what runs before its blocks (what an earlier step of the reader's did), and the blocks not run.
const STAND_INS = `for v in go1.0.3 go1.2.1; do mkdir -p ~/vs/$v/bin; printf '#!/bin/sh\\necho "go version %s linux/amd64"\\n' $v > ~/vs/$v/bin/go; chmod +x ~/vs/$v/bin/go; done`;
const DOCUMENTS: Array<{ file: string; prelude: string; skip: string[]; checks: number }> = [
  { file: 'docs/gvm.md', prelude: '', skip: [], checks: 10 },
  // The README's first command ends by mounting ~/vs; the Go versions are stand-ins.
  { file: 'README.md', prelude: `mkdir -p ~/vs && varsymfs mount ~/vs\n${STAND_INS}`, skip: ['# varsymfs'], checks: 4 },
  { file: 'docs/usage.md', prelude: 'mkdir -p ~/vs ~/toolchains', skip: ['## Install'], checks: 4 },
  { file: 'docs/version-managers.md', prelude: '', skip: [], checks: 20 },
];

describeEachUser((user) => {
  for (const doc of DOCUMENTS) {
    test(`${doc.file}: every shell block runs as written`, { timeout: 120000 }, async (t) => {
      const home = tempDir(t, user, 'varsymfs-home-');
      const script = scriptOf(fs.readFileSync(path.join(ROOT, doc.file), 'utf8'), doc.skip);
      assert.ok(script.split('MISMATCH').length > doc.checks, `the document checks its outputs (at least ${doc.checks} #=> lines)`);
      const binDir = path.dirname(user.bin);
      const r = await run(user, 'bash', ['-c', `set -euo pipefail\n${doc.prelude}\n${script}`], { HOME: home, PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin`, XDG_STATE_HOME: path.join(home, '.state'), XDG_RUNTIME_DIR: '' }, { cwd: home, timeoutMs: 600000 });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    });
  }
});
