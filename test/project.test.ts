import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { VarsymfsError } from '../src/errors';
import { isVariableName } from '../src/names';
import {
  BUILTIN_PROJECT_FILES, OWN_FILE, TOOL_ALIASES, TOOL_VERSIONS_FILE, directoryEntries,
  parseAssignments, parseOneValueFile, parseProjectFile, parseProjectFileMapping, parseToolVersions,
  foundDirectories, MISE_FILES, parseMiseToml, projectFileNames, projectFileRules, projectLookup, projectSkipped, projectSource, toolVariable, versionValue,
  type FoundFile, type OneValueRule, type ProjectDirectory, type ProjectEntry, type ProjectFileRule, type Refusal,
} from '../src/project';
import { findProjectValue, walkDirectories } from './helpers/project';

const b = (s: string) => Buffer.from(s, 'latin1');
const s = (buf: Buffer | undefined) => buf?.toString('latin1');

/** An entry with its bytes shown as strings, for deepEqual. */
function plain(e: ProjectEntry | undefined) {
  if (e === undefined) return undefined;
  return { variable: e.variable, value: s(e.value), written: s(e.written), file: e.file, line: e.line };
}

/** A directory's files as a lookup that counts its reads. */
function reader(files: Record<string, string | Buffer>): { read: (f: string) => Buffer | undefined; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    read: (f) => {
      reads.push(f);
      const c = Object.prototype.hasOwnProperty.call(files, f) ? files[f] : undefined;
      return c === undefined ? undefined : typeof c === 'string' ? b(c) : c;
    },
  };
}

function dir(path: string, files: Record<string, string | Buffer>): ProjectDirectory {
  return { path: b(path), read: reader(files).read };
}

describe('toolVariable: the naming rule', () => {
  test('<TOOL>_VERSION, upper-cased, - as _', () => {
    assert.equal(toolVariable('go'), 'GO_VERSION');
    assert.equal(toolVariable('python'), 'PYTHON_VERSION');
    assert.equal(toolVariable('terraform-ls'), 'TERRAFORM_LS_VERSION');
    assert.equal(toolVariable('a_b-c1'), 'A_B_C1_VERSION');
    assert.equal(toolVariable('Go'), 'GO_VERSION');
    assert.equal(toolVariable('_x'), '_X_VERSION');
    assert.equal(toolVariable('-go'), '_GO_VERSION');
  });

  test('the asdf plugin names that differ from the tool name', () => {
    assert.equal(toolVariable('golang'), 'GO_VERSION');
    assert.equal(toolVariable('nodejs'), 'NODE_VERSION');
    assert.equal(toolVariable('dotnet-core'), 'DOTNET_VERSION');
    assert.equal(toolVariable('node'), 'NODE_VERSION');
    assert.equal(toolVariable('dotnet'), 'DOTNET_VERSION');
    assert.deepEqual([...TOOL_ALIASES.keys()].sort(), ['dotnet-core', 'golang', 'nodejs']);
    assert.equal(toolVariable('Golang'), 'GOLANG_VERSION', 'aliases are exact, as plugin names are');
  });

  test('a tool that cannot make a variable name answers nothing', () => {
    for (const tool of ['', '1password', '9', 'npm:prettier', 'ubi:a/b', 'go.x', 'a b', 'gö', 'goß', 'ßgo', 'ı', 'ıgo', 'go\0']) {
      assert.equal(toolVariable(tool), undefined, JSON.stringify(tool));
    }
  });

  test('property: the result is undefined or a valid name ending in _VERSION', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 12 }), (tool) => {
      const v = toolVariable(tool);
      if (v !== undefined) {
        assert.ok(isVariableName(v) && v.endsWith('_VERSION'), v);
        assert.match(tool, /^[A-Za-z0-9_-]+$/);
      }
    }), { numRuns: 3000 });
  });

  test('property: a plain tool name gives its upper-cased name', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), (tool) => {
      fc.pre(!TOOL_ALIASES.has(tool));
      assert.equal(toolVariable(tool), tool.toUpperCase().replaceAll('-', '_') + '_VERSION');
    }), { numRuns: 1000 });
  });
});

describe('versionValue: special values', () => {
  test('a plain version is used as written, bytes and all', () => {
    for (const v of ['1.21.5', 'v20.1.0', 'latest', 'lts', 'stable', 'System', 'refs', 'ref', '...', 'openjdk-21', 'temurin-21.0.1+12']) {
      assert.equal(s(versionValue(b(v))), v);
    }
    const raw = Buffer.from([0xff, 0x31, 0xc3]);
    assert.deepEqual(versionValue(raw), raw);
  });

  test('system defers to the mount defaults', () => {
    assert.equal(versionValue(b('system')), undefined);
  });

  test('ref:X is the directory asdf and mise install it into, ref-X', () => {
    assert.equal(s(versionValue(b('ref:v1.2'))), 'ref-v1.2');
    assert.equal(s(versionValue(b('ref:system'))), 'ref-system');
    for (const v of ['ref:', 'ref:a/b', 'ref:a:b', 'ref:.', 'ref:..', 'ref:a\0']) assert.equal(versionValue(b(v)), undefined, v);
  });

  test('prefix:X is X and lts/NAME is lts-NAME (mise\'s runtime links): the matching rules take them from there', () => {
    assert.equal(s(versionValue(b('prefix:1.20'))), '1.20');
    assert.equal(s(versionValue(b('lts/iron'))), 'lts-iron');
    assert.equal(s(versionValue(b('lts/*'))), 'lts');
    for (const v of ['prefix:', 'prefix:a/b', 'lts/', 'lts/a/b', 'lts/..']) assert.equal(versionValue(b(v)), undefined, v);
  });

  test('what is not one plain path component defers: path:, directives, other names with /, dots, NUL', () => {
    for (const v of ['path:/opt/go', 'path:', 'sub-1:latest', 'latest:^1.5', 'xref:a', 'node/20', '/abs', 'a/', '.', '..', 'a\0b', '']) {
      assert.equal(versionValue(b(v)), undefined, JSON.stringify(v));
    }
  });
});

