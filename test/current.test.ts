// "What runs here", through real mounts: `resolve` of a path through links (which-style) and a loud "not
// installed"; `current` listing every variant link with its value, scope, file:line and install
// directory, and the project files it read or skipped; `doctor` warning about a dangling link on PATH.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { chownTree, mount, tempDir, type Mounted } from './helpers/mount';
import { describeEachUser, type TestUser } from './helpers/users';

const T = { timeout: 300000 };

function script(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\necho "${text}"\n`, { mode: 0o755 });
}

/** A mount with go 1.22.3 and terraform 1.7.5 installed under installs/, one variant link each. */
async function toolMount(t: import('node:test').TestContext, user: TestUser): Promise<Mounted> {
  return mount(t, user, {
    setup: (d) => {
      script(path.join(d, 'installs/go/1.22.3/bin/go'), 'go 1.22.3');
      script(path.join(d, 'installs/terraform/1.7.5/bin/terraform'), 'terraform 1.7.5');
      fs.symlinkSync('installs/go/$<GO_VERSION>', path.join(d, 'go'));
      fs.symlinkSync('installs/terraform/$<TERRAFORM_VERSION>', path.join(d, 'terraform'));
      fs.mkdirSync(path.join(d, 'deep/er'), { recursive: true });
      fs.symlinkSync('$<DEEP:-x>', path.join(d, 'deep/er/link'));
    },
  });
}

/** A project that pins go 1.22.3 and a terraform that is not installed, with files the walk skips. */
function project(t: import('node:test').TestContext, user: TestUser): string {
  const dir = tempDir(t, user, 'varsymfs-firsthour-');
  fs.mkdirSync(path.join(dir, 'sub/.go-version'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.tool-versions'), 'golang 1.22.3\nterraform 9.9.9\n');
  fs.writeFileSync(path.join(dir, 'sub/.python-version'), 'x'.repeat(70000));
  chownTree(dir, user);
  return path.join(dir, 'sub');
}

describeEachUser((user) => {
  test('resolve: a path through links names each link and ends at the file that runs', T, async (t) => {
    const m = await toolMount(t, user);
    const r = await m.cli(['resolve', path.join(m.dir, 'go/bin/go')], { GO_VERSION: '1.22.3' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${m.dir}/go -> installs/go/1.22.3  (installs/go/$<GO_VERSION>)\n${m.dir}/installs/go/1.22.3/bin/go\n`);
    assert.equal((await m.cli(['resolve', path.join(m.dir, 'go')], { GO_VERSION: '1.22.3' })).stdout, 'installs/go/1.22.3\n', 'a link itself: its target, as before');
  });

  test('resolve: a target that is not installed is one line and exit 1, also with --explain and --json', T, async (t) => {
    const m = await toolMount(t, user);
    for (const args of [[], ['--explain'], ['--json']]) {
      const r = await m.cli(['resolve', ...args, path.join(m.dir, 'go/bin/go')], { GO_VERSION: '9.9.9' });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.equal(r.stderr, `Error: ${m.dir}/go -> installs/go/9.9.9 (from installs/go/$<GO_VERSION>): not installed (${m.dir}/installs/go/9.9.9 does not exist)\n`);
      if (args.length === 0) assert.equal(r.stdout, '');
    }
  });

  test('resolve: a file followed by / or /. is not a directory, as the kernel says (ENOTDIR), exit 1', T, async (t) => {
    const m = await toolMount(t, user);
    for (const tail of ['/', '/.']) {
      const file = path.join(m.dir, 'go/bin/go') + tail;
      const kernel = await m.run('stat', [file], { GO_VERSION: '1.22.3' });
      assert.match(kernel.stderr, /Not a directory/, `the kernel: ${tail}`);
      const r = await m.cli(['resolve', file], { GO_VERSION: '1.22.3' });
      assert.equal(r.code, 1, `${tail}: ${r.stdout}`);
      assert.equal(r.stderr, `Error: ${m.dir}/go -> installs/go/1.22.3 (from installs/go/$<GO_VERSION>): not installed (${m.dir}/installs/go/1.22.3/bin/go is not a directory)\n`);
    }
  });

  test('resolve: `..` after a link goes up from where the link led, as the kernel does (not lexically)', T, async (t) => {
    const m = await toolMount(t, user);
    // go -> installs/go/1.22.3, then `../..` is installs/ and terraform there is a directory; lexically it would be the terraform link.
    const file = `${m.dir}/go/../../terraform`;
    const kernel = await m.run('readlink', ['-f', file], { GO_VERSION: '1.22.3', TERRAFORM_VERSION: '1.7.5' });
    assert.equal(kernel.stdout, `${m.dir}/installs/terraform\n`, 'the kernel');
    const r = await m.cli(['resolve', file, '--json'], { GO_VERSION: '1.22.3', TERRAFORM_VERSION: '1.7.5' });
    assert.equal(r.code, 0, r.stderr);
    const js = JSON.parse(r.stdout) as { hops: Array<{ link: string }>; path: string; exists: boolean };
    assert.deepEqual([js.hops.map((h) => h.link), js.path, js.exists], [[`${m.dir}/go`], `${m.dir}/installs/terraform`, true]);
  });

  test('current -C DIR: every variant link with value, scope, file:line and install, then the project files read and skipped', T, async (t) => {
    const m = await toolMount(t, user);
    const proj = project(t, user);
    const r = await m.cli(['current', '-C', proj]);
    assert.equal(r.code, 0, r.stderr);
    const root = path.dirname(proj);
    assert.match(r.stdout, new RegExp(`^  go +GO_VERSION=1\\.22\\.3 +project file +${root}/\\.tool-versions:1 +${m.dir}/installs/go/1\\.22\\.3$`, 'm'));
    assert.match(r.stdout, new RegExp(`^  terraform +TERRAFORM_VERSION=9\\.9\\.9 +project file +${root}/\\.tool-versions:2 +${m.dir}/installs/terraform/9\\.9\\.9 +NOT INSTALLED$`, 'm'));
    assert.match(r.stdout, /^ {2}deep\/er\/link +DEEP=x +inline fallback/m, 'links below the top level');
    assert.match(r.stdout, new RegExp(`^  ${proj}/\\.go-version +skipped: not a regular file$`, 'm'));
    assert.match(r.stdout, new RegExp(`^  ${proj}/\\.python-version +skipped: larger than 65536 bytes$`, 'm'));
    assert.match(r.stdout, new RegExp(`^  ${root}/\\.tool-versions +read$`, 'm'));
    const js = JSON.parse((await m.cli(['current', '-C', proj, '--json'], { GO_VERSION: '1.21.0' })).stdout) as { mounts: Array<{ mountPoint: string; links: Array<{ link: string; exists: boolean; path: string; refs: Array<{ scope: string; value: string }> }> }>; projectFiles: Array<{ file: string; status: string }> };
    const links = js.mounts.find((x) => x.mountPoint === m.dir)!.links;
    const go = links.find((l) => l.link === `${m.dir}/go`)!;
    assert.deepEqual([go.exists, go.path, go.refs[0]!.scope, go.refs[0]!.value], [false, `${m.dir}/installs/go/1.21.0`, 'environment', '1.21.0']);
    assert.ok(js.projectFiles.some((f) => f.file === `${root}/.tool-versions` && f.status === 'read'));
    const bad = await m.cli(['current', '-C', path.join(proj, 'nope')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: .*nope.* does not exist\n$/);
  });

  test('doctor: a PATH directory through a dangling variant link, and the other binary that would run instead', T, async (t) => {
    const m = await toolMount(t, user);
    const proj = project(t, user);
    const other = tempDir(t, user, 'varsymfs-firsthour-');
    script(path.join(other, 'terraform'), 'the system terraform');
    chownTree(other, user);
    const env = { ...m.env, PATH: `${m.dir}/terraform/bin:${m.dir}/go/bin:${other}:/usr/bin:/bin` };
    const r = await m.run(user.bin, ['doctor'], env, { cwd: proj });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`PATH entry ${m.dir}/terraform/bin: ${m.dir}/terraform -> installs/terraform/9\\.9\\.9 .*not installed`));
    assert.match(r.stdout, new RegExp(`terraform would run ${other}/terraform instead`));
    assert.doesNotMatch(r.stdout, /go\/bin:/, 'go is installed');
    const fine = await m.run(user.bin, ['doctor'], { ...env, TERRAFORM_VERSION: '1.7.5' }, { cwd: proj });
    assert.equal(fine.code, 0, fine.stdout + fine.stderr);
    assert.match(fine.stdout, /no problems/);
  });
});
