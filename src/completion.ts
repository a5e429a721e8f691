// `varsymfs completion bash|zsh|fish`: a completion script generated from the command tree, so it always
// lists the commands and options the CLI really has.
import type { Command } from 'commander';

export function bashCompletion(program: Command): string {
  const cmds = program.commands.filter((c) => c.name() !== 'help');
  const cases = cmds.map((c) => {
    const opts = c.options.filter((o) => !o.hidden).flatMap((o) => [o.short, o.long].filter((x): x is string => !!x));
    const names = [c.name(), ...c.aliases()].join('|');
    return `    ${names}) opts="${[...opts, '--help'].join(' ')}" ;;`;
  });
  const sub = cmds.filter((c) => c.commands.length > 0).map((c) => `    ${c.name()}) [ "$COMP_CWORD" -eq 2 ] && { COMPREPLY=($(compgen -W "${c.commands.map((s) => s.name()).join(' ')}" -- "$cur")); return; } ;;`);
  return `# bash completion for varsymfs; install: varsymfs completion bash > ~/.local/share/bash-completion/completions/varsymfs
_varsymfs() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${cmds.map((c) => c.name()).join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "$cmd" in
${sub.join('\n')}
  esac
  case "$cmd" in
${cases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _varsymfs varsymfs
`;
}

/** The words each command completes: its options (hidden ones left out) and its subcommands. */
function commandWords(program: Command): Array<{ names: string[]; opts: string[]; subs: string[] }> {
  return program.commands.filter((c) => c.name() !== 'help').map((c) => ({
    names: [c.name(), ...c.aliases()],
    opts: [...c.options.filter((o) => !o.hidden).flatMap((o) => [o.short, o.long].filter((x): x is string => !!x)), '--help'],
    subs: c.commands.map((s) => s.name()),
  }));
}

/** zsh: works loaded from $fpath (as `_varsymfs`) or sourced (then it registers itself with compdef). */
export function zshCompletion(program: Command): string {
  const cmds = commandWords(program);
  const q = (words: string[]) => words.map((w) => `'${w}'`).join(' ');
  return `#compdef varsymfs
# zsh completion for varsymfs; install: varsymfs completion zsh > "\${fpath[1]}/_varsymfs" (or source it after compinit)
_varsymfs() {
  local cmd=\${words[2]} cur=\${words[CURRENT]}
  if (( CURRENT == 2 )); then
    compadd -- ${q([...program.commands.filter((c) => c.name() !== 'help').map((c) => c.name()), '--help', '--version'])}
    return
  fi
  case $cmd in
${cmds.filter((c) => c.subs.length > 0).map((c) => `    ${c.names.join('|')}) if (( CURRENT == 3 )); then compadd -- ${q(c.subs)}; return; fi ;;`).join('\n')}
  esac
  if [[ $cur == -* ]]; then
    case $cmd in
${cmds.map((c) => `      ${c.names.join('|')}) compadd -- ${q(c.opts)} ;;`).join('\n')}
    esac
  else
    _files
  fi
}
if [ "\${funcstack[1]}" = "_varsymfs" ]; then _varsymfs "$@"; else compdef _varsymfs varsymfs; fi
`;
}

/** fish: `complete` lines, with each command's and option's description. */
export function fishCompletion(program: Command): string {
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const cmds = program.commands.filter((c) => c.name() !== 'help');
  const all = cmds.flatMap((c) => [c.name(), ...c.aliases()]).join(' ');
  const lines = [
    '# fish completion for varsymfs; install: varsymfs completion fish > ~/.config/fish/completions/varsymfs.fish',
    `complete -c varsymfs -n 'not __fish_seen_subcommand_from ${all}' -f -a '${cmds.map((c) => c.name()).join(' ')}'`,
  ];
  for (const c of cmds) {
    const seen = `__fish_seen_subcommand_from ${[c.name(), ...c.aliases()].join(' ')}`;
    lines.push(`complete -c varsymfs -n 'not __fish_seen_subcommand_from ${all}' -f -a ${c.name()} -d ${q(c.description().split(/[;(]/)[0]!.trim())}`);
    if (c.commands.length > 0) lines.push(`complete -c varsymfs -n '${seen}; and not __fish_seen_subcommand_from ${c.commands.map((s) => s.name()).join(' ')}' -f -a '${c.commands.map((s) => s.name()).join(' ')}'`);
    for (const o of c.options.filter((o) => !o.hidden)) {
      const flags = [o.short ? `-s ${o.short.slice(1)}` : '', o.long ? `-l ${o.long.slice(2)}` : ''].filter((f) => f !== '').join(' ');
      lines.push(`complete -c varsymfs -n '${seen}' ${flags}${o.required || o.optional ? ' -r' : ''} -d ${q(o.description.split(/[;(]/)[0]!.trim())}`);
    }
  }
  return lines.join('\n') + '\n';
}
