#!/usr/bin/env node
// npm run test:planted: the planted bugs of test/planted/bugs/ as a living check of the native path.
// Each bug is one small diff (git diff -U1, so that it still applies after unrelated edits) with a header
// naming the tests that must catch it. The checkout is copied once to a scratch directory; for each bug the
// diff is applied there, the native binding (C) or the TypeScript (TS) rebuilt, the named tests run, and the
// diff reverted. A bug is CAUGHT when its tests fail, SURVIVED when they pass. Before the first bug that
// names a set of tests, that set runs on the unchanged copy: a set that fails there proves nothing
// (BASELINE FAILS). Exit status 0 only when every bug was caught.
//
//   node test/planted/run.js                 every bug
//   node test/planted/run.js 03 memo-        the bugs whose file name contains one of the words
//
// Header lines of a bug (before its "diff --git"):
//   Bug: what is wrong, in one line
//   Claim: the documented claim it breaks (docs/security.md, docs/semantics.md)
//   Tests: dist/test/FILE.test.js [more files]
//   Pattern: a --test-name-pattern (optional; several lines: any of them)
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..', '..')
const bugsDir = path.join(__dirname, 'bugs')
// Every test of a bug must end; a hung run counts as caught (the bug stopped the mount answering).
const RUN_LIMIT_MS = 20 * 60 * 1000

function fail (message) {
  console.error(`test:planted: ${message}`)
  process.exit(2)
}

function header (text, file) {
  const head = text.slice(0, text.search(/^diff --git /m) < 0 ? text.length : text.search(/^diff --git /m))
  const field = (name) => [...head.matchAll(new RegExp(`^${name}:[ \\t]*(.*)$`, 'gm'))].map((m) => m[1].trim()).filter(Boolean)
  const bug = { file, name: path.basename(file, '.diff'), what: field('Bug')[0], tests: field('Tests').join(' ').split(/\s+/).filter(Boolean), patterns: field('Pattern') }
  if (!bug.what || bug.tests.length === 0 || text.search(/^diff --git /m) < 0) fail(`${file}: needs a Bug: line, a Tests: line and a diff`)
  bug.touches = [...text.matchAll(/^diff --git a\/(\S+)/gm)].map((m) => m[1])
  return bug
}

function sh (cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts })
}

// The scratch copy: what builds and runs (not .git, not build output), world-readable so that the
// unprivileged test user can run it from there.
function scratchCopy () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'varsymfs-planted-'))
  for (const part of ['package.json', 'tsconfig.json', 'bin', 'src', 'test', 'bench', 'docs', 'README.md', 'node_modules']) {
    if (fs.existsSync(path.join(root, part))) fs.cpSync(path.join(root, part), path.join(dir, part), { recursive: true, verbatimSymlinks: true })
  }
  fs.rmSync(path.join(dir, 'src', 'binding', 'build'), { recursive: true, force: true })
  sh('chmod', ['-R', 'a+rX', dir])
  return dir
}

