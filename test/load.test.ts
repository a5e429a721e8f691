// Load: many concurrent client processes, each with its own variable value, mixing resolutions, reads,
// writes, creates and deletes. Zero wrong answers, zero errors, daemon RSS reported, and the backing
// directory consistent afterwards. CI runs a short variant; `npm run test:stress` the full one
// (VARSYMFS_LOAD_SECONDS=60).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { mount } from './helpers/mount';
import { testUsers } from './helpers/users';

const SECONDS = Number(process.env.VARSYMFS_LOAD_SECONDS ?? 10);
const CLIENTS = Number(process.env.VARSYMFS_LOAD_CLIENTS ?? 64);

const CLIENT = `
import os, sys, time, json
d, me, deadline = sys.argv[1], os.environ["V"], time.time() + float(sys.argv[2])
ops = wrong = errors = 0
own = os.path.join(d, "own-" + me)
tmpdir = os.path.join(d, "tmp-" + me)
os.mkdir(tmpdir)
shared = open(os.path.join(d, "shared"), "rb").read()
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

for (const [label, user] of testUsers()) {
  describe(label, () => {
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
      const rss = { start: rssKiB(m.pid), peak: 0, end: 0 };
      const sampler = setInterval(() => (rss.peak = Math.max(rss.peak, rssKiB(m.pid))), 250);
      const runs = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => m.run('python3', ['-c', CLIENT, m.dir, String(SECONDS)], { V: `c${i}` }, { timeoutMs: (SECONDS + 60) * 1000 })));
      clearInterval(sampler);
      rss.end = rssKiB(m.pid);
      const results = runs.map((r) => {
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as { me: string; ops: number; wrong: number; errors: number; last: number };
      });
      const total = results.reduce((a, r) => ({ ops: a.ops + r.ops, wrong: a.wrong + r.wrong, errors: a.errors + r.errors }), { ops: 0, wrong: 0, errors: 0 });
      t.diagnostic(`clients=${CLIENTS} seconds=${SECONDS} operations=${total.ops} wrong=${total.wrong} errors=${total.errors} rss_kib start=${rss.start} peak=${rss.peak} end=${rss.end}`);
      assert.equal(total.wrong, 0);
      assert.equal(total.errors, 0, runs.map((r) => r.stderr).join(''));
      assert.ok(total.ops > CLIENTS * 8, 'every client worked');
      // Flat, not merely bounded: a leak per request or per FUSE thread shows as growth within seconds.
      assert.ok(rss.peak - rss.start < 40 * 1024, `daemon RSS stays flat (start ${rss.start} KiB, peak ${rss.peak} KiB)`);
      // The backing directory: each client's own file holds its last write; no temp files or leftovers.
      assert.equal((await m.cli(['unmount', m.dir])).code, 0);
      for (const r of results) assert.equal(fs.readFileSync(path.join(m.dir, `own-${r.me}`), 'utf8'), `${r.me} ${r.last}`);
      const names = fs.readdirSync(m.dir);
      assert.deepEqual(names.filter((n) => n.startsWith('tmp-') || n.startsWith('.fuse_hidden')), []);
    });
  });
}
