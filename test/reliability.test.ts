// Crashes, hostile input and stalls, through real mounts (issue #6): the daemon answers every request,
// keeps serving, and loses no write a client completed with fsync.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { alive, mount, waitFor } from './helpers/mount';
import { asUser, baseEnv, describeEachUser } from './helpers/users';

const T = { timeout: 600000 }; // a liveness bound of minutes: the checks wait for events

describeEachUser((user) => {
  test('kill -9 under load: clients get errors, not hangs; fsync\'d writes survive; remount serves again', T, async (t) => {
    const m = await mount(t, user, { setup: (d) => (fs.writeFileSync(path.join(d, 'r'), 'x'.repeat(65536)), fs.symlinkSync('$<X>', path.join(d, 'l'))) });
    // Writers append numbered records, fsync each, and report it; readers loop over a file and a link.
    const writer = `
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
i = 0
try:
  while True:
      os.write(fd, b"record %d\\n" % i)
      os.fsync(fd)
      print(i, flush=True)
      i += 1
except OSError as e:
  print("error", e.errno, flush=True)
`;
    const reader = `
import os, sys
try:
  open(sys.argv[1] + "/r", "rb").read()
  os.readlink(sys.argv[1] + "/l")
  print("reading", flush=True)
  while True:
      open(sys.argv[1] + "/r", "rb").read()
      os.readlink(sys.argv[1] + "/l")
except OSError as e:
  print("error", e.errno, flush=True)
`;
    const said: string[] = [];
    const clients = [
      ...[0, 1, 2, 3].map((i) => ['python3', ['-c', writer, path.join(m.dir, `w${i}`)]] as const),
      ...[0, 1, 2, 3].map(() => ['python3', ['-c', reader, m.dir]] as const),
    ].map(([cmd, args], i) => {
      const [file, argv] = asUser(user, cmd, [...args]);
      const child = spawn(file, argv, { env: { ...baseEnv(user), X: 'r' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      said[i] = '';
      child.stdout.on('data', (d: Buffer) => ((out += d.toString()), (said[i] = out)));
      const done = new Promise<string>((resolve) => child.on('close', () => resolve(out)));
      t.after(() => child.kill('SIGKILL'));
      return done;
    });
    // The kill comes once every client is under way: each writer has fsync'd a record, each reader has
    // read the file and the link (or a client has already failed, which the checks below report).
    const started = () => said.every((o, i) => (i < 4 ? /^\d+$/m : /^reading$/m).test(o) || /^error /m.test(o));
    assert.ok(await waitFor(started, 300000), `every client started: ${JSON.stringify(said)}`);
    process.kill(m.pid, 'SIGKILL');
    // A liveness bound of minutes, not a measure of speed: a client left hanging by the kill never returns.
    let bound: NodeJS.Timeout | undefined;
    const outputs = await Promise.race([Promise.all(clients), new Promise<null>((r) => (bound = setTimeout(() => r(null), 300000)))]);
    clearTimeout(bound);
    assert.ok(outputs !== null, 'every client returned after the kill (no hang)');
    for (const out of outputs!) assert.match(out, /^error \d+$/m, 'each client saw an error');
    // Remount the same directory; every record a writer reported as fsync'd is in the backing file.
    const m2 = await mount(t, user, { dir: m.dir });
    for (let i = 0; i < 4; i++) {
      const reported = outputs![i]!.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
      assert.ok(reported.length > 0, `writer ${i} wrote something before the kill`);
      const r = await m2.run('cat', [path.join(m.dir, `w${i}`)]);
      const lines = new Set(r.stdout.split('\n'));
      for (const n of reported) assert.ok(lines.has(`record ${n}`), `record ${n} of writer ${i} survived`);
    }
    assert.equal((await m2.run('readlink', [path.join(m.dir, 'l')], { X: 'r' })).stdout, 'r\n');
  });

  test('hostile targets and environments: every request answered, the mount keeps serving', T, async (t) => {
    const thousands = Array.from({ length: 1000 }, (_, i) => `$<V${i % 7}>`).join('');
    const m = await mount(t, user, {
      setup: (d) => {
        fs.writeFileSync(path.join(d, 'ok'), 'ok');
        for (const [name, target] of [['unterminated', '$<X'], ['malformed', '${1X}/$<>/$<X:->'], ['many', thousands.slice(0, 4000)], ['long', '$<L>$<L>'], ['nl', 'a-$<NL>'], ['ok-link', '$<OK:-ok>']]) {
          fs.symlinkSync(target!, path.join(d, name!));
        }
      },
    });
    const script = `
import os, sys
d = sys.argv[1]
out = []
for name in ["unterminated", "malformed", "many", "long", "nl", "ok-link"]:
  try:
      out.append("%s=%d" % (name, len(os.readlink(d + "/" + name))))
  except OSError as e:
      out.append("%s=E%d" % (name, e.errno))
print(" ".join(out))
`;
    const r = await m.run('python3', ['-c', script, m.dir], { X: 'x', V0: 'a', L: 'y'.repeat(3000), NL: 'line1\nline2' });
    // 'many' holds 800 references; only every seventh ($<V0>) is set, the rest stay literal (5 bytes).
    const many = Array.from({ length: 800 }, (_, i) => (i % 7 === 0 ? 1 : 5)).reduce((a, b) => a + b, 0);
    assert.equal(r.stdout, `unterminated=3 malformed=11 many=${many} long=E36 nl=13 ok-link=2\n`, r.stderr);
    // Values with non-UTF-8 bytes and a several-MiB environment (a larger stack allows it).
    const big = await m.run('bash', ['-c', `ulimit -s unlimited 2>/dev/null || ulimit -s 1048576; exec python3 -c '
import os, sys
env = {"PATH": os.environ["PATH"], "OK": "ok"}
for i in range(48):
  env["BIG%d" % i] = "z" * 100000
env[b"RAW".decode()] = "\\udcff\\udcfe"
os.execve("/usr/bin/cat", ["cat", sys.argv[1] + "/ok-link"], {k.encode(): v.encode("utf-8", "surrogateescape") for k, v in env.items()})
' "${m.dir}"`]);
    assert.equal(big.stdout, 'ok', big.stderr);
    // Callers that exit while their request is in flight.
    await Promise.all(Array.from({ length: 40 }, () => m.run('timeout', ['-s', 'KILL', '0.005', 'readlink', path.join(m.dir, 'many')], { V0: 'a' })));
    assert.ok(alive(m.pid));
    assert.equal((await m.run('cat', [path.join(m.dir, 'ok-link')])).stdout, 'ok');
  });

  test('no mount-wide stall: callers blocked in the backing store do not stop others', T, async (t) => {
    const m = await mount(t, user, { setup: (d) => (fs.writeFileSync(path.join(d, 'f'), 'data'), fs.symlinkSync('$<X>', path.join(d, 'l'))) });
    const mk = await m.run('mkfifo', [path.join(m.dir, 'fifo')]);
    assert.equal(mk.code, 0, mk.stderr);
    // Eight readers open the FIFO: each open blocks in the backing store until a writer comes.
    const blocked = Array.from({ length: 8 }, () => {
      const [file, argv] = asUser(user, 'cat', [path.join(m.dir, 'fifo')]);
      const c = spawn(file, argv, { env: baseEnv(user), stdio: 'ignore' });
      t.after(() => c.kill('SIGKILL'));
      return c;
    });
    // A stopped process with a request in flight too.
    // Stopped once all four threads are resolving (each has had an answer and goes on asking).
    const [sf, sa] = asUser(user, 'python3', ['-c', 'import os,sys,threading\nb=threading.Barrier(5)\ndef go():\n  os.readlink(sys.argv[1]); b.wait()\n  for _ in range(100000): os.readlink(sys.argv[1])\nfor _ in range(4): threading.Thread(target=go).start()\nb.wait(); print("resolving", flush=True)', path.join(m.dir, 'l')]);
    const stopped = spawn(sf, sa, { env: { ...baseEnv(user), X: 'f' }, stdio: ['ignore', 'pipe', 'ignore'] });
    t.after(() => stopped.kill('SIGKILL'));
    let resolving = '';
    stopped.stdout!.on('data', (d: Buffer) => (resolving += d.toString()));
    assert.ok(await waitFor(() => resolving.includes('resolving\n'), 300000), 'the threads to stop are resolving');
    stopped.kill('SIGSTOP');
    // Each caller must be answered; a stall would leave them all waiting until killed.
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => m.run('sh', ['-c', 'cat "$0/l"; readlink "$0/l"', m.dir], { X: i % 2 ? 'f' : 'l' }, { timeoutMs: 300000 })));
    for (const [i, r] of results.entries()) assert.equal(r.stdout, i % 2 ? 'dataf\n' : 'l\n', r.stderr); // X=l: a link to itself (ELOOP), but answered
    assert.ok(blocked.every((c) => c.exitCode === null), 'the FIFO readers are still blocked');
    // Let the readers go: a writer opens the FIFO.
    const w = await m.run('sh', ['-c', ': > "$0/fifo"', m.dir], {}, { timeoutMs: 300000 });
    assert.equal(w.code, 0);
    assert.ok(await waitFor(() => blocked.every((c) => c.exitCode !== null), 300000), 'readers finished once a writer came');
    stopped.kill('SIGCONT');
  });
});