function build (dir, bug) {
  const c = bug === null || bug.touches.some((f) => f.startsWith('src/binding/'))
  const ts = bug === null || bug.touches.some((f) => f.endsWith('.ts'))
  if (c) {
    const r = sh(process.execPath, ['src/binding/install.js'], { cwd: dir })
    if (r.status !== 0) return `${r.stdout}${r.stderr}`.split('\n').filter((l) => /error/.test(l)).slice(0, 5).join('\n') || 'install.js failed'
  }
  if (ts) {
    const r = sh(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', 'tsconfig.json'], { cwd: dir })
    if (r.status !== 0) return r.stdout.split('\n').slice(0, 5).join('\n')
  }
  sh('chmod', ['-R', 'a+rX', dir])
  return null
}

function runTests (dir, bug) {
  const args = [path.join(dir, 'test', 'run.js'), ...bug.patterns.map((p) => `--test-name-pattern=${p}`), ...bug.tests]
  const started = Date.now()
  const r = sh(process.execPath, args, { cwd: dir, timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' })
  const out = `${r.stdout}${r.stderr}`
  // The spec reporter's summary: "ℹ pass 3" (the TAP reporter's: "# pass 3").
  const count = (what) => Number((new RegExp(`^(?:ℹ|#) ${what} (\\d+)`, 'm').exec(out) || [])[1] || 0)
  return { ok: r.status === 0 && count('pass') > 0, timedOut: r.status === null, seconds: Math.round((Date.now() - started) / 1000), pass: count('pass'), fail: count('fail'), out }
}

function apply (dir, file, reverse) {
  const r = sh('git', ['apply', '--recount', ...(reverse ? ['-R'] : []), file], { cwd: dir })
  return r.status === 0 ? null : r.stderr.trim()
}

function main () {
  const words = process.argv.slice(2)
  if (words.some((w) => w.startsWith('-'))) fail('usage: node test/planted/run.js [word of a bug file name]...')
  const files = fs.readdirSync(bugsDir).filter((f) => f.endsWith('.diff')).sort()
    .filter((f) => words.length === 0 || words.some((w) => f.includes(w)))
  if (files.length === 0) fail(`no bug in ${path.relative(process.cwd(), bugsDir)} matches ${words.join(' ')}`)
  const bugs = files.map((f) => header(fs.readFileSync(path.join(bugsDir, f), 'utf8'), path.join(bugsDir, f)))
  const started = Date.now()
  const dir = scratchCopy()
  console.log(`# ${bugs.length} planted bugs, scratch copy ${dir}`)
  const clean = build(dir, null)
  if (clean !== null) fail(`the unchanged checkout does not build:\n${clean}`)
  const baselines = new Map()
  const results = []
  let cleanBuild = true
  for (const bug of bugs) {
    let verdict
    let detail = ''
    const key = JSON.stringify([bug.tests, bug.patterns])
    if (!cleanBuild) {
      const e = build(dir, null)
      if (e !== null) fail(`the unchanged checkout no longer builds after reverting the previous bug:\n${e}`)
      cleanBuild = true
    }
    if (!baselines.has(key)) {
      const b = runTests(dir, bug)
      baselines.set(key, b)
      console.log(`# baseline ${bug.tests.join(' ')}${bug.patterns.length ? ` /${bug.patterns.join('|')}/` : ''}: ${b.ok ? 'passes' : 'FAILS'} (${b.pass} pass, ${b.fail} fail, ${b.seconds} s)`)
      if (!b.ok) process.stdout.write(b.out.split('\n').filter((l) => /✖|Error/.test(l)).slice(0, 20).join('\n') + '\n')
    }
    const base = baselines.get(key)
    const notApplied = apply(dir, bug.file, false)
    if (notApplied !== null) {
      verdict = 'DOES NOT APPLY'
      detail = notApplied.split('\n')[0]
    } else {
      cleanBuild = false
      const e = build(dir, bug)
      if (e !== null) {
        verdict = 'DOES NOT BUILD'
        detail = e.split('\n')[0]
      } else if (!base.ok) {
        verdict = 'BASELINE FAILS'
      } else {
        const t = runTests(dir, bug)
        // No test ran at all (a name pattern that matches nothing now) is not a catch.
        verdict = t.ok ? 'SURVIVED' : t.pass + t.fail === 0 && !t.timedOut ? 'NO TEST RAN' : 'CAUGHT'
        // What the first failing test said: a catch for the reason the bug names, or by accident?
        const why = t.ok ? '' : (t.out.split('\n').find((l) => /AssertionError|Error:|\d+ !== \d+/.test(l)) || '').trim().slice(0, 140)
        detail = `${t.pass} pass, ${t.fail} fail${t.timedOut ? ', killed after the run limit' : ''}, ${t.seconds} s${why ? `: ${why}` : ''}`
        if (t.ok && process.env.PLANTED_VERBOSE) process.stdout.write(t.out)
      }
      const back = apply(dir, bug.file, true)
      if (back !== null) fail(`${bug.name}: could not revert: ${back}`)
    }
    results.push({ bug, verdict })
    console.log(`${verdict.padEnd(15)} ${bug.name}: ${bug.what}${detail ? ` (${detail})` : ''}`)
  }
  if (!cleanBuild) build(dir, null)
  fs.rmSync(dir, { recursive: true, force: true })
  const by = (v) => results.filter((r) => r.verdict === v).length
  const minutes = ((Date.now() - started) / 60000).toFixed(1)
  console.log(`# ${results.length} bugs: ${by('CAUGHT')} caught, ${by('SURVIVED')} survived, ${by('DOES NOT APPLY')} do not apply, ${by('DOES NOT BUILD')} do not build, ${by('BASELINE FAILS')} with failing baseline, ${by('NO TEST RAN')} with no test run; ${minutes} min`)
  process.exitCode = by('CAUGHT') === results.length ? 0 : 1
}

main()