describe('parseToolVersions', () => {
  test('tools, comments, blank lines, tabs, CRLF, several versions, inline comments', () => {
    const file = '# my project\n\ngolang 1.21.5 1.20.0\r\n  nodejs\t20.1.0 # LTS\n\npython   3.12.1\t\r\nruby 3.3.0#pinned\nterraform\t1.6.0';
    assert.deepEqual(parseToolVersions(b(file)).map(plain), [
      { variable: 'GO_VERSION', value: '1.21.5', written: '1.21.5', file: '.tool-versions', line: 3 },
      { variable: 'NODE_VERSION', value: '20.1.0', written: '20.1.0', file: '.tool-versions', line: 4 },
      { variable: 'PYTHON_VERSION', value: '3.12.1', written: '3.12.1', file: '.tool-versions', line: 6 },
      { variable: 'RUBY_VERSION', value: '3.3.0', written: '3.3.0', file: '.tool-versions', line: 7 },
      { variable: 'TERRAFORM_VERSION', value: '1.6.0', written: '1.6.0', file: '.tool-versions', line: 8 },
    ]);
  });

  test('the last line naming a variable wins, aliases included, as in mise; the lines it overrides are kept', () => {
    const entries = parseToolVersions(b('go 1.21\ngolang 1.20\ngo 1.19\nnodejs 18\nnode 20\n'));
    assert.deepEqual(entries.map((e) => [e.variable, s(e.value), e.line, e.overrides]), [['GO_VERSION', '1.19', 3, [1, 2]], ['NODE_VERSION', '20', 5, [4]]]);
    assert.equal(parseToolVersions(b('go 1\n'))[0]!.overrides, undefined);
  });

  test('every version of a line is kept, in order, for the matching rules (the first installed wins)', () => {
    const [entry] = parseToolVersions(b('go 1.99.0 ref:x 1.21 # old\n'));
    assert.deepEqual(entry!.versions!.map(s), ['1.99.0', 'ref-x', '1.21']);
  });

  test('lines without a version, comment lines and tools that make no name are skipped', () => {
    const entries = parseToolVersions(b('go\n# go 1.0\ngo#x 1.0\n  # python 3\nnpm:prettier 3.0\n1password 2\n\t\r\ngo 1.22\n'));
    assert.deepEqual(entries.map((e) => [e.variable, s(e.value), e.line]), [['GO_VERSION', '1.22', 8]]);
  });

  test('a skipped tool does not claim its variable', () => {
    const entries = parseToolVersions(b('golang\ngo.x 1\ngo 1.2\n'));
    assert.deepEqual(entries.map((e) => [e.variable, s(e.value)]), [['GO_VERSION', '1.2']]);
  });

  test('special values are entries that defer, with what was written', () => {
    const entries = parseToolVersions(b('go system\npython path:/opt/py 3.12\nruby ref:abc\nnodejs lts/*\n'));
    assert.deepEqual(entries.map(plain), [
      { variable: 'GO_VERSION', value: undefined, written: 'system', file: '.tool-versions', line: 1 },
      { variable: 'PYTHON_VERSION', value: undefined, written: 'path:/opt/py', file: '.tool-versions', line: 2 },
      { variable: 'RUBY_VERSION', value: 'ref-abc', written: 'ref:abc', file: '.tool-versions', line: 3 },
      { variable: 'NODE_VERSION', value: 'lts', written: 'lts/*', file: '.tool-versions', line: 4 },
    ]);
  });

  test('a UTF-8 byte-order mark at the start is skipped, not elsewhere', () => {
    assert.deepEqual(parseToolVersions(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b('go 1.2\n')])).map((e) => [e.variable, e.line]), [['GO_VERSION', 1]]);
    assert.deepEqual(parseToolVersions(Buffer.concat([b('go 1.2\n'), Buffer.from([0xef, 0xbb, 0xbf]), b('node 2\n')])).map((e) => e.variable), ['GO_VERSION']);
    assert.deepEqual(parseToolVersions(Buffer.from([0xef, 0xbb])), []);
  });

  test('values are bytes, copied out of the input', () => {
    const file = Buffer.concat([b('go '), Buffer.from([0xff, 0xfe]), b('\n')]);
    const [entry] = parseToolVersions(file, 'custom');
    assert.deepEqual(entry!.value, Buffer.from([0xff, 0xfe]));
    assert.equal(entry!.file, 'custom');
    file.fill(0x41);
    assert.deepEqual(entry!.written, Buffer.from([0xff, 0xfe]), 'a reused read buffer must not change a parsed value');
  });

  test('empty and blank input', () => {
    assert.deepEqual(parseToolVersions(Buffer.alloc(0)), []);
    assert.deepEqual(parseToolVersions(b('\n\n  \r\n#\n')), []);
  });
});

