import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isVariableName } from '../src/names';
import { REFERENCE_OPENERS, parseTemplate, explainTemplate, resolveRef, type Part, type Scopes } from '../src/template';
import { expandTemplate } from './helpers/template';

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
  assert.equal(expand('$<V:-fb>', {}, { V: '' }), 'fb', 'an empty mount default');
  assert.equal(expand('$<V>', { V: '' }, { V: '' }), '$<V>');
  const ref = parseTemplate(Buffer.from('$<V:-fb>')).parts[0] as Extract<Part, { kind: 'ref' }>;
  const empty = () => Buffer.alloc(0);
  assert.deepEqual(resolveRef(ref, { env: empty, envScope: 'environment', defaults: empty }), { name: 'V', scope: 'inline fallback', value: Buffer.from('fb') });
});

test('text that is not a complete reference stays literal', () => {
  for (const raw of ['$', '$$', '$<', '$<>', '$<1A>', '$<A', '${A', '$<A:-x', '$<A-x>', '$<A:x>', '$(A)', '$A', '${A>', '$<A}', 'a$b', '$<A--x>', '${A.-x}', '$<A x>', '$<A x:-y>', '$<A:-x}', '${A:-x>']) {
    assert.equal(expand(raw, { A: 'Z' }), raw, raw);
    assert.equal(parseTemplate(Buffer.from(raw)).refs, false, raw);
  }
  assert.equal(expand('$$<A>', { A: 'Z' }), '$Z');
  assert.equal(expand('$<A:-x}>', { A: '' }), 'x}');
});

test('the reference openers told to the C side are the grammar\'s two brackets', () => {
  assert.deepEqual([...REFERENCE_OPENERS].sort(), ['$<', '${']);
  for (const opener of REFERENCE_OPENERS) {
    const closer = opener === '$<' ? '>' : '}';
    assert.equal(parseTemplate(Buffer.from(`x${opener}A${closer}y`)).refs, true, opener);
  }
});

test('a name in a reference is exactly a variable name (src/names.ts), in both forms and with a fallback', () => {
  // Every name of one or two characters from the edges of the character classes, and every byte.
  const edge = ['@', 'A', 'Z', '[', '`', 'a', 'z', '{', '/', '0', '9', ':', '_', '-', ' ', '\u00e9'];
  const names = [''];
  for (const a of edge) {
    names.push(a);
    for (const b of edge) names.push(a + b);
  }
  for (let c = 1; c < 256; c++) names.push(String.fromCharCode(c), 'A' + String.fromCharCode(c));
  for (const name of names) {
    for (const [open, close] of [['<', '>'], ['{', '}']] as const) {
      for (const raw of [`$${open}${name}${close}`, `$${open}${name}:-f${close}`]) {
        const t = parseTemplate(Buffer.from(raw, 'latin1'));
        const oneRef = t.parts.length === 1 && t.parts[0]!.kind === 'ref' && t.parts[0]!.name === name;
        assert.equal(oneRef, isVariableName(name), JSON.stringify(raw));
      }
    }
  }
});

test('parts: a reference keeps its exact bytes as source and its fallback; text runs are whole and never empty', () => {
  const t = parseTemplate(Buffer.from('a$<A:-x/y>$<B>${C}${D:-}b'));
  const shown = t.parts.map((p) => (p.kind === 'text' ? ['text', p.text.toString()] : ['ref', p.name, p.fallback?.toString(), p.source.toString()]));
  assert.deepEqual(shown, [
    ['text', 'a'],
    ['ref', 'A', 'x/y', '$<A:-x/y>'],
    ['ref', 'B', undefined, '$<B>'],
    ['ref', 'C', undefined, '${C}'],
    ['ref', 'D', '', '${D:-}'],
    ['text', 'b'],
  ]);
  assert.deepEqual(parseTemplate(Buffer.from('$<A>')).parts.map((p) => p.kind), ['ref']);
  assert.deepEqual(parseTemplate(Buffer.alloc(0)).parts, []);
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
  assert.equal(r.target?.toString(), 'a/b/c/$<D>');
  assert.deepEqual(r.refs.map((x) => x.scope), ['pending exec', 'mount default', 'inline fallback', 'unresolved']);
});

