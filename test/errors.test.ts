// src/errors.ts: the user-facing error class.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VarsymfsError } from '../src/errors';

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