describe('parseMiseToml: mise.toml and its siblings', () => {
  const parse = (text: string) => parseMiseToml(b(text)).map((e) => [e.variable, s(e.value), e.line, e.versions?.map(s), e.overrides]);

  test('[tools]: a string, an array, { version = … }; [env]: string values as variables', () => {
    const file = '# mise use wrote this\n[tools]\ngo = "1.21"\nnode = ["20", "18"]\npython = { version = "3.12", virtualenv = ".venv" }\n"npm:prettier" = "3"\n\n[env]\nDB_HOST = "localhost"\nPORT = 5432\n_.path = ["./bin"]\n';
    assert.deepEqual(parse(file), [
      ['GO_VERSION', '1.21', 3, undefined, undefined],
      ['NODE_VERSION', '20', 4, ['20', '18'], undefined],
      ['PYTHON_VERSION', '3.12', 5, undefined, undefined],
      ['DB_HOST', 'localhost', 9, undefined, undefined],
    ]);
  });

  test('dotted keys, special values as in .tool-versions, templates skipped', () => {
    assert.deepEqual(parse('tools.go = "prefix:1.21"\ntools.node = "lts/iron"\ntools.ruby = "system"\nenv.A = "{{env.HOME}}"\n'), [
      ['GO_VERSION', '1.21', 1, undefined, undefined],
      ['NODE_VERSION', 'lts-iron', 2, undefined, undefined],
      ['RUBY_VERSION', undefined, 3, undefined, undefined],
    ]);
  });

  test('duplicates: the last wins, as in mise (golang and go are one tool; [env] after [tools])', () => {
    assert.deepEqual(parse('[tools]\ngolang = "1.20"\ngo = "1.21"\n[env]\nGO_VERSION = "own"\n'), [['GO_VERSION', 'own', 5, undefined, [2, 3]]]);
  });

  test('never throws; what it returns names valid variables, once each', () => {
    const text = fileText(['[tools]', '[env]', 'go', 'A', ' = ', '"1.2"', '[', ']', '{', '}', 'version', ',', '\n', '"', '\'', '.', '#', '\0', 'é']);
    fc.assert(fc.property(fc.oneof(text.map((t) => b(t)), fc.uint8Array({ maxLength: 120 }).map((u) => Buffer.from(u))), (bytes) => {
      const entries = parseMiseToml(bytes);
      assert.equal(new Set(entries.map((e) => e.variable)).size, entries.length);
      for (const e of entries) assert.ok(isVariableName(e.variable) && e.line >= 1);
    }), { numRuns: 2000 });
  });

  test('an [env] value that is not one path component is refused, as in the own file, and reported', () => {
    const refused: Refusal[] = [];
    assert.deepEqual(parseMiseToml(b('[env]\nA = "../../x"\nB = "ok"\nC = ".."\n'), 'mise.toml', refused).map((e) => e.variable), ['B']);
    assert.deepEqual(refused.map((r) => [r.variable, s(r.written), r.line]), [['A', '../../x', 2], ['C', '..', 4]]);
  });

  test('the line of a [tools] key: an indented table, a key indented before any table, an inline table, not another table\'s key', () => {
    assert.deepEqual(parse('  [tools]\n  go = "1.21"\n'), [['GO_VERSION', '1.21', 2, undefined, undefined]]);
    assert.deepEqual(parse('# pins\n  tools.go = "1.21"\n'), [['GO_VERSION', '1.21', 2, undefined, undefined]]);
    assert.deepEqual(parse('tools = { go = "1.21" }\n'), [['GO_VERSION', '1.21', 1, undefined, undefined]], 'not found by the scan: line 1');
    assert.deepEqual(parse('[settings]\ngo = "x"\n[tools]\ngo = "1.21"\n'), [['GO_VERSION', '1.21', 4, undefined, undefined]]);
    assert.deepEqual(parse('[settings]\ntools.go = "x"\n[tools]\ngo = "1.21"\n'), [['GO_VERSION', '1.21', 4, undefined, undefined]]);
  });

  test('[tools] values: words split on any run of spaces; numbers, booleans, empty arrays, a version that is no string give nothing; a word with NUL is skipped', () => {
    assert.deepEqual(parse('[tools]\ngo = " 1.21 \\t 1.20 "\nnode = 20\nruby = true\npython = { version = ["3.12"] }\ndeno = []\nbun = ""\n'), [
      ['GO_VERSION', '1.21', 2, ['1.21', '1.20'], undefined],
    ]);
    assert.deepEqual(parse('[tools]\ngo = "a\\u0000b 1.21"\nnode = ["\\u0000", "20"]\n'), [
      ['GO_VERSION', '1.21', 2, undefined, undefined],
      ['NODE_VERSION', '20', 3, undefined, undefined],
    ]);
  });

  test('a [tools] value holding a template is ignored whole: spaces inside it, or a template among versions', () => {
    assert.deepEqual(parse('[tools]\ngo = "{{ env.GO }}"\nnode = ["{{ vars.node }}", "20"]\nruby = "3.3 {{x}}"\n'), []);
  });

  test('a byte-order mark is skipped at the start only; [env]: an empty value is no entry and no refusal', () => {
    const text = Buffer.from('\ufeff[env]\nA = "x\ufeffy"\nB = ""\n', 'utf8');
    const refused: Refusal[] = [];
    const entries = parseMiseToml(text, 'mise.toml', refused);
    assert.deepEqual(entries.map((e) => [e.variable, e.value?.toString('utf8'), e.line]), [['A', 'x\ufeffy', 2]]);
    assert.deepEqual(refused, []);
    assert.deepEqual(parseMiseToml(Buffer.from('[env]\nA = "x\ufeffy"\n', 'utf8')).map((e) => e.value?.toString('utf8')), ['x\ufeffy'], 'no mark at the start: nothing is skipped');
  });

  test('not TOML: nothing (mise refuses the file)', () => {
    assert.deepEqual(parse('[tools\ngo = 1.21\n'), []);
    assert.deepEqual(parse('go 1.21\n'), []);
  });

  test('precedence in one directory: own file, .mise.local.toml, mise.local.toml, .mise.toml, mise.toml, .tool-versions', () => {
    const files: Record<string, string> = { [TOOL_VERSIONS_FILE]: 'go 1\n', 'mise.toml': '[tools]\ngo = "2"\n', '.mise.toml': '[tools]\ngo = "3"\n', 'mise.local.toml': '[tools]\ngo = "4"\n', '.mise.local.toml': '[tools]\ngo = "5"\n' };
    for (const [gone, want] of [['', '5'], ['.mise.local.toml', '4'], ['mise.local.toml', '3'], ['.mise.toml', '2'], ['mise.toml', '1']] as const) {
      if (gone !== '') delete files[gone];
      assert.equal(s(directoryEntries(reader(files).read).get('GO_VERSION')?.value), want, gone);
    }
  });
});

describe('parseOneValueFile', () => {
  const parse = (text: string | Buffer) => plain(parseOneValueFile(typeof text === 'string' ? b(text) : text, '.nvmrc', 'NODE_VERSION'));

  test('the first word of the first line that has one', () => {
    assert.deepEqual(parse('20.1.0\n'), { variable: 'NODE_VERSION', value: '20.1.0', written: '20.1.0', file: '.nvmrc', line: 1 });
    assert.deepEqual(parse('# pinned\n\n  v20.1.0  # LTS\n18\n'), { variable: 'NODE_VERSION', value: 'v20.1.0', written: 'v20.1.0', file: '.nvmrc', line: 3 });
    assert.equal(parse('3.12.1 3.11.7\n')!.value, '3.12.1');
    assert.equal(parse('3.12.1\n3.11.7\n')!.value, '3.12.1');
    assert.deepEqual(parseOneValueFile(b('3.13 # new\n\n3.11.7 3.10\n'), '.python-version', 'PYTHON_VERSION')!.versions!.map(s), ['3.13', '3.11.7']);
    assert.equal(parse('20\r\n')!.value, '20');
    assert.equal(parse('20#x')!.value, '20');
    assert.equal(parse('\t 20')!.value, '20');
    assert.equal(parse('#x\n21')!.line, 2);
  });

  test('no word: no entry', () => {
    for (const text of ['', '\n', '  \r\n\t\n', '# only a comment\n', '#20\n']) assert.equal(parse(text), undefined, JSON.stringify(text));
  });

  test('special values defer', () => {
    assert.deepEqual(parse('path:/x\n'), { variable: 'NODE_VERSION', value: undefined, written: 'path:/x', file: '.nvmrc', line: 1 });
    assert.equal(parse('system')!.value, undefined);
  });

  test('a byte-order mark is skipped; three bytes that are not one are kept', () => {
    assert.equal(parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b('20\n')]))!.value, '20');
    for (const bytes of [[0xef, 0xbb, 0x31, 0x32], [0xef, 0x31, 0xbf, 0x32], [0x31, 0xbb, 0xbf, 0x32]]) {
      assert.equal(parse(Buffer.from(bytes))!.value, s(Buffer.from(bytes)));
    }
  });
});

