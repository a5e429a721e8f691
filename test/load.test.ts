// Load: many concurrent client processes, each with its own variable value, mixing resolutions, reads,
// writes, creates and deletes. Zero wrong answers, zero errors, daemon RSS reported, and the backing
// directory consistent afterwards. Each client is checked on its own. All clients start their loop
// together (a "go" file, outside the mount, once every one is ready), so the run has a well-defined
// start. CI runs a short variant; `npm run test:stress` the full one (VARSYMFS_LOAD_SECONDS=60).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { mount, tempDir, waitFor } from './helpers/mount';
import { describeEachUser } from './helpers/users';

const SECONDS = Number(process.env.VARSYMFS_LOAD_SECONDS ?? 10);
const CLIENTS = Number(process.env.VARSYMFS_LOAD_CLIENTS ?? 64);

const CLIENT = `
import os, sys, time, json
d, me, sync = sys.argv[1], os.environ["V"], sys.argv[3]
ops = wrong = errors = 0
own = os.path.join(d, "own-" + me)
tmpdir = os.path.join(d, "tmp-" + me)
os.mkdir(tmpdir)
shared = open(os.path.join(d, "shared"), "rb").read()
open(os.path.join(sync, "ready-" + me), "w").close()
while not os.path.exists(os.path.join(sync, "go")):
    time.sleep(0.01)
deadline = time.time() + float(sys.argv[2])
i = 0
while time.time() < deadline:
    i += 1
    try:
        if os.readlink(os.path.join(d, "link")) != "dir-" + me: wrong += 1
        if open(os.path.join(d, "link", "id")).read() != me: wrong += 1
        if open(os.path.join(d, "shared"), "rb").read() != shared: wrong += 1
        with open(own, "w") as f: f.write("%s %d" % (me, i))
        if open(own).read() != "%s %d" % (me, i): wrong += 1
        t = os.path.join(tmpdir, "t%d" % (i % 5))
        with open(t, "w") as f: f.write("x")
        os.unlink(t)
        ops += 8
    except OSError as e:
        errors += 1
        sys.stderr.write("%s: %s\\n" % (me, e))
os.rmdir(tmpdir)
print(json.dumps({"me": me, "ops": ops, "wrong": wrong, "errors": errors, "last": i}))
`;

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

describeEachUser((user) => {
  test(`${CLIENTS} concurrent clients for ${SECONDS} s: zero wrong answers, zero errors, RSS flat, backing consistent`, { timeout: (SECONDS + 120) * 1000 }, async (t) => {
    const m = await mount(t, user, {
      setup: (d) => {
        fs.writeFileSync(path.join(d, 'shared'), Buffer.alloc(32768, 7));
        fs.symlinkSync('dir-$<V>', path.join(d, 'link'));
        for (let i = 0; i < CLIENTS; i++) {
          fs.mkdirSync(path.join(d, `dir-c${i}`));
          fs.writeFileSync(path.join(d, `dir-c${i}`, 'id'), `c${i}`);
        }
      },
    });
    const sync = tempDir(t, user, 'varsymfs-sync-');
    const running = Promise.all(Array.from({ length: CLIENTS }, (_, i) => m.run('python3', ['-c', CLIENT, m.dir, String(SECONDS), sync], { V: `c${i}` }, { timeoutMs: (SECONDS + 180) * 1000 })));
    assert.ok(await waitFor(() => fs.readdirSync(sync).length === CLIENTS, 120000), 'every client is ready');
    // Go: RSS sampled every 250 ms, with the time since the clients began their loops.
    fs.writeFileSync(path.join(sync, 'go'), '');
    const samples: Array<{ at: number; kib: number }> = [];
    const started = Date.now();
    const sampler = setInterval(() => samples.push({ at: (Date.now() - started) / 1000, kib: rssKiB(m.pid) }), 250);
    const runs = await running;
    clearInterval(sampler);
    const results = runs.map((r, i) => {
      assert.equal(r.code, 0, `client c${i}: ${r.stderr}`);
      return JSON.parse(r.stdout) as { me: string; ops: number; wrong: number; errors: number; last: number };
    });
    // Every client on its own: it got only right answers, met no error, and did work (a client starved
    // or failing from its first request cannot hide behind the others' totals).
    for (const [i, r] of results.entries()) {
      assert.equal(r.me, `c${i}`);
      assert.deepEqual({ wrong: r.wrong, errors: r.errors }, { wrong: 0, errors: 0 }, `client ${r.me}: ${runs[i]!.stderr}`);
      assert.ok(r.ops >= 8 && r.last >= 1, `client ${r.me} completed at least one round (ops ${r.ops})`);
      assert.equal(runs[i]!.stderr, '', `client ${r.me} wrote nothing to stderr`);
    }
    const ops = results.reduce((a, r) => a + r.ops, 0);
    // Flat: the median RSS of the last quarter of the run against that of the second quarter (the first
    // quarter starts the FUSE threads and fills the caches; medians ride over garbage-collection swings). On
    // this machine the two differ by under 1.5 MiB, with swings of about 2 MiB; 4 MiB is the bound. A run
    // makes some 10^5 requests, half of them between the two quarters, so a leak of about 80 bytes per
    // request (or a few KiB per FUSE thread created) crosses it.
    const median = (from: number, to: number) => {
      const v = samples.filter((s) => s.at >= from * SECONDS && s.at < to * SECONDS).map((s) => s.kib).sort((a, b) => a - b);
      assert.ok(v.length >= 2, `RSS samples in quarter ${from}-${to} of the run`);
      return v[Math.floor(v.length / 2)]!;
    };
    const q2 = median(0.25, 0.5);
    const q4 = median(0.75, 1);
    t.diagnostic(`clients=${CLIENTS} seconds=${SECONDS} operations=${ops} rss_kib median q2=${q2} q4=${q4} samples=${samples.map((s) => s.kib).join(' ')}`);
    assert.ok(q4 - q2 <= 4096, `daemon RSS stays flat (median ${q2} KiB in the second quarter, ${q4} KiB in the last)`);
    // The backing directory: each client's own file holds its last write; no temp files or leftovers.
    assert.equal((await m.cli(['unmount', m.dir])).code, 0);
    for (const r of results) assert.equal(fs.readFileSync(path.join(m.dir, `own-${r.me}`), 'utf8'), `${r.me} ${r.last}`);
    const names = fs.readdirSync(m.dir);
    assert.deepEqual(names.filter((n) => n.startsWith('tmp-') || n.startsWith('.fuse_hidden')), []);
  });
});
