/**
 * traced's own argument parser: the command table says what each command
 * takes, and every mistake is a TRACED_CLI_USAGE (or, for a moment,
 * TRACED_INVALID_TIME) whose message says what to type instead, with a
 * did-you-mean. Node's parseArgs is not used: its messages talk about its own
 * API ("place it at the end of the command after '--'") and it reads
 * `--limit -3` as two flags.
 */
import { distance } from '../config/config.js';
import { ErrorCodes, TracedError } from '../errors.js';
import { parseMoment, parseTimeArg } from '../timeline/query.js';
import type { Args, Command, Opt, Values } from './command.js';

/** Flags every command takes. */
export const GLOBAL_OPTIONS: Record<string, Opt> = {
  json: { type: 'boolean', help: 'print the result as JSON' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

/** The nearest of `known` to `word` when it is near enough to be a typo. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  // A prefix is a typo too (`traced sess` → sessions), as long as it names only one.
  const prefixed = known.filter((k) => word.length >= 2 && k.startsWith(word.toLowerCase()));
  if (bestD > Math.max(1, Math.floor(word.length / 3)) && prefixed.length === 1) return prefixed[0];
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

const usageError = (cmd: Command, message: string) =>
  new TracedError(ErrorCodes.CLI_USAGE, `${message} (traced help ${cmd.name} shows what it takes)`, { data: { command: cmd.name } });

/** What a flag's value is called in help and messages. */
export function placeholder(o: Opt): string {
  return o.value ?? (o.time ? 'TIME' : o.int ? 'N' : o.choices ? o.choices.join('|') : 'VALUE');
}

function checkValue(cmd: Command, name: string, o: Opt, raw: string, now: number): void {
  if (o.int) {
    const n = /^-?\d{1,15}$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    const range = o.min !== undefined && o.max !== undefined ? ` from ${o.min} to ${o.max}` : o.min !== undefined ? ` of at least ${o.min}` : '';
    if (Number.isNaN(n) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max))
      throw usageError(cmd, `--${name} takes a whole number${range}, not ${JSON.stringify(raw.slice(0, 40))}`);
  }
  if (o.choices && !o.choices.includes(raw)) {
    const near = didYouMean(raw, o.choices);
    throw usageError(cmd, `--${name} is one of ${o.choices.join(', ')}, not ${JSON.stringify(raw.slice(0, 40))}${near ? `; did you mean ${near}?` : ''}`);
  }
  if (o.time) {
    try {
      // Only the form is checked here: the daemon reads the value again against its session.
      if (o.time === 'at') parseMoment(raw, 'at', { now });
      else parseTimeArg(raw, now, o.time);
    } catch (err) {
      if (err instanceof TracedError) throw new TracedError(err.code, `--${name}: ${err.message}`, { data: { ...err.data, flag: name } });
      throw err;
    }
  }
}

/**
 * Parses `argv` (what follows the command name) against the command's table
 * row: `--flag value`, `--flag=value`, `-f value`, `-fvalue`, booleans, `--`
 * to end flags. A value may start with `-` (`--limit -3` is a value, refused
 * as a number). Unknown flags, missing values, wrong kinds and unexpected
 * positionals are TRACED_CLI_USAGE.
 */
export function parseCommandArgs(cmd: Command, argv: string[], now = Date.now()): Args {
  const options: Record<string, Opt> = { ...(cmd.options ?? {}), ...GLOBAL_OPTIONS };
  const byShort = new Map(Object.entries(options).flatMap(([n, o]) => (o.short ? [[o.short, n] as const] : [])));
  const values: Values = {};
  const positionals: string[] = [];
  const set = (name: string, v: string | boolean) => {
    const o = options[name] as Opt;
    if (o.multiple) values[name] = [...((values[name] as (string | boolean)[] | undefined) ?? []), v];
    else if (o.type !== 'boolean' && values[name] !== undefined && values[name] !== v) {
      // `--label a … --label b`: which one was meant? (A repeated switch, or the same value twice, says nothing new.)
      throw usageError(
        cmd,
        `--${name} was given twice (${JSON.stringify(String(values[name]).slice(0, 40))} and ${JSON.stringify(String(v).slice(0, 40))}): give it once`,
      );
    } else values[name] = v;
  };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i] as string;
    if (tok === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (tok.length < 2 || !tok.startsWith('-') || /^-\d/.test(tok)) {
      positionals.push(tok);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      name = eq < 0 ? tok.slice(2) : tok.slice(2, eq);
      inline = eq < 0 ? undefined : tok.slice(eq + 1);
    } else {
      const short = tok[1] as string;
      const long = byShort.get(short);
      if (!long) {
        const shorts = [...byShort.keys()].map((s) => `-${s}`);
        throw usageError(cmd, `traced ${cmd.name} has no flag ${tok.slice(0, 2)}${shorts.length ? ` (short flags: ${shorts.join(', ')})` : ''}`);
      }
      name = long;
      inline = tok.length > 2 ? tok.slice(2).replace(/^=/, '') : undefined;
    }
    const o = Object.hasOwn(options, name) ? options[name] : undefined;
    if (!o) {
      const near = didYouMean(name, Object.keys(options));
      throw usageError(cmd, `traced ${cmd.name} has no flag --${name.slice(0, 40)}${near ? `; did you mean --${near}?` : ''}`);
    }
    if (o.type === 'boolean') {
      if (inline !== undefined) throw usageError(cmd, `--${name} is a switch and takes no value (got ${JSON.stringify(inline.slice(0, 40))})`);
      set(name, true);
      continue;
    }
    let v = inline;
    if (v === undefined) {
      const next = argv[i + 1];
      // The next word is the value unless it is a flag of its own (`--label --json` forgot the label).
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw usageError(cmd, `--${name} needs a value (${placeholder(o)})`);
      v = next;
      i++;
    }
    checkValue(cmd, name, o, v, now);
    set(name, v);
  }
  if (values.help === true) return { values, positionals };
  checkPositionals(cmd, positionals);
  for (const [name, o] of Object.entries(options)) {
    if (o.required && values[name] === undefined) throw usageError(cmd, `traced ${cmd.name} needs --${name} ${placeholder(o)}`);
  }
  return { values, positionals };
}

