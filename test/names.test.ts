// The variable-name grammar (src/names.ts): ASCII letters, digits and `_`, not starting with a digit.
// Table cases at every edge of the character classes, and a property against a model written with
// character codes instead of a regular expression.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { VARIABLE_NAME, isVariableName } from '../src/names';

test('names: letters, digits and _, not starting with a digit', () => {
  for (const name of ['A', 'Z', 'a', 'z', '_', '__', 'GO_VERSION', 'go_version', 'A0', 'A9', '_1', 'aZ09_']) {
    assert.equal(isVariableName(name), true, name);
  }
  // The neighbours of each range ('@' 'A'…'Z' '[', '`' 'a'…'z' '{', '/' '0'…'9' ':'), a leading digit,
  // the empty name, what a shell or an environment block would choke on, and letters that are not ASCII
  // (the long s and the Kelvin sign match /[a-z]/i only with the u flag).
  for (const name of ['', '0', '9', '0A', '@', '[', '`', '{', 'A@', 'A[', 'A`', 'A{', 'A/', 'A:', 'A-B', 'A=B', 'A B', 'A\n', '\nA', 'A\0', '\u00e9', 'A\u00e9', '\u017f', '\u212a']) {
    assert.equal(isVariableName(name), false, JSON.stringify(name));
  }
});

test('VARIABLE_NAME is the same rule (for callers that need the expression)', () => {
  for (const name of ['A', 'a_1', '', '1A', 'A-B', 'A\n']) assert.equal(VARIABLE_NAME.test(name), isVariableName(name), JSON.stringify(name));
});

/** The rule by character codes. */
function model(name: string): boolean {
  const letter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
  const digit = (c: number) => c >= 0x30 && c <= 0x39;
  if (name.length === 0 || !letter(name.charCodeAt(0))) return false;
  for (let i = 1; i < name.length; i++) if (!letter(name.charCodeAt(i)) && !digit(name.charCodeAt(i))) return false;
  return true;
}

test('property: isVariableName agrees with the model on every character near the ranges, and any other', () => {
  const edge = fc.constantFrom('@', 'A', 'Z', '[', '`', 'a', 'z', '{', '/', '0', '9', ':', '_', '-', '\n', 'é');
  const char = fc.oneof(edge, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
  fc.assert(fc.property(fc.array(char, { maxLength: 6 }).map((a) => a.join('')), (name) => {
    assert.equal(isVariableName(name), model(name), JSON.stringify(name));
  }), { numRuns: 3000 });
  for (let c = 0; c < 0x180; c++) {
    const ch = String.fromCharCode(c);
    assert.equal(isVariableName(ch), model(ch), `U+${c.toString(16)}`);
    assert.equal(isVariableName('A' + ch), model('A' + ch), `A U+${c.toString(16)}`);
  }
});
