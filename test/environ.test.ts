import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseEnviron, formatEnviron } from '../src/environ';

test('parseEnviron reads NUL-separated NAME=VALUE, first entry wins', () => {
  const env = parseEnviron(Buffer.from('A=1\0B=x=y\0A=2\0noequals\0=empty\0C=\0'));
  assert.deepEqual([...env], [['A', '1'], ['B', 'x=y'], ['C', '']]);
});

test('property: formatEnviron and parseEnviron round-trip', () => {
  fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/), fc.string().filter((s) => !s.includes('\0'))), (vars) => {
    assert.deepEqual([...parseEnviron(Buffer.from(formatEnviron(Object.entries(vars))))], Object.entries(vars));
  }));
});