describe('parseAssignments: the own file', () => {
  const parse = (text: string | Buffer) => parseAssignments(typeof text === 'string' ? b(text) : text).map((e) => [e.variable, s(e.value), e.line]);

  test('NAME=VALUE lines, comments, blank lines, CRLF', () => {
    assert.deepEqual(parse('# versions\nGO_VERSION=go1.21.5\r\n\n  # NODE_VERSION=1\nJAVA_VERSION=21\n'), [
      ['GO_VERSION', 'go1.21.5', 2],
      ['JAVA_VERSION', '21', 5],
    ]);
    const [entry] = parseAssignments(b('A=1'));
    assert.deepEqual(plain(entry), { variable: 'A', value: '1', written: '1', file: OWN_FILE, line: 1 });
    assert.equal(parseAssignments(b('A=1'), 'mine')[0]!.file, 'mine');
  });

  test('spaces around NAME and VALUE are dropped, inner ones kept', () => {
    assert.deepEqual(parse('  A = 1 \t\nB\t=\tx y\n'), [['A', '1', 1], ['B', 'x y', 2]]);
  });

  test('export before NAME, as a shell would source it', () => {
    assert.deepEqual(parse('export A=1\nexport\tB=2\nexport   C = 3\nexportD=4\nexport=5\n'), [
      ['A', '1', 1], ['B', '2', 2], ['C', '3', 3], ['exportD', '4', 4], ['export', '5', 5],
    ]);
  });

  test('matching quotes around VALUE are removed; anything else is kept', () => {
    assert.deepEqual(parse('A="x y"\nB=\'z\'\nC="x\nD="\nE="x\'\nF=x"\nG= "q" \nH="a"b"\n'), [
      ['A', 'x y', 1], ['B', 'z', 2], ['C', '"x', 3], ['D', '"', 4], ['E', '"x\'', 5], ['F', 'x"', 6], ['G', 'q', 7], ['H', 'a"b', 8],
    ]);
  });

  test('VALUE is taken as written: =, #, system, non-UTF-8 bytes', () => {
    assert.deepEqual(parse('A=b=c\nB=x # y\nC=system\nD=path:x\n'), [['A', 'b=c', 1], ['B', 'x # y', 2], ['C', 'system', 3], ['D', 'path:x', 4]]);
    const [entry] = parseAssignments(Buffer.concat([b('A='), Buffer.from([0xff, 0x80])]));
    assert.deepEqual(entry!.value, Buffer.from([0xff, 0x80]));
  });

  test('empty values, NUL bytes and lines without a valid NAME are skipped; the next line may answer', () => {
    assert.deepEqual(parse('A=\nB=""\nC=\'\'\nD=  \nE=a\0b\nA=2\nB=3\n'), [['A', '2', 6], ['B', '3', 7]]);
    assert.deepEqual(parse('1A=1\nA-B=1\n=1\nA B=1\n\xe9=1\nJUSTTEXT\n# C=1\nOK=1\n'), [['OK', '1', 8]]);
  });

  test('a VALUE that is not one path component is refused: absent (the next line may answer), and reported', () => {
    const refused: Refusal[] = [];
    assert.deepEqual(parse('A=/usr/lib/jvm/21\nB=.\nC=..\nD=../../pub/.e\nE=x/\nA=21\nB=ok.\nF=a\0b\n'), [['A', '21', 6], ['B', 'ok.', 7]]);
    parseAssignments(b('A=/x\nB=..\nF=a\0b\n'), OWN_FILE, refused);
    assert.deepEqual(refused.map((r) => [r.variable, r.written.toString('latin1'), r.line]), [['A', '/x', 1], ['B', '..', 2], ['F', 'a\0b', 3]]);
  });

  test('the first line naming a variable wins', () => {
    assert.deepEqual(parse('A=1\nA=2\nexport A=3\n'), [['A', '1', 1]]);
  });

  test('a byte-order mark is skipped', () => {
    assert.deepEqual(parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b('A=1\n')])), [['A', '1', 1]]);
  });

  test('values are copied out of the input', () => {
    const file = b('A=xyz\n');
    const [entry] = parseAssignments(file);
    file.fill(0x41);
    assert.equal(s(entry!.value), 'xyz');
  });
});

describe('parseProjectFile dispatches by format', () => {
  test('each format', () => {
    assert.deepEqual(parseProjectFile({ file: 'x', format: 'assignments' }, b('A=1')).map(plain), [{ variable: 'A', value: '1', written: '1', file: 'x', line: 1 }]);
    assert.deepEqual(parseProjectFile({ file: 'y', format: 'tool-versions' }, b('go 1')).map(plain), [{ variable: 'GO_VERSION', value: '1', written: '1', file: 'y', line: 1 }]);
    assert.deepEqual(parseProjectFile({ file: 'z', format: 'one-value', variable: 'V' }, b('2')).map(plain), [{ variable: 'V', value: '2', written: '2', file: 'z', line: 1 }]);
    assert.deepEqual(parseProjectFile({ file: 'z', format: 'one-value', variable: 'V' }, b('# none')), []);
  });
});

