// `varsymfs completion bash`: a bash completion script generated from the command tree, so it always
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