test('the length comes first: over `max` the expansion is not built, at `max` it is', () => {
  const value = Buffer.alloc(127 * 1024, 0x78);
  const scopes: Scopes = { env: (n) => (n === 'A' ? value : undefined), envScope: 'environment', defaults: () => undefined };
  const over = explainTemplate(parseTemplate(Buffer.from('$<A>'.repeat(1023))), scopes, 4095);
  assert.deepEqual([over.target, over.length, over.refs.length], [undefined, 1023 * value.length, 1023]);
  const edge = (n: number) => explainTemplate(parseTemplate(Buffer.from('/$<A>')), { ...scopes, env: () => Buffer.alloc(n - 1, 0x79) }, 4095);
  assert.equal(edge(4095).target?.length, 4095);
  assert.deepEqual([edge(4096).target, edge(4096).length], [undefined, 4096]);
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
// Whole references and unclosed starts among the characters, so that most inputs hold some.
const pieces = fc.oneof(alphabet, fc.constantFrom('$<A>', '${B}', '$<AB:-x>', '${A:-}', '$<A:-', '${_:-y', '$<A1>'));
const templateText = fc.array(pieces, { maxLength: 30 }).map((a) => a.join(''));
const envArb = fc.dictionary(fc.constantFrom('A', 'B', '_', 'AB', 'A1'), fc.string({ maxLength: 5 }));

test('property: expansion equals the reference model on arbitrary strings', () => {
  fc.assert(fc.property(templateText, envArb, (raw, env) => {
    assert.equal(expand(raw, env), model(raw, env));
  }), { numRuns: 5000 });
});

test('property: never throws and keeps every byte of arbitrary input, in parts that are whole', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), templateText), (raw) => {
    const t = parseTemplate(Buffer.from(raw));
    assert.equal(Buffer.concat(t.parts.map((p) => (p.kind === 'text' ? p.text : p.source))).toString(), raw);
    assert.equal(t.refs, t.parts.some((p) => p.kind === 'ref'));
    if (t.refs) assert.ok(REFERENCE_OPENERS.some((o) => raw.includes(o)), 'a reference starts with an opener');
    t.parts.forEach((p, i) => {
      if (p.kind !== 'text') return;
      assert.ok(p.text.length > 0, 'no empty text part');
      assert.notEqual(t.parts[i + 1]?.kind, 'text', 'no two text parts in a row');
    });
  }), { numRuns: 3000 });
});

/**
 * The work `fn` does, counted without a clock: every character the string (and byte) primitives it calls
 * examine — an indexOf counts the characters it scanned, a slice, subarray or toString those it copied,
 * a charCodeAt one. A parser that rescans its input shows here as quadratic growth. (Plain index reads,
 * s[i] or b[i], are not seen: a parser made only of those needs a counter of its own.)
 */
function work(fn: () => void): number {
  let n = 0;
  const patched: Array<[object, string, (...a: any[]) => any]> = [];
  const count = (proto: any, name: string, cost: (self: any, args: any[], result: any) => number) => {
    const original = proto[name] as (...a: any[]) => any;
    patched.push([proto, name, original]);
    proto[name] = function (this: any, ...args: any[]) {
      const result = original.apply(this, args);
      n += 1 + Math.max(0, cost(this, args, result));
      return result;
    };
  };
  const scanned = (self: { length: number }, args: any[], r: number) => (r < 0 ? self.length : r) - Math.max(0, Number(args[1] ?? 0));
  const copied = (_self: unknown, _args: unknown[], r: { length: number }) => r.length;
  for (const proto of [String.prototype, Buffer.prototype]) {
    count(proto, 'indexOf', scanned);
    count(proto, 'lastIndexOf', (self: { length: number }) => self.length);
    count(proto, 'slice', copied);
  }
  count(String.prototype, 'charCodeAt', () => 0);
  count(Buffer.prototype, 'subarray', copied);
  count(Buffer.prototype, 'toString', copied);
  try {
    fn();
  } finally {
    for (const [proto, name, original] of patched.reverse()) (proto as any)[name] = original;
  }
  return n;
}

/** How the work of parsing `unit` repeated grows when the input doubles (1 for no growth, 2 for linear). */
function growth(unit: string): { ratio: number; small: number } {
  const small = work(() => parseTemplate(Buffer.from(unit.repeat(2000))));
  const large = work(() => parseTemplate(Buffer.from(unit.repeat(4000))));
  return { ratio: large / small, small };
}