describe('directoryEntries: precedence inside one directory', () => {
  test('own file, then .tool-versions, then one-value files', () => {
    const all = { [OWN_FILE]: 'GO_VERSION=own\n', [TOOL_VERSIONS_FILE]: 'go tv\nnode tvnode\n', '.go-version': 'gv\n', '.python-version': '3.12\n' };
    const table = directoryEntries(reader(all).read);
    assert.deepEqual([...table.entries()].map(([k, e]) => [k, s(e.value), e.file]), [
      ['GO_VERSION', 'own', OWN_FILE], ['NODE_VERSION', 'tvnode', TOOL_VERSIONS_FILE], ['PYTHON_VERSION', '3.12', '.python-version'],
    ]);
    const { [OWN_FILE]: _own, ...noOwn } = all;
    assert.equal(s(directoryEntries(reader(noOwn).read).get('GO_VERSION')!.value), 'tv');
    const { [TOOL_VERSIONS_FILE]: _tv, ...onlyOneValue } = noOwn;
    assert.equal(s(directoryEntries(reader(onlyOneValue).read).get('GO_VERSION')!.value), 'gv');
  });

  test('.nvmrc before .node-version', () => {
    assert.equal(directoryEntries(reader({ '.node-version': '18', '.nvmrc': '20' }).read).get('NODE_VERSION')!.file, '.nvmrc');
    assert.equal(directoryEntries(reader({ '.node-version': '18', '.nvmrc': '# none' }).read).get('NODE_VERSION')!.file, '.node-version');
  });

  test('every built-in one-value file answers its variable', () => {
    const expected: Record<string, string> = {
      '.go-version': 'GO_VERSION', '.nvmrc': 'NODE_VERSION', '.node-version': 'NODE_VERSION', '.python-version': 'PYTHON_VERSION',
      '.ruby-version': 'RUBY_VERSION', '.java-version': 'JAVA_VERSION', '.terraform-version': 'TERRAFORM_VERSION',
    };
    for (const [file, variable] of Object.entries(expected)) {
      const table = directoryEntries(reader({ [file]: '1.0' }).read);
      assert.deepEqual([...table.keys()], [variable], file);
      assert.equal(table.get(variable)!.file, file);
    }
  });

  test('a deferring entry still answers: it hides the files below it', () => {
    const entry = directoryEntries(reader({ [TOOL_VERSIONS_FILE]: 'go system', '.go-version': '1.2' }).read).get('GO_VERSION')!;
    assert.equal(entry.value, undefined);
    assert.equal(entry.file, TOOL_VERSIONS_FILE);
  });

  test('each file is read once, only files of the rules, absent files are no error', () => {
    const r = reader({ '.nvmrc': '20', '.bun-version': '1.1' });
    const rules = projectFileRules([{ file: '.nvmrc', format: 'one-value', variable: 'NVM_NODE' }, { file: '.bun-version', format: 'one-value', variable: 'BUN_VERSION' }]);
    const table = directoryEntries(r.read, rules);
    assert.deepEqual([...table.keys()], ['NODE_VERSION', 'NVM_NODE', 'BUN_VERSION']);
    assert.deepEqual(r.reads.slice().sort(), projectFileNames(rules).sort());
    assert.equal(new Set(r.reads).size, r.reads.length);
  });

  test('no rules: nothing is read', () => {
    const r = reader({ '.nvmrc': '20' });
    assert.equal(directoryEntries(r.read, []).size, 0);
    assert.deepEqual(r.reads, []);
  });
});

describe('findProjectValue: the walk', () => {
  test('the nearest directory that names the variable wins, each variable on its own', () => {
    const dirs = [
      dir('/srv/you/proj/a/b', {}),
      dir('/srv/you/proj/a', { '.nvmrc': '18\n' }),
      dir('/srv/you/proj', { [TOOL_VERSIONS_FILE]: '# tools\ngolang 1.21.5\nnodejs 20.1.0\n' }),
      dir('/srv/you', { [TOOL_VERSIONS_FILE]: 'go 1.19\npython 3.11\n' }),
      dir('/srv', {}),
      dir('/', {}),
    ];
    const go = findProjectValue('GO_VERSION', dirs)!;
    assert.deepEqual({ ...plain(go), dir: s(go.dir) }, { variable: 'GO_VERSION', value: '1.21.5', written: '1.21.5', file: TOOL_VERSIONS_FILE, line: 2, dir: '/srv/you/proj' });
    assert.equal(projectSource(go), '/srv/you/proj/.tool-versions:2');
    const node = findProjectValue('NODE_VERSION', dirs)!;
    assert.deepEqual([s(node.value), s(node.dir), node.file], ['18', '/srv/you/proj/a', '.nvmrc']);
    const py = findProjectValue('PYTHON_VERSION', dirs)!;
    assert.deepEqual([s(py.value), s(py.dir)], ['3.11', '/srv/you']);
    assert.equal(findProjectValue('RUBY_VERSION', dirs), undefined);
    assert.equal(findProjectValue('GO_VERSION', []), undefined);
  });

  test('a deferring answer stops the walk', () => {
    const dirs = [dir('/p/sub', { [TOOL_VERSIONS_FILE]: 'go system' }), dir('/p', { '.go-version': '1.2' })];
    const a = findProjectValue('GO_VERSION', dirs)!;
    assert.equal(a.value, undefined);
    assert.equal(s(a.written), 'system');
    assert.equal(s(a.dir), '/p/sub');
  });

  test('the walk is lazy: directories past the answer are never reached', () => {
    function* lazy(): Generator<ProjectDirectory> {
      yield dir('/a/b', {});
      yield dir('/a', { '.go-version': '1.2' });
      throw new Error('walked past the answer');
    }
    assert.equal(s(findProjectValue('GO_VERSION', lazy())!.value), '1.2');
  });

  test('the rules decide which files count', () => {
    const dirs = [dir('/a', { '.bun-version': '1.1', '.go-version': '1.2' })];
    assert.equal(findProjectValue('BUN_VERSION', dirs), undefined);
    const rules = projectFileRules([parseProjectFileMapping('.bun-version=BUN_VERSION')]);
    assert.equal(s(findProjectValue('BUN_VERSION', dirs, rules)!.value), '1.1');
    assert.equal(findProjectValue('GO_VERSION', dirs, []), undefined);
  });

  test('with walkDirectories', () => {
    const files: Record<string, Record<string, string>> = { '/srv/app': { [OWN_FILE]: 'DB=replica' }, '/': { [OWN_FILE]: 'DB=main\nMODE=x' } };
    const dirs = walkDirectories(b('/srv/app/src/lib')).map((p) => dir(s(p)!, files[s(p)!] ?? {}));
    assert.equal(s(findProjectValue('DB', dirs)!.value), 'replica');
    assert.equal(s(findProjectValue('MODE', dirs)!.dir), '/');
  });
});

describe('projectFileNames: what to look for in each directory', () => {
  test('all names, once, in precedence order', () => {
    assert.deepEqual(projectFileNames(), [OWN_FILE, ...MISE_FILES, TOOL_VERSIONS_FILE, '.go-version', '.nvmrc', '.node-version', '.python-version', '.ruby-version', '.java-version', '.terraform-version']);
    assert.deepEqual(projectFileNames(projectFileRules([{ file: '.nvmrc', format: 'one-value', variable: 'X' }])), projectFileNames());
  });

  test('for one variable: the own file, mise\'s files, .tool-versions and the one-value files that answer it', () => {
    assert.deepEqual(projectFileNames(BUILTIN_PROJECT_FILES, 'NODE_VERSION'), [OWN_FILE, ...MISE_FILES, TOOL_VERSIONS_FILE, '.nvmrc', '.node-version']);
    assert.deepEqual(projectFileNames(BUILTIN_PROJECT_FILES, 'DB_HOST'), [OWN_FILE, ...MISE_FILES, TOOL_VERSIONS_FILE]);
    assert.deepEqual(projectFileNames([]), []);
  });
});

