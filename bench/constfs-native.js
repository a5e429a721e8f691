#!/usr/bin/env node
// constfs-native: the binding's floor. The same filesystem as constfs.c (one symlink, "go", with a
// constant target) served through fuse-native's JS thread, as varsymfs is. Usage: constfs-native.js
// MOUNTPOINT TARGET; SIGTERM unmounts.
'use strict'
const path = require('node:path')
const Fuse = require(path.join(__dirname, '..', 'node_modules', 'fuse-native'))
const [mnt, target] = process.argv.slice(2)
const now = new Date()
const fuse = new Fuse(mnt, {
  getattr (p, cb) {
    if (p === '/') return cb(0, { mode: 0o40755, nlink: 2, size: 0, atime: now, mtime: now, ctime: now })
    if (p === '/go') return cb(0, { mode: 0o120777, nlink: 1, size: Buffer.byteLength(target), atime: now, mtime: now, ctime: now })
    cb(Fuse.ENOENT)
  },
  readlink (p, cb) {
    if (p !== '/go') return cb(Fuse.ENOENT)
    cb(0, target)
  }
}, { timeout: false, options: ['entry_timeout=1', 'attr_timeout=0'] })
fuse.mount(err => {
  if (err) { console.error(`constfs-native: ${err.message}`); process.exit(1) }
  console.log('ready')
})
const stop = () => fuse.unmount(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