// Linear: doubling the input doubles the work (2.2 leaves room for constant terms, a quadratic parser
// shows 4). No timing: the count is the same on every machine and every run.
const LINEAR = 2.2;

test('parsing is linear in the input: work counted, not timed', () => {
  for (const unit of ['$<A>', '${A}', '$<A:-x>', '${A:-x}', '$<', '${', '$<1', '$<A', '$<A:x', '$$<A>', '$', 'a', 'ab$<AB', '/opt/$<V>/x', '$<A:-}>']) {
    const { ratio, small } = growth(unit);
    assert.ok(small > 2000, `the counter sees the parser's work (${small}); if not, it must learn the parser's new primitives`);
    assert.ok(ratio <= LINEAR, `parsing ${JSON.stringify(unit)} repeated: work grew ${ratio.toFixed(2)}x when the input doubled`);
  }
});

test('parsing is linear even when fallbacks never close', () => {
  for (const unit of ['$<A:-', '${A:-x', '$<A:-$<B:-']) {
    const { ratio } = growth(unit);
    assert.ok(ratio <= LINEAR, `parsing ${JSON.stringify(unit)} repeated: work grew ${ratio.toFixed(2)}x when the input doubled`);
  }
  fc.assert(fc.property(fc.array(alphabet, { minLength: 1, maxLength: 8 }).map((a) => a.join('')), (unit) => {
    assert.ok(growth(unit).ratio <= LINEAR, JSON.stringify(unit));
  }), { numRuns: 200, seed: 12 });
});

test('expansion looks each reference up once, in one pass', () => {
  let lookups = 0;
  const counting: Scopes = { env: (n) => (lookups++, n === 'A' ? Buffer.from('x') : undefined), envScope: 'environment', defaults: () => undefined };
  for (const k of [1000, 2000]) {
    lookups = 0;
    const template = parseTemplate(Buffer.from('/$<A>$<B:-b>'.repeat(k)));
    const out = expandTemplate(template, counting);
    assert.equal(out.toString(), '/xb'.repeat(k));
    assert.equal(lookups, 2 * k, 'one environment lookup per reference');
  }
});

test('project scope: after the environment, before the mount defaults; a deferring file keeps its source', () => {
  const ref = parseTemplate(Buffer.from('$<V:-fb>')).parts.find((p): p is Extract<Part, { kind: 'ref' }> => p.kind === 'ref')!;
  const none = () => undefined;
  const val = (v: string) => () => Buffer.from(v);
  const proj = (v: string | undefined) => () => ({ value: v === undefined ? undefined : Buffer.from(v), source: '/p/.tool-versions:3' });
  const scopes = (env: (n: string) => Buffer | undefined, project: Scopes['project'], defaults: (n: string) => Buffer | undefined): Scopes => ({ env, envScope: 'environment', project, defaults });
  assert.deepEqual(resolveRef(ref, scopes(val('e'), proj('p'), val('d'))), { name: 'V', scope: 'environment', value: Buffer.from('e') });
  assert.deepEqual(resolveRef(ref, scopes(val(''), proj('p'), val('d'))), { name: 'V', scope: 'project file', value: Buffer.from('p'), source: '/p/.tool-versions:3' });
  assert.deepEqual(resolveRef(ref, scopes(none, proj(undefined), val('d'))), { name: 'V', scope: 'mount default', value: Buffer.from('d'), source: '/p/.tool-versions:3' });
  assert.deepEqual(resolveRef(ref, scopes(none, proj(undefined), none)), { name: 'V', scope: 'inline fallback', value: Buffer.from('fb'), source: '/p/.tool-versions:3' });
  assert.deepEqual(resolveRef(ref, scopes(none, none, val('d'))), { name: 'V', scope: 'mount default', value: Buffer.from('d') });
  assert.deepEqual(resolveRef(ref, scopes(none, undefined, none)), { name: 'V', scope: 'inline fallback', value: Buffer.from('fb') });
});

