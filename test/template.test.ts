import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseTemplate, expandTemplate, explainTemplate, type Scopes } from '../src/template';

function scopes(env: Record<string, string>, defaults: Record<string, string> = {}): Scopes {
  return { env: (n) => env[n], envScope: 'environment', defaults: (n) => defaults[n] };
}
const expand = (raw: string, env: Record<string, string>, defaults: Record<string, string> = {}) => expandTemplate(parseTemplate(raw), scopes(env, defaults));

test('both reference forms expand from the environment', () => {
  assert.equal(expand('$<XXX>', { XXX: 'bar' }), 'bar');
  assert.equal(expand('${XXX}', { XXX: 'bar' }), 'bar');
  assert.equal(expand('/opt/$<A>/x/${B}-y', { A: '1', B: '2' }), '/opt/1/x/2-y');
});

test('resolution order: environment, mount default, inline fallback, literal', () => {
  assert.equal(expand('$<V:-fb>', { V: 'env' }, { V: 'def' }), 'env');
  assert.equal(expand('$<V:-fb>', {}, { V: 'def' }), 'def');
  assert.equal(expand('$<V:-fb>', {}, {}), 'fb');
  assert.equal(expand('$<V>', {}, {}), '$<V>');
  assert.equal(expand('${V}', {}, {}), '${V}');
});

test('an empty value counts as unset, as with the shell\'s :-', () => {
  assert.equal(expand('$<V:-fb>', { V: '' }), 'fb');
  assert.equal(expand('$<V>', { V: '' }, { V: 'def' }), 'def');
  assert.equal(expand('$<V:->x', {}), 'x');
});

test('text that is not a complete reference stays literal', () => {
  for (const raw of ['$', '$$', '$<', '$<>', '$<1A>', '$<A', '${A', '$<A:-x', '$<A-x>', '$<A:x>', '$(A)', '$A', '${A>', '$<A}', 'a$b']) {
    assert.equal(expand(raw, { A: 'Z' }), raw, raw);
    assert.equal(parseTemplate(raw).refs, false, raw);
  }
  assert.equal(expand('$$<A>', { A: 'Z' }), '$Z');
  assert.equal(expand('$<A:-x}>', { A: '' }), 'x}');
});

test('explain names the scope of each reference', () => {
  const r = explainTemplate(parseTemplate('$<A>/$<B>/$<C:-c>/$<D>'), { env: (n) => ({ A: 'a' })[n], envScope: 'pending exec', defaults: (n) => ({ B: 'b' })[n] });
  assert.equal(r.target, 'a/b/c/$<D>');
  assert.deepEqual(r.refs.map((x) => x.scope), ['pending exec', 'mount default', 'inline fallback', 'unresolved']);
});

// A reference model written differently (one regular expression), to compare against on arbitrary input.
function model(raw: string, env: Record<string, string>): string {
  return raw.replace(/\$(?:<([A-Za-z_][A-Za-z0-9_]*)(?::-([^>]*))?>|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})/g, (whole, n1, f1, n2, f2) => {
    const name = (n1 ?? n2) as string;
    const fallback = (n1 !== undefined ? f1 : f2) as string | undefined;
    const v = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
    if (v !== undefined && v !== '') return v;
    return fallback ?? whole;
  });
}

const alphabet = fc.constantFrom('$', '<', '>', '{', '}', ':', '-', 'A', 'B', '_', '1', '/', 'x', ' ', '\n', 'é');
const templateText = fc.array(alphabet, { maxLength: 40 }).map((a) => a.join(''));
const envArb = fc.dictionary(fc.constantFrom('A', 'B', '_', 'AB', 'A1'), fc.string({ maxLength: 5 }));

test('property: expansion equals the reference model on arbitrary strings', () => {
  fc.assert(fc.property(templateText, envArb, (raw, env) => {
    assert.equal(expand(raw, env), model(raw, env));
  }), { numRuns: 5000 });
});

test('property: never throws and is linear on arbitrary unicode input', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (raw) => {
    const t = parseTemplate(raw);
    assert.equal(t.parts.map((p) => (p.kind === 'text' ? p.text : p.source)).join(''), raw);
  }), { numRuns: 3000 });
  const huge = '$<A>'.repeat(50000) + '$<'.repeat(50000);
  const start = process.hrtime.bigint();
  assert.equal(expand(huge, { A: 'x' }).length, 50000 + 100000);
  assert.ok(process.hrtime.bigint() - start < 5_000_000_000n, 'parsing 350 kB must not take seconds');
});
