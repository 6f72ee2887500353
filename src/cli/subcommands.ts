/**
 * Subcommands under an existing command (`traced daemon stop`, `traced mcp
 * install`): the parent runs as before when no subcommand is named; a named
 * one runs with the arguments after it. Options of all of them are accepted.
 */
import { ErrorCodes, TracedError } from '../errors.js';
import type { Command } from './command.js';

export function withSubcommands(commands: Command[], subs: (Command & { parent: string })[]): Command[] {
  return commands.map((parent) => {
    const mine = subs.filter((s) => s.parent === parent.name);
    if (!mine.length) return parent;
    return {
      ...parent,
      usage: [parent.usage, ...mine.map((s) => s.usage)].join('\n       '),
      options: Object.assign({}, parent.options, ...mine.map((s) => s.options ?? {})),
      run: async (a, io) => {
        const [first, ...rest] = a.positionals;
        const sub = mine.find((s) => s.name === first);
        if (sub?.run) return sub.run({ values: a.values, positionals: rest }, io);
        if (first !== undefined || !parent.run) {
          throw new TracedError(
            ErrorCodes.CLI_USAGE,
            `${first === undefined ? 'name one' : `unknown subcommand "${first}"`}: ${mine.map((s) => s.name).join(', ')}`,
          );
        }
        return parent.run(a, io);
      },
    };
  });
}