test('scopes.match: project and default values of a reference that is a whole path component, with its directory', () => {
  const calls: string[] = [];
  const scopes: Scopes = {
    env: (n) => (n === 'E' ? Buffer.from('e1') : undefined),
    envScope: 'environment',
    project: (n) => (n === 'P' ? { value: Buffer.from('20'), source: '/p/.nvmrc:1', versions: [Buffer.from('19'), Buffer.from('20')] } : undefined),
    defaults: (n) => (n === 'D' ? Buffer.from('1.21') : undefined),
    match: (name, dir, versions) => {
      calls.push(`${name} ${dir.toString()} ${versions.map(String).join(',')}`);
      return { value: Buffer.from(`m-${name}`), match: { dir: dir.toString(), matched: `m-${name}`, rule: 'as written', tried: [] } };
    },
  };
  const x = (raw: string) => explainTemplate(parseTemplate(Buffer.from(raw)), scopes);
  assert.equal(x('/i/$<P>/bin').target!.toString(), '/i/m-P/bin');
  assert.equal(x('/i/$<D>').target!.toString(), '/i/m-D');
  assert.equal(x('/i/$<E>/x').target!.toString(), '/i/e1/x', 'the environment is the caller\'s own: as written');
  assert.equal(x('/i/go$<D>').target!.toString(), '/i/go1.21', 'not a whole component');
  assert.equal(x('/i/$<D>x').target!.toString(), '/i/1.21x', 'not a whole component');
  assert.equal(x('$<D>').target!.toString(), '1.21', 'no directory before it');
  assert.equal(x('/$<D>').target!.toString(), '/m-D');
  assert.equal(x('/a/$<P>/$<D>/z').target!.toString(), '/a/m-P/m-D/z');
  assert.deepEqual(calls, ['P /i 19,20', 'D /i 1.21', 'D / 1.21', 'P /a 19,20', 'D /a/m-P 1.21']);
  assert.equal(x('/i/$<P>').refs[0]!.match?.matched, 'm-P');
});

// Mutants that survived a run of `npm run test:mutation` (docs/testing.md), each killed by the rule it broke.
test('scopes.match: one project version is matched as itself; a matched default says how; an empty project value is unset', () => {
  const calls: string[] = [];
  const project = (value: string) => (n: string) => (n === 'P' ? { value: Buffer.from(value), source: '/p/.nvmrc:1' } : undefined);
  const scopes: Scopes = {
    env: () => undefined,
    envScope: 'environment',
    project: project('20'),
    defaults: (n) => (n === 'P' || n === 'D' ? Buffer.from('1.21') : undefined),
    match: (name, dir, versions) => {
      calls.push(`${name} ${dir.toString()} ${versions.map(String).join(',')}`);
      return { value: Buffer.from(`m-${name}`), match: { dir: dir.toString(), matched: `m-${name}`, rule: 'as written', tried: [] } };
    },
  };
  const x = (raw: string, s: Scopes = scopes) => explainTemplate(parseTemplate(Buffer.from(raw)), s);
  assert.equal(x('/i/$<P>').target!.toString(), '/i/m-P');
  assert.deepEqual(calls, ['P /i 20'], 'a file with one version (no `versions`): that version is matched');
  assert.deepEqual(x('/i/$<D>').refs[0]!.match, { dir: '/i', matched: 'm-D', rule: 'as written', tried: [] }, 'a mount default says how it was matched');
  const empty = x('/i/$<P>', { ...scopes, project: project('') }).refs[0]!;
  assert.deepEqual([empty.scope, empty.source], ['mount default', '/p/.nvmrc:1'], 'an empty project value counts as unset, as in every scope');
});

test('scopes.match: matched while the expansion so far is at most `max`, not past it', () => {
  const scopes: Scopes = {
    env: () => undefined,
    envScope: 'environment',
    defaults: (n) => (n === 'D' ? Buffer.from('1.21') : undefined),
    match: () => ({ value: Buffer.from('1.21.9'), match: { dir: '/i', matched: '1.21.9', rule: 'newest with prefix', tried: ['1.21.*'] } }),
  };
  const at = (max: number) => explainTemplate(parseTemplate(Buffer.from('/i/$<D>')), scopes, max);
  assert.deepEqual([at(3).target, at(3).length, at(3).refs[0]!.match?.matched], [undefined, 9, '1.21.9'], '3 bytes before it, max 3: matched');
  assert.deepEqual([at(2).target, at(2).length, at(2).refs[0]!.match], [undefined, 7, undefined], '3 bytes before it, max 2: as written');
  assert.equal(at(9).target!.toString(), '/i/1.21.9');
});
