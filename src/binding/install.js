#!/usr/bin/env node
// Applies src/binding/fuse-native+2.2.6.patch (caller context and friends, see the comment at the top of
// the patched fuse-native.c), compiles the binding with node-gyp, and compiles the exec-env helper
// (src/binding/build/varsymfs-execenv, which `sudo varsymfs setup` installs with CAP_SYS_PTRACE). Runs as the package's postinstall,
// so `npm ci` / `npm install` leave a patched build in node_modules/fuse-native/build/Release, which
// node-gyp-build prefers over the unpatched prebuilds.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..', '..')
const fuseNative = path.join(root, 'node_modules', 'fuse-native')

function fail (message) {
  console.error(`varsymfs install: ${message}`)
  process.exit(1)
}

function run (cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' })
  if (r.error) fail(`${path.basename(args[0] || cmd)} could not start: ${r.error.message}`)
  return r.status === 0
}

if (!fs.existsSync(fuseNative)) fail('node_modules/fuse-native is missing; run npm ci')

const patched = fs.readFileSync(path.join(fuseNative, 'fuse-native.c'), 'utf8').includes('varsymfs.h')
if (!patched) {
  const patchPackage = require.resolve('patch-package/index.js', { paths: [root] })
  if (!run(process.execPath, [patchPackage, '--patch-dir', 'src/binding', '--error-on-fail'], root)) {
    fail('could not apply src/binding/fuse-native+2.2.6.patch to node_modules/fuse-native')
  }
}

// Node's headers: npm's configured nodedir, else the ones installed beside this node (distro packages put
// them in <prefix>/include/node), else node-gyp's own download.
const gypArgs = ['rebuild']
const nodedir = process.env.npm_config_nodedir ||
  [path.resolve(path.dirname(process.execPath), '..')].find(p => fs.existsSync(path.join(p, 'include', 'node', 'node_api.h')))
if (nodedir) gypArgs.push(`--nodedir=${nodedir}`)
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] })
// The patched fuse-native.c includes src/binding/varsymfs.h, the one contract between the two bindings.
process.env.CPPFLAGS = `${process.env.CPPFLAGS || ''} -I${__dirname}`.trim()
if (!run(process.execPath, [nodeGyp, ...gypArgs], fuseNative)) {
  fail('compiling the patched fuse-native binding failed (it needs python3, make and a C compiler: apt-get install -y python3 make gcc g++)')
}
if (!run(process.execPath, [nodeGyp, ...gypArgs], __dirname)) {
  fail('compiling the varsymfs_native addon (src/binding/*.c) failed (it needs python3, make and a C compiler: apt-get install -y python3 make gcc g++)')
}
// After node-gyp, whose rebuild starts by removing build/.
const helperOut = path.join(__dirname, 'build', 'varsymfs-execenv')
const hardening = ['-O2', '-Wall', '-Wextra', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fPIE', '-pie', '-Wl,-z,relro,-z,now']
if (!run(process.env.CC || 'cc', [...hardening, '-o', helperOut, path.join(__dirname, 'varsymfs-execenv.c'), path.join(__dirname, 'envp.c'), path.join(__dirname, 'procfs.c')], __dirname)) {
  fail('compiling src/binding/varsymfs-execenv.c failed (it needs a C compiler: apt-get install -y gcc)')
}
