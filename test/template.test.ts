import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseTemplate, expandTemplate, explainTemplate, type Scopes } from '../src/template';

const bytes = (o: Record<string, string>) => (n: string) => (Object.prototype.hasOwnProperty.call(o, n) ? Buffer.from(o[n]!) : undefined);
function scopes(env: Record<string, string>, defaults: Record<string, string> = {}): Scopes {
  return { env: bytes(env), envScope: 'environment', defaults: bytes(defaults) };
}
const expand = (raw: string, env: Record<string, string>, defaults: Record<string, string> = {}) => expandTemplate(parseTemplate(Buffer.from(raw)), scopes(env, defaults)).toString();

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
    assert.equal(parseTemplate(Buffer.from(raw)).refs, false, raw);
  }
  assert.equal(expand('$$<A>', { A: 'Z' }), '$Z');
  assert.equal(expand('$<A:-x}>', { A: '' }), 'x}');
});

test('targets and values are bytes: any byte but NUL passes through exactly', () => {
  const raw = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2f, 0x24, 0x3c, 0x56, 0x3e, 0x2f, 0xff]); // caf\xe9/$<V>/\xff
  const value = Buffer.from([0x80, 0xfe, 0x0a, 0x24, 0x3c, 0x56, 0x3e]); // invalid UTF-8, a newline, a reference
  const out = expandTemplate(parseTemplate(raw), { env: (n) => (n === 'V' ? value : undefined), envScope: 'environment', defaults: () => undefined });
  assert.deepEqual(out, Buffer.concat([raw.subarray(0, 5), value, raw.subarray(9)]));
  const fallback = Buffer.concat([Buffer.from('$<V:-'), Buffer.from([0xc3, 0x28]), Buffer.from('>')]);
  assert.deepEqual(expandTemplate(parseTemplate(fallback), { env: () => undefined, envScope: 'environment', defaults: () => undefined }), Buffer.from([0xc3, 0x28]));
});

test('explain names the scope of each reference', () => {
  const r = explainTemplate(parseTemplate(Buffer.from('$<A>/$<B>/$<C:-c>/$<D>')), { env: bytes({ A: 'a' }), envScope: 'pending exec', defaults: bytes({ B: 'b' }) });
  assert.equal(r.target.toString(), 'a/b/c/$<D>');
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
    const t = parseTemplate(Buffer.from(raw));
    assert.equal(Buffer.concat(t.parts.map((p) => (p.kind === 'text' ? p.text : p.source))).toString(), raw);
  }), { numRuns: 3000 });
  const huge = '$<A>'.repeat(50000) + '$<'.repeat(50000);
  const start = process.hrtime.bigint();
  assert.equal(expand(huge, { A: 'x' }).length, 50000 + 100000);
  assert.ok(process.hrtime.bigint() - start < 5_000_000_000n, 'parsing 350 kB must not take seconds');
});