describe('walkDirectories', () => {
  const walk = (p: string) => walkDirectories(b(p)).map((x) => s(x));
  test('from the working directory up to /', () => {
    assert.deepEqual(walk('/'), ['/']);
    assert.deepEqual(walk('/a'), ['/a', '/']);
    assert.deepEqual(walk('/srv/you/proj'), ['/srv/you/proj', '/srv/you', '/srv', '/']);
    assert.deepEqual(walk('/a/b/'), ['/a/b', '/a', '/']);
    assert.deepEqual(walk('/a//b'), ['/a//b', '/a', '/']);
    assert.deepEqual(walk('//'), ['/']);
    assert.deepEqual(walkDirectories(Buffer.from([0x2f, 0xff, 0x2f, 0x61])), [Buffer.from([0x2f, 0xff, 0x2f, 0x61]), Buffer.from([0x2f, 0xff]), b('/')]);
  });

  test('no absolute path, no directories', () => {
    assert.deepEqual(walk(''), []);
    assert.deepEqual(walk('a/b'), []);
  });

  test('property: each directory is the parent of the one before, ending at /', () => {
    const component = fc.string({ unit: fc.constantFrom('a', 'b', '.', ' ', '\xff'), minLength: 1, maxLength: 4 });
    fc.assert(fc.property(fc.array(component, { maxLength: 6 }), fc.constantFrom('', '/'), (parts, trailing) => {
      const dirs = walk('/' + parts.join('/') + trailing);
      assert.equal(dirs.length, parts.length + 1);
      parts.forEach((_, i) => assert.equal(dirs[i], '/' + parts.slice(0, parts.length - i).join('/')));
      assert.equal(dirs.at(-1), '/');
    }), { numRuns: 1000 });
  });
});

describe('projectSource', () => {
  test('directory, file and line', () => {
    const entry = { variable: 'A', value: b('1'), written: b('1'), file: '.nvmrc', line: 3 };
    assert.equal(projectSource({ ...entry, dir: b('/') }), '/.nvmrc:3');
    assert.equal(projectSource({ ...entry, dir: b('/a/b') }), '/a/b/.nvmrc:3');
  });

  test('a duplicate says which lines it overrides (mise: the last wins)', () => {
    const [go] = parseToolVersions(b('go 1\ngolang 2\ngo 3\n'));
    assert.equal(projectSource({ ...go!, dir: b('/p') }), '/p/.tool-versions:3 (the last line naming it: overrides lines 1, 2)');
    const [one] = parseToolVersions(b('go 1\ngo 2\n'));
    assert.equal(projectSource({ ...one!, dir: b('/p') }), '/p/.tool-versions:2 (the last line naming it: overrides line 1)');
  });
});

describe('projectFileRules and --project-file', () => {
  test('the file names users write', () => {
    assert.equal(OWN_FILE, '.varsymfs-env');
    assert.equal(TOOL_VERSIONS_FILE, '.tool-versions');
  });

  test('the built-in rules, then the mappings in order, without repeats', () => {
    assert.deepEqual(projectFileRules(), BUILTIN_PROJECT_FILES);
    const bun: OneValueRule = { file: '.bun-version', format: 'one-value', variable: 'BUN_VERSION' };
    const nvm: OneValueRule = { file: '.nvmrc', format: 'one-value', variable: 'NVM' };
    const rules = projectFileRules([bun, { ...bun }, nvm, { file: '.nvmrc', format: 'one-value', variable: 'NODE_VERSION' }, bun]);
    assert.deepEqual(rules, [...BUILTIN_PROJECT_FILES, bun, nvm]);
    assert.ok(Object.isFrozen(rules));
    // A repeat is the same file for the same variable among one-value rules; the multi-variable files name
    // no variable, so nothing repeats them (not even a variable named "undefined"; --project-file refuses
    // those two files anyway).
    const odd: OneValueRule[] = [OWN_FILE, TOOL_VERSIONS_FILE].map((file) => ({ file, format: 'one-value', variable: 'undefined' }));
    assert.deepEqual(projectFileRules(odd), [...BUILTIN_PROJECT_FILES, ...odd]);
    assert.ok(Object.isFrozen(BUILTIN_PROJECT_FILES) && BUILTIN_PROJECT_FILES.every((r) => Object.isFrozen(r)));
  });

  test('FILE=VARIABLE, split at the last =', () => {
    assert.deepEqual(parseProjectFileMapping('.bun-version=BUN_VERSION'), { file: '.bun-version', format: 'one-value', variable: 'BUN_VERSION' });
    assert.deepEqual(parseProjectFileMapping('a=b=_C1'), { file: 'a=b', format: 'one-value', variable: '_C1' });
    assert.deepEqual(parseProjectFileMapping('...=X'), { file: '...', format: 'one-value', variable: 'X' });
    assert.deepEqual(parseProjectFileMapping('a\nb=X'), { file: 'a\nb', format: 'one-value', variable: 'X' }, 'a file name may hold any byte but / and NUL');
    assert.ok(Object.isFrozen(parseProjectFileMapping('f=X')));
  });

  test('bad mappings: a one-line error naming the argument', () => {
    for (const arg of ['nope', '', '=X', '.=X', '..=X', 'a/b=X', '/abs=X', 'a\0b=X', '.x=', '.x=1X', '.x=A-B', '.x=A B', `${TOOL_VERSIONS_FILE}=X`, `${OWN_FILE}=X`, 'a\nb']) {
      assert.throws(() => parseProjectFileMapping(arg), (err: unknown) => {
        assert.ok(err instanceof VarsymfsError, String(err));
        assert.equal(err.exitCode, 2); // a bad command line, as --default
        assert.ok(!/[\n\r\0]/.test(err.message), JSON.stringify(err.message));
        assert.ok(err.message.startsWith('invalid --project-file \''), err.message);
        assert.ok(err.message.includes(arg.replace(/\n/g, '\\x0a').replace(/\0/g, '\\x00')), err.message);
        return true;
      }, JSON.stringify(arg));
    }
  });

  test('the error says what is wrong', () => {
    const why: Array<[string, string]> = [['nope', 'FILE=VARIABLE'], ['=X', "FILE ''"], ['a/b=X', "FILE 'a/b'"], ['.x=1X', "VARIABLE '1X'"], [`${OWN_FILE}=X`, 'own format'], [`${TOOL_VERSIONS_FILE}=X`, 'own format']];
    for (const [arg, fragment] of why) assert.throws(() => parseProjectFileMapping(arg), (err: Error) => err.message.includes(fragment), arg);
  });
});

