// `varsymfs completion bash|zsh|fish` (src/completion.ts): each script, loaded into the real shell, completes
// the commands, subcommands and options the CLI has, and nothing hidden.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Command, Option } from 'commander';
import { buildProgram } from '../src/cli';
import { bashCompletion, fishCompletion, zshCompletion } from '../src/completion';
import { PROJECT_BIN } from './helpers/users';

/** What the script completes for the words typed so far (the last one being completed). */
function complete(script: string, words: string[]): string[] {
  const line = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _varsymfs; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '-c', line], { encoding: 'utf8', cwd: '/' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((w) => w !== '').sort();
}

test('completion bash: commands, subcommands, each command\'s options; hidden ones left out', () => {
  const r = spawnSync(process.execPath, [PROJECT_BIN, 'completion', 'bash'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // The script made here from the same command tree (so that mutation testing sees bashCompletion run).
  const script = bashCompletion(buildProgram());
  assert.equal(r.stdout, script, 'the binary prints the script of its own command tree');
  assert.match(script, /^complete -o filenames -F _varsymfs varsymfs$/m);
  assert.deepEqual(complete(script, ['varsymfs', '']), ['--help', '--version', 'completion', 'current', 'defaults', 'doctor', 'link', 'mount', 'resolve', 'service', 'setup', 'status', 'unmount']);
  assert.deepEqual(complete(script, ['varsymfs', 'mo']), ['mount']);
  assert.deepEqual(complete(script, ['varsymfs', 'service', '']), ['install', 'remove']);
  assert.deepEqual(complete(script, ['varsymfs', 'mount', '/tmp', '--ca']), ['--cache', '--cache-size']);
  assert.deepEqual(complete(script, ['varsymfs', 'mount', '--re']), [], '--ready-fd is internal');
  assert.deepEqual(complete(script, ['varsymfs', 'mount', '-']), ['--allow-other', '--attr-timeout', '--cache', '--cache-size', '--default', '--entry-timeout', '--foreground', '--help', '--log-level', '--no-project-files', '--project-file', '--project-timeout', '--source', '--trust-dir', '-d', '-f', '-s']);
  assert.deepEqual(complete(script, ['varsymfs', 'umount', '--l']), ['--lazy'], 'the alias has the command\'s options');
  assert.deepEqual(complete(script, ['varsymfs', 'resolve', '-']), ['--explain', '--help', '--json', '--pid', '-e', '-p']);
  assert.deepEqual(complete(script, ['varsymfs', 'status', '/proc/sel']), ['/proc/self'], 'file names elsewhere');
});

test('bashCompletion of a small tree: one case line per command, words without gaps, help and hidden options left out', () => {
  const program = new Command('x');
  program.command('run').alias('r').option('-q, --quiet').option('--long-only').addOption(new Option('--secret').hideHelp());
  const group = program.command('group');
  group.command('one');
  group.command('two');
  program.command('pair').command('a');
  program.command('help');
  const lines = bashCompletion(program).split('\n');
  const at = (start: string) => lines.filter((l) => l.trimStart().startsWith(start));
  assert.deepEqual(at('COMPREPLY=($(compgen -W "run'), ['    COMPREPLY=($(compgen -W "run group pair --help --version" -- "$cur"))']);
  assert.deepEqual(at('group)'), [
    '    group) [ "$COMP_CWORD" -eq 2 ] && { COMPREPLY=($(compgen -W "one two" -- "$cur")); return; } ;;',
    '    group) opts="--help" ;;',
  ]);
  assert.deepEqual(at('pair)'), [
    '    pair) [ "$COMP_CWORD" -eq 2 ] && { COMPREPLY=($(compgen -W "a" -- "$cur")); return; } ;;',
    '    pair) opts="--help" ;;',
  ]);
  assert.deepEqual(at('run|r)'), ['    run|r) opts="-q --quiet --long-only --help" ;;']);
  assert.deepEqual(at('help'), []);
});

/** What zsh's `_varsymfs` offers for `words` (compadd and _files stubbed to print: the script runs in a real zsh). */
function zshComplete(script: string, words: string[]): string[] {
  const line = `compadd() { shift; print -l -- "$@"; }; _files() { print '<files>'; }; compdef() { print "compdef $*"; }
${script}
words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _varsymfs`;
  const r = spawnSync('zsh', ['-f', '-c', line], { encoding: 'utf8', cwd: '/' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((w) => w !== '' && !w.startsWith('compdef ')).sort();
}

/** Skips a shell's test where that shell is not installed (.ci/run installs both), saying so. */
function needs(shell: string): { skip: string | false } {
  return { skip: spawnSync(shell, ['-c', 'exit 0']).status === 0 ? false : `${shell} is not installed (apt-get install ${shell})` };
}

test('completion zsh: commands, subcommands, options; file names elsewhere; registers itself when sourced', needs('zsh'), () => {
  const r = spawnSync(process.execPath, [PROJECT_BIN, 'completion', 'zsh'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const script = zshCompletion(buildProgram());
  assert.equal(r.stdout, script);
  assert.match(script, /^#compdef varsymfs$/m);
  assert.deepEqual(zshComplete(script, ['varsymfs', '']), ['--help', '--version', 'completion', 'current', 'defaults', 'doctor', 'link', 'mount', 'resolve', 'service', 'setup', 'status', 'unmount']);
  assert.deepEqual(zshComplete(script, ['varsymfs', 'service', '']), ['install', 'remove']);
  assert.deepEqual(zshComplete(script, ['varsymfs', 'resolve', '-']), ['--explain', '--help', '--json', '--pid', '-e', '-p']);
  assert.deepEqual(zshComplete(script, ['varsymfs', 'umount', '-']), ['--help', '--lazy', '-z'], 'the alias has the command\'s options');
  assert.ok(!zshComplete(script, ['varsymfs', 'mount', '-']).includes('--ready-fd'), 'hidden options left out');
  assert.deepEqual(zshComplete(script, ['varsymfs', 'status', '/tm']), ['<files>']);
  const sourced = spawnSync('zsh', ['-f', '-c', `compdef() { print "compdef $*"; }\n${script}`], { encoding: 'utf8' });
  assert.equal(sourced.stdout, 'compdef _varsymfs varsymfs\n');
});

/** What fish completes for the command line `line` (its own `complete -C`). */
function fishComplete(script: string, line: string): string[] {
  const r = spawnSync('fish', ['--no-config', '-c', `${script}\ncomplete -C ${JSON.stringify(line)}`], { encoding: 'utf8', cwd: '/' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((w) => w !== '').map((w) => w.split('\t')[0]!).sort();
}

test('completion fish: commands with descriptions, subcommands, options; hidden ones left out', needs('fish'), () => {
  const r = spawnSync(process.execPath, [PROJECT_BIN, 'completion', 'fish'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const script = fishCompletion(buildProgram());
  assert.equal(r.stdout, script);
  assert.deepEqual(fishComplete(script, 'varsymfs mo'), ['mount']);
  assert.deepEqual(fishComplete(script, 'varsymfs service '), ['install', 'remove']);
  assert.deepEqual(fishComplete(script, 'varsymfs mount /tmp --ca'), ['--cache', '--cache-size']);
  assert.deepEqual(fishComplete(script, 'varsymfs mount --re'), [], '--ready-fd is internal');
  assert.deepEqual(fishComplete(script, 'varsymfs link /tmp --fr'), ['--from']);
  assert.deepEqual(fishComplete(script, 'varsymfs umount --l'), ['--lazy']);
  assert.match(spawnSync('fish', ['--no-config', '-c', `${script}\ncomplete -C "varsymfs mo"`], { encoding: 'utf8' }).stdout, /^mount\tmount a directory in place$/m);
});

test('completion of another shell is one line and exit 2', () => {
  const r = spawnSync(process.execPath, [PROJECT_BIN, 'completion', 'tcsh'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "Error: no completion for 'tcsh': bash, zsh and fish are supported\n");
});

/** A small command tree: an alias, a subcommand group, options with and without values, a hidden one, `help`. */
function smallTree(): Command {
  const program = new Command('x');
  program.command('run').alias('r').description("run it (now); it's quick")
    .option('-q, --quiet', 'say less (the default)')
    .option('-n <count>', 'how many; at most 9')
    .option('--level [l]', '  a level  ')
    .addOption(new Option('--secret').hideHelp());
  const group = program.command('group').alias('g').description('grouped');
  group.command('one');
  group.command('two');
  program.command('pair').description('a pair').command('a');
  program.command('help');
  return program;
}

test('zshCompletion of a small tree: help left out of the commands and of the case lines, aliases with their command, one case line each', () => {
  const lines = zshCompletion(smallTree()).split('\n');
  assert.deepEqual(lines.filter((l) => l.includes('compadd')), [
    "    compadd -- 'run' 'group' 'pair' '--help' '--version'",
    "    group|g) if (( CURRENT == 3 )); then compadd -- 'one' 'two'; return; fi ;;",
    "    pair) if (( CURRENT == 3 )); then compadd -- 'a'; return; fi ;;",
    "      run|r) compadd -- '-q' '--quiet' '-n' '--level' '--help' ;;",
    "      group|g) compadd -- '--help' ;;",
    "      pair) compadd -- '--help' ;;",
  ]);
});

test('fishCompletion of a small tree: -s and -l as the option has them, -r for a value, descriptions up to `;` or `(` and trimmed', () => {
  assert.equal(fishCompletion(smallTree()), [
    '# fish completion for varsymfs; install: varsymfs completion fish > ~/.config/fish/completions/varsymfs.fish',
    "complete -c varsymfs -n 'not __fish_seen_subcommand_from run r group g pair' -f -a 'run group pair'",
    "complete -c varsymfs -n 'not __fish_seen_subcommand_from run r group g pair' -f -a run -d 'run it'",
    "complete -c varsymfs -n '__fish_seen_subcommand_from run r' -s q -l quiet -d 'say less'",
    "complete -c varsymfs -n '__fish_seen_subcommand_from run r' -s n -r -d 'how many'",
    "complete -c varsymfs -n '__fish_seen_subcommand_from run r' -l level -r -d 'a level'",
    "complete -c varsymfs -n 'not __fish_seen_subcommand_from run r group g pair' -f -a group -d 'grouped'",
    "complete -c varsymfs -n '__fish_seen_subcommand_from group g; and not __fish_seen_subcommand_from one two' -f -a 'one two'",
    "complete -c varsymfs -n 'not __fish_seen_subcommand_from run r group g pair' -f -a pair -d 'a pair'",
    "complete -c varsymfs -n '__fish_seen_subcommand_from pair; and not __fish_seen_subcommand_from a' -f -a 'a'",
    '',
  ].join('\n'));
  assert.match(fishCompletion(new Command('x').addCommand(new Command('q').description("it's a \\ here"))), /-a q -d 'it\\'s a \\\\ here'\n$/, 'a quote and a backslash escaped');
});