function checkPositionals(cmd: Command, positionals: string[]): void {
  if (!cmd.args) {
    // A `run` command without `args` checks its own positionals; an operation command takes none.
    if (cmd.run || positionals.length === 0) return;
    throw usageError(cmd, `traced ${cmd.name} takes no arguments, but got ${JSON.stringify(positionals[0]?.slice(0, 40))}`);
  }
  const rest = cmd.args.some((a) => a.rest);
  if (!rest && positionals.length > cmd.args.length) {
    const extra = positionals.slice(cmd.args.length);
    throw usageError(
      cmd,
      cmd.args.length === 0
        ? `traced ${cmd.name} takes no arguments, but got ${JSON.stringify(extra[0]?.slice(0, 40))}`
        : `unexpected argument ${JSON.stringify(extra[0]?.slice(0, 40))}: traced ${cmd.name} takes ${cmd.args.map(argLabel).join(' ')}`,
    );
  }
  cmd.args.forEach((a, i) => {
    const v = positionals[i];
    if (v === undefined) {
      if (!a.optional) throw usageError(cmd, `traced ${cmd.name} needs ${a.name}`);
      return;
    }
    if (a.choices && !a.choices.includes(v)) {
      const near = didYouMean(v, a.choices);
      throw usageError(cmd, `${a.name} is one of ${a.choices.join(', ')}, not ${JSON.stringify(v.slice(0, 40))}${near ? `; did you mean ${near}?` : ''}`);
    }
  });
}

export function argLabel(a: { name: string; optional?: boolean; rest?: boolean }): string {
  const s = `${a.name}${a.rest ? '...' : ''}`;
  return a.optional ? `[${s}]` : s;
}
