#!/usr/bin/env node
// The test command (npm test): prepares what the integration tests need, then runs every compiled test
// file with node's test runner. As root it also sets up the unprivileged user the tests mount as:
// creates it, makes /dev/fuse 0666 as ordinary distributions ship it, enables user_allow_other, and makes sure that user can run
// this checkout (copying it to a world-readable place when its folder is private, e.g. under /root).
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const USER = 'varsymfs-test'

function sh (cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts })
}

function die (message) {
  console.error(`test/run.js: ${message}`)
  process.exit(1)
}

function setupUser () {
  if (sh('id', ['-u', USER]).status !== 0) {
    const r = sh('useradd', ['--create-home', '--shell', '/bin/sh', USER])
    if (r.status !== 0) die(`could not create the test user ${USER}: ${r.stderr.trim()}`)
  }
  fs.chmodSync('/dev/fuse', 0o666)
  // --allow-other tests mount as the plain user, which needs user_allow_other (as on a shared machine).
  const conf = fs.existsSync('/etc/fuse.conf') ? fs.readFileSync('/etc/fuse.conf', 'utf8') : ''
  if (!/^\s*user_allow_other\b/m.test(conf)) fs.writeFileSync('/etc/fuse.conf', conf + (conf.endsWith('\n') || conf === '' ? '' : '\n') + 'user_allow_other\n')
  const uid = Number(sh('id', ['-u', USER]).stdout.trim())
  const gid = Number(sh('id', ['-g', USER]).stdout.trim())
  const home = sh('getent', ['passwd', USER]).stdout.split(':')[5]
  let project = root
  const canRun = (dir) => sh('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--',
    process.execPath, '-e', `require(${JSON.stringify(path.join(dir, 'dist/src/native.js'))}).loadFuse()`], { cwd: '/' }).status === 0
  if (!canRun(project)) {
    // Private checkout: give the user its own world-readable copy of what runs.
    project = '/tmp/varsymfs-test-project'
    fs.rmSync(project, { recursive: true, force: true })
    fs.mkdirSync(project, { recursive: true })
    for (const part of ['package.json', 'bin', 'dist', 'node_modules', 'src']) {
      fs.cpSync(path.join(root, part), path.join(project, part), { recursive: true, verbatimSymlinks: true })
    }
    sh('chmod', ['-R', 'a+rX', project])
    if (!canRun(project)) die(`the test user ${USER} cannot run varsymfs from ${project}`)
  }
  return { VARSYMFS_TEST_USER: USER, VARSYMFS_TEST_UID: String(uid), VARSYMFS_TEST_GID: String(gid), VARSYMFS_TEST_HOME: home, VARSYMFS_TEST_BIN: path.join(project, 'bin', 'varsymfs') }
}

function testFiles (dir) {
  const out = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...testFiles(p))
    else if (entry.name.endsWith('.test.js')) out.push(p)
  }
  return out.sort()
}

const dist = path.join(root, 'dist', 'test')
if (!fs.existsSync(dist)) die('dist/test is missing: run `npm ci` (it compiles the TypeScript)')
// Options for node --test (--test-name-pattern=…) pass through; the rest name test files.
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'))
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const files = only.length ? only : testFiles(dist)
const env = { ...process.env }
if (process.geteuid() === 0) Object.assign(env, setupUser())
else console.log('# not root: tests run as the current user only; the root and second-user cases need root')
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...flags, ...files], { stdio: 'inherit', env, cwd: root })
process.exit(r.status === null ? 1 : r.status)
