// `varsymfs completion bash` (src/completion.ts): the script, loaded into a real bash, completes the
// commands, subcommands and options the CLI has, and nothing hidden.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Command, Option } from 'commander';
import { buildProgram } from '../src/cli';
import { bashCompletion } from '../src/completion';
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
  assert.deepEqual(complete(script, ['varsymfs', '']), ['--help', '--version', 'completion', 'defaults', 'mount', 'resolve', 'service', 'setup', 'status', 'unmount']);
  assert.deepEqual(complete(script, ['varsymfs', 'mo']), ['mount']);
  assert.deepEqual(complete(script, ['varsymfs', 'service', '']), ['install', 'remove']);
  assert.deepEqual(complete(script, ['varsymfs', 'mount', '/tmp', '--ca']), ['--cache-size']);
  assert.deepEqual(complete(script, ['varsymfs', 'mount', '--re']), [], '--ready-fd is internal');
  assert.deepEqual(complete(script, ['varsymfs', 'mount', '-']), ['--allow-other', '--attr-timeout', '--cache-size', '--default', '--entry-timeout', '--foreground', '--help', '--log-level', '--no-project-files', '--project-file', '--project-timeout', '--source', '--trust-dir', '-d', '-f', '-s']);
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
