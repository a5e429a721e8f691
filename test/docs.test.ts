// The docs' examples run as written: the ```sh blocks of the README, docs/usage.md, docs/gvm.md and
// docs/version-managers.md, in that order, as one bash script in one home against real mounts, as root and
// as the unprivileged user.
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

// The documents in the order a reader takes them (the README's list), run as one script in one home, so
// that each starts from what the ones before it left: the README's first command (installing, then
// mounting ~/vs) is stood in for by the prelude; the Go versions of the README's example are stand-ins.
const STAND_INS = `for v in go1.0.3 go1.2.1; do mkdir -p ~/vs/$v/bin; printf '#!/bin/sh\\necho "go version %s linux/amd64"\\n' $v > ~/vs/$v/bin/go; chmod +x ~/vs/$v/bin/go; done`;
const PRELUDE = `mkdir -p ~/vs && varsymfs mount ~/vs\n${STAND_INS}`;
const DOCUMENTS: Array<{ file: string; skip: string[]; checks: number }> = [
  { file: 'README.md', skip: ['# varsymfs', '## Install as a command'], checks: 4 },
  { file: 'docs/usage.md', skip: ['## Install'], checks: 4 },
  { file: 'docs/gvm.md', skip: [], checks: 10 },
  { file: 'docs/version-managers.md', skip: [], checks: 20 },
];

describeEachUser((user) => {
  test(`${DOCUMENTS.map((d) => d.file).join(', ')}: every shell block runs as written, in the reader's order`, { timeout: 900000 }, async (t) => {
    const home = tempDir(t, user, 'varsymfs-home-');
    const scripts = DOCUMENTS.map((doc) => {
      const script = scriptOf(fs.readFileSync(path.join(ROOT, doc.file), 'utf8'), doc.skip);
      assert.ok(script.split('MISMATCH').length > doc.checks, `${doc.file} checks its outputs (at least ${doc.checks} #=> lines)`);
      // Which document a failure is in; each starts where a reader would: in the home directory.
      return `printf '== %s\\n' ${JSON.stringify(doc.file)} >&2; cd ~\n${script}`;
    });
    const binDir = path.dirname(user.bin);
    const r = await run(user, 'bash', ['-c', `set -euo pipefail\n${PRELUDE}\n${scripts.join('\n')}`], { HOME: home, PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin`, XDG_STATE_HOME: path.join(home, '.state'), XDG_RUNTIME_DIR: '' }, { cwd: home, timeoutMs: 840000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  });
});
