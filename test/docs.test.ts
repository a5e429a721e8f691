// The docs' examples run as written: every ```sh block of docs/gvm.md, in order, as one bash script
// against a real mount, as root and as the unprivileged user. `cmd  #=> text` asserts cmd prints text;
// /home/you in an expectation stands for the home directory.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers/mount';
import { describeEachUser, run } from './helpers/users';

const DOCS = path.resolve(__dirname, '..', '..', 'docs');

/** Turns a markdown file's sh blocks into one checked bash script. */
export function scriptOf(markdown: string): string {
  const blocks = [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
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
      lines.push(`got=$( ${cmd} ); want=${want}; if [ "$got" != "$want" ]; then printf 'MISMATCH: %s\\n  want: %s\\n  got:  %s\\n' ${JSON.stringify(cmd).replace(/\$/g, '\\$')} "$want" "$got"; exit 1; fi`);
    }
  }
  return lines.join('\n') + '\n';
}

describeEachUser((user) => {
  test('docs/gvm.md: every shell block runs as written', { timeout: 120000 }, async (t) => {
    const home = tempDir(t, user, 'varsymfs-home-');
    const script = scriptOf(fs.readFileSync(path.join(DOCS, 'gvm.md'), 'utf8'));
    assert.ok(script.split('MISMATCH').length > 10, 'the walk-through checks its outputs');
    const binDir = path.dirname(user.bin);
    const r = await run(user, 'bash', ['-c', script], { HOME: home, PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin`, XDG_STATE_HOME: path.join(home, '.state'), XDG_RUNTIME_DIR: '' }, { cwd: home, timeoutMs: 100000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  });
});
