import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { environValue } from '../src/environ';
import { formatEnviron, parseEnviron } from './helpers/environ';

test('parseEnviron reads NUL-separated NAME=VALUE, first entry wins', () => {
  const env = parseEnviron(Buffer.from('A=1\0B=x=y\0A=2\0noequals\0=empty\0C=\0'));
  assert.deepEqual([...env].map(([k, v]) => [k, v.toString()]), [['A', '1'], ['B', 'x=y'], ['C', '']]);
});

test('parseEnviron keeps values as bytes: invalid UTF-8 survives exactly', () => {
  const env = parseEnviron(Buffer.from([0x56, 0x3d, 0xff, 0xfe, 0x80, 0, 0xe9, 0x3d, 0x31, 0]));
  assert.deepEqual(env.get('V'), Buffer.from([0xff, 0xfe, 0x80]));
  assert.deepEqual(env.get('\xe9'), Buffer.from('1'));
});

test('environValue finds the first entry of a name, as bytes, without parsing the rest', () => {
  const block = Buffer.concat([Buffer.from('AB=1\0A=2\0A=3\0B=\0'), Buffer.from([0x43, 0x3d, 0xff, 0])]);
  assert.deepEqual(environValue(block, 'A'), Buffer.from('2'));
  assert.deepEqual(environValue(block, 'AB'), Buffer.from('1'));
  assert.deepEqual(environValue(block, 'B'), Buffer.alloc(0));
  assert.deepEqual(environValue(block, 'C'), Buffer.from([0xff]));
  assert.equal(environValue(block, 'D'), undefined);
  assert.equal(environValue(Buffer.from('A'), 'A'), undefined);
  assert.deepEqual(environValue(Buffer.from('A=x'), 'A'), Buffer.from('x'), 'an unterminated last entry');
});

test('property: environValue agrees with parseEnviron', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('A', 'B', 'AB', 'A1', '_'), fc.string({ maxLength: 4 }).filter((s) => !s.includes('\0')))), (entries) => {
    const block = formatEnviron(entries);
    const parsed = parseEnviron(block);
    for (const name of ['A', 'B', 'AB', 'A1', '_', 'Z']) assert.deepEqual(environValue(block, name), parsed.get(name));
  }));
});

test('property: formatEnviron and parseEnviron round-trip', () => {
  fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/), fc.string().filter((s) => !s.includes('\0'))), (vars) => {
    assert.deepEqual([...parseEnviron(formatEnviron(Object.entries(vars)))].map(([k, v]) => [k, v.toString()]), Object.entries(vars));
  }));
});

test('blocks as they come: empty entries, a leading NUL, no final NUL, an entry that is only "="', () => {
  const shown = (block: string) => [...parseEnviron(Buffer.from(block, 'latin1'))].map(([k, v]) => [k, v.toString('latin1')]);
  assert.deepEqual(shown(''), []);
  assert.deepEqual(shown('\0'), []);
  assert.deepEqual(shown('\0A=1\0'), [['A', '1']]);
  assert.deepEqual(shown('A=1\0\0B=2'), [['A', '1'], ['B', '2']]);
  assert.deepEqual(shown('A=1'), [['A', '1']]);
  assert.deepEqual(shown('A=1\0B=2'), [['A', '1'], ['B', '2']]);
  assert.deepEqual(shown('=\0A='), [['A', '']]);
  assert.deepEqual(environValue(Buffer.from('\0A=1\0'), 'A'), Buffer.from('1'));
  assert.deepEqual(environValue(Buffer.from('\0\0A=1'), 'A'), Buffer.from('1'));
  assert.deepEqual(environValue(Buffer.from('B=A=1\0A=2'), 'A'), Buffer.from('2'), 'only at the start of an entry');
  assert.equal(environValue(Buffer.alloc(0), 'A'), undefined);
  assert.equal(environValue(Buffer.from('\0'), 'A'), undefined);
});

/** The block's meaning written differently: split at NUL, the first `=` of an entry ends its name. */
function model(block: Buffer): Map<string, string> {
  const vars = new Map<string, string>();
  for (const entry of block.toString('latin1').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && !vars.has(entry.slice(0, eq))) vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return vars;
}

test('property: on arbitrary bytes, parseEnviron equals the model and environValue agrees with both', () => {
  const byte = fc.constantFrom(0, 0, 0x3d, 0x3d, 0x41, 0x42, 0x31, 0xff);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)), fc.array(byte, { maxLength: 24 }).map((a) => Buffer.from(a)), (random, shaped) => {
    for (const block of [random, shaped]) {
      const parsed = parseEnviron(block);
      assert.deepEqual([...parsed].map(([k, v]) => [k, v.toString('latin1')]), [...model(block)]);
      for (const name of ['A', 'B', 'AB', 'A1', 'BA', '\xff']) assert.deepEqual(environValue(block, name), parsed.get(name), `${name} in ${JSON.stringify(block.toString('latin1'))}`);
    }
  }), { numRuns: 3000 });
});