// Reference models, written differently (whole-string regular expressions), to compare on random input.
function toolVersionsModel(text: string): Array<[string, string, number]> {
  const out: Array<[string, string, number]> = [];
  text.split('\n').forEach((raw, i) => {
    const words = raw.replace(/#[\s\S]*/, '').split(/[ \t\r\v\f]+/).filter((w) => w !== '');
    const variable = words.length >= 2 ? toolVariable(words[0]!) : undefined;
    if (variable === undefined) return;
    const at = out.findIndex(([v]) => v === variable);
    if (at >= 0) out.splice(at, 1);
    out.push([variable, words[1]!, i + 1]);
  });
  return out;
}

function assignmentsModel(text: string): Array<[string, string, number]> {
  const out: Array<[string, string, number]> = [];
  text.split('\n').forEach((raw, i) => {
    const m = /^[ \t\r\v\f]*(?:export[ \t\r\v\f]+)?([^=]*?)[ \t\r\v\f]*=[ \t\r\v\f]*(.*?)[ \t\r\v\f]*$/s.exec(raw);
    if (!m || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(m[1]!)) return;
    let value = m[2]!;
    const q = /^(["'])(.*)\1$/s.exec(value);
    if (q) value = q[2]!;
    if (value === '' || value.includes('\0') || out.some(([v]) => v === m[1])) return;
    out.push([m[1]!, value, i + 1]);
  });
  return out;
}

const fileText = (tokens: string[]) => fc.array(fc.constantFrom(...tokens), { maxLength: 40 }).map((a) => a.join(''));

describe('properties', () => {
  test('.tool-versions parses as the reference model does', () => {
    const text = fileText(['go', 'golang', 'node', 'nodejs', 'py-thon', '1x', 'a:b', ' ', ' ', '\t', '\r', '\n', '\n', '#', '1.2', 'system', 'ref:x', 'lts/*', 'é', '\0', '=']);
    fc.assert(fc.property(text, (t) => {
      const got = parseToolVersions(b(t));
      assert.deepEqual(got.map((e) => [e.variable, s(e.written), e.line]), toolVersionsModel(t));
      for (const e of got) assert.deepEqual(e.value, versionValue(e.written));
    }), { numRuns: 3000 });
  });

  test('the own file parses as the reference model does', () => {
    const text = fileText(['A', 'B_1', 'export', 'exportA', '1', ' ', '\t', '\r', '\n', '\n', '=', '"', '\'', '#', 'x', '\0', '-']);
    fc.assert(fc.property(text, (t) => {
      assert.deepEqual(parseAssignments(b(t)).map((e) => [e.variable, s(e.value), e.line]), assignmentsModel(t));
    }), { numRuns: 3000 });
  });

  test('own file round trip: what is written is what is read', () => {
    const value = fc.string({ unit: fc.constantFrom('a', '1', '.', ':', '#', '=', ' ', '"', 'é'), minLength: 1, maxLength: 8 })
      .filter((v) => v.trim() === v && !/^(["']).*\1$/s.test(v) && v !== '.' && v !== '..');
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,5}$/), value, { maxKeys: 5 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), (vars, eol, decorate) => {
      const lines = Object.entries(vars).map(([k, v]) => (decorate ? `  export ${k} = "${v}"  ` : `${k}=${v}`));
      const text = (decorate ? ['# generated', ''] : []).concat(lines).join(eol) + eol;
      const parsed = parseAssignments(Buffer.from(text));
      assert.deepEqual(new Map(parsed.map((e) => [e.variable, e.value!.toString()])), new Map(Object.entries(vars)));
    }), { numRuns: 1000 });
  });

  test('no parser throws on arbitrary bytes, and what they return is well-formed', () => {
    const rules: ProjectFileRule[] = [{ file: 'e', format: 'assignments' }, { file: 't', format: 'tool-versions' }, { file: 'o', format: 'one-value', variable: 'V' }];
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const buf = Buffer.from(bytes);
      const lines = buf.filter((c) => c === 0x0a).length + 1;
      for (const rule of rules) {
        const entries = parseProjectFile(rule, buf);
        assert.equal(new Set(entries.map((e) => e.variable)).size, entries.length);
        for (const e of entries) {
          assert.ok(isVariableName(e.variable));
          assert.ok(e.line >= 1 && e.line <= lines);
          assert.ok(e.written.length > 0 && !e.written.includes(0x0a));
          if (rule.format === 'assignments') assert.deepEqual(e.value, e.written);
          else assert.deepEqual(e.value, versionValue(e.written));
        }
      }
    }), { numRuns: 2000 });
  });

  test('the walk picks the nearest directory, then the first rule, then the first line', () => {
    const contents = fc.constantFrom('GO_VERSION=own\n', 'A=1\nGO_VERSION=2\n', 'go 1\nnode 2\n', 'golang system\n', '# none\n', 'nodejs 3\ngo 4\n', '5\n', 'lts/*\n', '');
    const files = fc.dictionary(fc.constantFrom(...projectFileNames()), contents, { maxKeys: 4 });
    const variable = fc.constantFrom('GO_VERSION', 'NODE_VERSION', 'A', 'PYTHON_VERSION');
    fc.assert(fc.property(fc.array(files, { maxLength: 5 }), variable, (tree, name) => {
      // Model: every candidate (directory, rule, position in file) that names the variable; the least wins.
      let best: { key: number[]; entry: ProjectEntry; d: number } | undefined;
      tree.forEach((dirFiles, d) => {
        BUILTIN_PROJECT_FILES.forEach((rule, r) => {
          const text = dirFiles[rule.file];
          if (text === undefined) return;
          parseProjectFile(rule, b(text)).forEach((entry, k) => {
            const key = [d, r, k];
            if (entry.variable === name && (best === undefined || key.join(',') < best.key.join(','))) best = { key, entry, d };
          });
        });
      });
      const got = findProjectValue(name, tree.map((f, d) => dir(`/d${d}`, f)));
      if (best === undefined) assert.equal(got, undefined);
      else assert.deepEqual({ ...plain(got), dir: s(got!.dir) }, { ...plain(best.entry), dir: `/d${best.d}` });
    }), { numRuns: 2000 });
  });
});

