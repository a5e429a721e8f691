// src/errors.ts: the user-facing error class and the one errno converter every FUSE reply goes through.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { constants } from 'node:os';
import { test } from 'node:test';
import { isExpectedErrno, toErrno, VarsymfsError } from '../src/errors';

const { ENOENT, EIO, EACCES, ELOOP } = constants.errno;

test('VarsymfsError: its message, name, exit code 1 unless given, and its cause', () => {
  const plain = new VarsymfsError('it broke');
  assert.ok(plain instanceof Error);
  assert.equal(plain.message, 'it broke');
  assert.equal(plain.name, 'VarsymfsError');
  assert.equal(plain.exitCode, 1);
  assert.equal(plain.cause, undefined);
  const cause = new Error('underneath');
  const full = new VarsymfsError('on top', { cause, exitCode: 2 });
  assert.equal(full.exitCode, 2);
  assert.equal(full.cause, cause);
  assert.equal(new VarsymfsError('x', { cause }).exitCode, 1);
});

test('toErrno: numbers from native helpers come back negative', () => {
  assert.equal(toErrno(-ENOENT), -ENOENT);
  assert.equal(toErrno(ENOENT), -ENOENT);
  assert.equal(toErrno(0), 0);
});

test('toErrno: an error from Node\'s fs keeps its errno', () => {
  let err: unknown;
  try {
    fs.readFileSync('/nonexistent/varsymfs/file');
  } catch (e) {
    err = e;
  }
  assert.equal(toErrno(err), -ENOENT);
});

test('toErrno: an object with only a known code maps through the table; a positive errno is not trusted', () => {
  assert.equal(toErrno({ code: 'EACCES' }), -EACCES);
  assert.equal(toErrno({ errno: ELOOP, code: 'EACCES' }), -EACCES);
  assert.equal(toErrno({ errno: -ELOOP, code: 'EACCES' }), -ELOOP);
  assert.equal(toErrno({ errno: '-2', code: 'ELOOP' }), -ELOOP);
  // A failure that carries errno 0 must never be replied to as success.
  assert.equal(toErrno({ errno: 0 }), -EIO);
  assert.equal(toErrno({ errno: 0, code: 'EACCES' }), -EACCES);
});

test('toErrno: anything else is EIO', () => {
  for (const odd of [undefined, null, '', 'ENOENT', {}, { code: 'NOT_AN_ERRNO' }, { code: 2 }, { errno: ELOOP }, new Error('plain'), true]) {
    assert.equal(toErrno(odd), -EIO, String(odd));
  }
});

test('isExpectedErrno: every errno but EIO', () => {
  assert.equal(isExpectedErrno(-EIO), false);
  assert.equal(isExpectedErrno(-ENOENT), true);
  assert.equal(isExpectedErrno(EIO), true);
  assert.equal(isExpectedErrno(0), true);
});
