/** Help and shell completion, generated from the command table so they cannot drift from it. */
import { VERSION } from '../version.js';
import { argLabel, GLOBAL_OPTIONS, placeholder } from './args.js';
import type { Command, Opt } from './command.js';

export function globalHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `traced ${VERSION}: records your work session and answers "what happened?"`,
    '',
    'Usage: traced COMMAND [options] [--json]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json for machine-readable output. `traced help COMMAND` (or `traced COMMAND --help`) shows its flags and examples.',
    'Times (--at, --from, --to, --since, --until): +90s, +1:30, +1:02:03 from the session start; 14:32 on its day; ISO 8601; epoch ms; 30m/2h/1d ago.',
  ].join('\n');
}

export function usageLine(c: Command): string {
  if (c.usage) return c.usage.startsWith('traced ') ? c.usage : `traced ${c.usage}`;
  const args = (c.args ?? []).map(argLabel).join(' ');
  return `traced ${c.name}${args ? ` ${args}` : ''}${c.options && Object.keys(c.options).length ? ' [options]' : ''}`;
}

function flagKind(o: Opt): string {
  if (o.type === 'boolean') return 'switch';
  const kind = o.time
    ? 'time'
    : o.int
      ? `integer${o.min !== undefined ? ` >= ${o.min}` : ''}${o.max !== undefined ? `, <= ${o.max}` : ''}`
      : o.choices
        ? 'choice'
        : 'text';
  return `${kind}${o.multiple ? ', repeatable' : ''}${o.default !== undefined ? `, default ${JSON.stringify(o.default)}` : ''}`;
}

/** `traced help CMD`: usage, what it does, every flag with its kind and default, examples. */
export function commandHelp(c: Command): string {
  const flags = Object.entries({ ...(c.options ?? {}), ...GLOBAL_OPTIONS }).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${placeholder(o)}` : ''}`;
    return [left, `${o.help ? `${o.help} ` : ''}(${flagKind(o)})`] as const;
  });
  const width = Math.max(...flags.map(([l]) => l.length));
  const lines = [`Usage: ${usageLine(c)}`, '', c.summary, ''];
  const choiceArgs = (c.args ?? []).filter((a) => a.choices);
  for (const a of choiceArgs) lines.push(`${a.name}: ${a.choices?.join(', ')}`);
  if (choiceArgs.length) lines.push('');
  lines.push('Flags:', ...flags.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`));
  if (c.examples?.length) lines.push('', 'Examples:', ...c.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const flagWords = (c: Command) => Object.entries({ ...(c.options ?? {}), ...GLOBAL_OPTIONS }).map(([n]) => `--${n}`);
const firstChoices = (c: Command) => c.args?.[0]?.choices ?? [];

/** `traced completion bash|zsh|fish`: a script that completes commands, subcommands and flags. */
export function completionScript(shell: 'bash' | 'zsh' | 'fish', commands: Command[]): string {
  const names = commands.map((c) => c.name);
  if (shell === 'fish') {
    const lines = ['# traced completion for fish: traced completion fish > ~/.config/fish/completions/traced.fish', 'complete -c traced -f'];
    for (const c of commands) {
      lines.push(`complete -c traced -n __fish_use_subcommand -a ${shq(c.name)} -d ${shq(c.summary.slice(0, 80))}`);
      const cond = `__fish_seen_subcommand_from ${c.name}`;
      for (const choice of firstChoices(c)) lines.push(`complete -c traced -n ${shq(cond)} -a ${shq(choice)}`);
      for (const [n, o] of Object.entries({ ...(c.options ?? {}), ...GLOBAL_OPTIONS })) {
        const parts = [`complete -c traced -n ${shq(cond)} -l ${shq(n)}`];
        if (o.short) parts.push(`-s ${shq(o.short)}`);
        if (o.type === 'string') parts.push(o.file ? '-r -F' : '-r');
        if (o.choices) parts.push(`-a ${shq(o.choices.join(' '))}`);
        if (o.help) parts.push(`-d ${shq(o.help.slice(0, 80))}`);
        lines.push(parts.join(' '));
      }
    }
    return `${lines.join('\n')}\n`;
  }
  if (shell === 'zsh') {
    const cases = commands.map((c) => {
      const words = [...firstChoices(c), ...flagWords(c)];
      return `    ${c.name}) compadd -- ${words.map(shq).join(' ')} ;;`;
    });
    return `#compdef traced
# traced completion for zsh: eval "$(traced completion zsh)" in ~/.zshrc (after compinit)
_traced() {
  if (( CURRENT == 2 )); then
    compadd -- ${names.map(shq).join(' ')}
    return
  fi
  case \${words[2]} in
${cases.join('\n')}
  esac
}
if (( $+functions[compdef] )); then compdef _traced traced; fi
`;
  }
  const cases = commands.map((c) => {
    const fileFlags = Object.entries(c.options ?? {})
      .filter(([, o]) => o.file)
      .map(([n]) => `--${n}`);
    const choiceFlags = Object.entries(c.options ?? {}).filter(([, o]) => o.choices);
    const prevCases = [
      ...(fileFlags.length ? [`        ${fileFlags.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : []),
      ...choiceFlags.map(([n, o]) => `        --${n}) COMPREPLY=($(compgen -W ${shq((o.choices ?? []).join(' '))} -- "$cur")); return ;;`),
    ];
    return [
      `    ${c.name})`,
      ...(prevCases.length ? ['      case "$prev" in', ...prevCases, '      esac'] : []),
      `      COMPREPLY=($(compgen -W ${shq([...firstChoices(c), ...flagWords(c)].join(' '))} -- "$cur")) ;;`,
    ].join('\n');
  });
  return `# traced completion for bash: eval "$(traced completion bash)" in ~/.bashrc
_traced() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${shq(names.join(' '))} -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join('\n')}
  esac
}
complete -F _traced traced
`;
}