describe('the files a walk found (foundDirectories, projectLookup)', () => {
  const names = projectFileNames(BUILTIN_PROJECT_FILES);
  const idx = (file: string) => names.indexOf(file);
  const found = (depth: number, dir: string, file: string, contents: string, status = 'read'): FoundFile => ({ depth, name: idx(file), status, dir: b(dir), contents: b(contents) });

  test('directories nearest first, whatever order the records come in; only read files are readable', () => {
    const dirs = foundDirectories([found(2, '/p', '.nvmrc', '20\n'), found(0, '/p/a/b', '.go-version', '1.1\n'), found(0, '/p/a/b', '.nvmrc', 'x', 'unreadable')], names);
    assert.deepEqual(dirs.map((d) => s(d.path)), ['/p/a/b', '/p']);
    assert.equal(s(dirs[0]!.read('.go-version')), '1.1\n');
    assert.equal(dirs[0]!.read('.nvmrc'), undefined, 'an unreadable file counts as absent');
    assert.equal(s(dirs[1]!.read('.nvmrc')), '20\n');
    assert.equal(dirs[1]!.read('.go-version'), undefined);
  });

  test('nearest directory naming the variable wins, per variable; its file and line are the source', () => {
    const look = projectLookup([
      found(0, '/p/sub', '.nvmrc', '22\n'),
      found(1, '/p', TOOL_VERSIONS_FILE, '# pins\ngolang 1.22.3\nnodejs 20.1.0\n'),
    ], names, BUILTIN_PROJECT_FILES);
    assert.deepEqual({ ...look('NODE_VERSION'), value: s(look('NODE_VERSION')?.value) }, { value: '22', source: '/p/sub/.nvmrc:1' });
    assert.deepEqual({ ...look('GO_VERSION'), value: s(look('GO_VERSION')?.value) }, { value: '1.22.3', source: '/p/.tool-versions:2' });
    assert.equal(look('RUBY_VERSION'), undefined);
  });

  test('an answer of several versions carries them, in order; one of one version has none', () => {
    const look = projectLookup([found(0, '/p', TOOL_VERSIONS_FILE, 'go 1.22 1.21\nnodejs 20\n')], names, BUILTIN_PROJECT_FILES);
    assert.deepEqual(look('GO_VERSION')?.versions?.map(s), ['1.22', '1.21']);
    assert.ok(look('NODE_VERSION') !== undefined && !('versions' in look('NODE_VERSION')!));
  });

  test('a deferring value (system) answers with no value and stops the walk', () => {
    const look = projectLookup([found(0, '/p/sub', TOOL_VERSIONS_FILE, 'go system\n'), found(1, '/p', '.go-version', '1.2\n')], names, BUILTIN_PROJECT_FILES);
    const r = look('GO_VERSION');
    assert.ok(r !== undefined);
    assert.equal(r.value, undefined);
    assert.equal(r.source, '/p/sub/.tool-versions:1');
  });

  test('projectSkipped: files not trusted, nearest first, with their owner (`?` for a name or owner not known), then values refused, with file and line', () => {
    const files: FoundFile[] = [
      found(0, '/p/sub', '.varsymfs-env', 'GO_VERSION=a/b\nNODE_VERSION=20\n'),
      { depth: 2, name: 99, status: 'writable by others', owner: 0, dir: b('/'), contents: b('') },
      { depth: 3, name: 98, status: 'not trusted', dir: b('/q'), contents: b('') },
      { ...found(1, '/p', '.nvmrc', '20\n', 'not trusted'), owner: 1001 },
      found(1, '/p', '.go-version', '1\n', 'writable by others'),
    ];
    assert.deepEqual(projectSkipped(files, names, BUILTIN_PROJECT_FILES), [
      { kind: 'skipped', text: '/p/.nvmrc: not trusted (owner uid 1001)' },
      { kind: 'skipped', text: '/p/.go-version: not trusted (writable by its group or others; owner uid ?)' },
      { kind: 'skipped', text: '/?: not trusted (writable by its group or others; owner uid 0)' },
      { kind: 'skipped', text: '/q/?: not trusted (owner uid ?)' },
      { kind: 'refused', text: `/p/sub/.varsymfs-env:1: GO_VERSION is not one path component (no '/', not '.' or '..', no NUL): "a/b"` },
    ]);
  });

  test('a name index the mount does not know, or a status other than read, is no file', () => {
    const look = projectLookup([{ depth: 0, name: 99, status: 'read', dir: b('/p'), contents: b('go 1\n') }, found(0, '/p', '.go-version', '1.0', 'too large')], names, BUILTIN_PROJECT_FILES);
    assert.equal(look('GO_VERSION'), undefined);
  });
});

// Mutants that survived a run of `npm run test:mutation` (docs/testing.md), each killed by the rule it broke.
describe('the edges a mutation run found untested', () => {
  test("mise's file names, written out as docs/project-files.md lists them, highest precedence first", () => {
    assert.deepEqual(MISE_FILES, [
      '.mise.local.toml', 'mise.local.toml', '.mise/config.local.toml', '.config/mise.local.toml', '.config/mise/mise.local.toml', '.config/mise/config.local.toml',
      '.mise.toml', 'mise.toml', 'mise/config.toml', '.mise/config.toml', '.config/mise.toml', '.config/mise/mise.toml', '.config/mise/config.toml',
    ]);
  });

  test('an entry has `versions` only for several versions that do not all defer, and `overrides` only when it overrides a line', () => {
    const one = (text: string) => parseToolVersions(b(text))[0]!;
    assert.deepEqual(one('go 1.22 system 1.21\n').versions!.map(s), ['1.22', '1.21'], 'a deferring version is left out');
    assert.equal('versions' in one('go system path:/x\n'), false, 'all defer: no versions');
    assert.equal('versions' in one('go 1.21\n'), false, 'one version: no versions');
    assert.deepEqual(one('go 1\ngolang 2\n').overrides, [1]);
    assert.equal('overrides' in one('go 1\n'), false);
  });

  test('refusals: an empty value is no refusal; the reason is said; a mise file read with a BOM and named mise.toml by default', () => {
    const why = "is not one path component (no '/', not '.' or '..', no NUL)";
    const own: Refusal[] = [];
    assert.deepEqual(parseAssignments(b('A=\nB=x/y\n'), undefined, own), []);
    assert.deepEqual(own.map((r) => [r.variable, s(r.written), r.file, r.line, r.why]), [['B', 'x/y', '.varsymfs-env', 2, why]]);
    const mise: Refusal[] = [];
    assert.deepEqual(parseMiseToml(Buffer.from('\ufeff[tools]\ngo = "1.21"\n[env]\nA = "a/b"\n', 'utf8'), undefined, mise).map((e) => [e.variable, e.file]), [['GO_VERSION', 'mise.toml']]);
    assert.deepEqual(mise.map((r) => [r.variable, r.file, r.line, r.why]), [['A', 'mise.toml', 4, why]]);
  });
});
