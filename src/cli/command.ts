/**
 * What a CLI command is: a row of data naming the operation it calls, how its
 * arguments become the operation's input and how a result is shown to a
 * person; or, for commands that are not one operation call, a `run`.
 */
import type { Writable } from 'node:stream';
import type { Env } from '../config/config.js';
import { setup } from '../config/setup.js';
import { ErrorCodes, TracedError } from '../errors.js';
import { connectDaemon } from '../ipc/connect.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
  stdin: NodeJS.ReadableStream;
  env: Env;
  cwd: string;
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
export interface Args {
  values: Values;
  positionals: string[];
}

/**
 * A flag. `type` and `short`/`multiple`/`default` are what node:util parseArgs
 * takes; the rest is checked by cli/args.ts before the command runs, so a
 * command gets only values of the right kind, and shown by `traced help CMD`.
 */
export interface Opt {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[] | boolean[];
  /** One line for `traced help CMD`. */
  help?: string;
  /** The value's placeholder in help (N, TIME, DIR); from its kind when absent. */
  value?: string;
  /** A whole number, at least `min` (and at most `max`) when given. */
  int?: boolean;
  min?: number;
  max?: number;
  /** The value must be one of these (did-you-mean otherwise). */
  choices?: readonly string[];
  /** A moment in the one time grammar (timeline/query.ts parseMoment): checked before anything is sent. */
  time?: 'at' | 'since' | 'until' | 'last';
  /** The command cannot run without it. */
  required?: boolean;
  /** Completion offers file names for the value. */
  file?: boolean;
}

/** A positional argument: shown in usage, counted (too many is refused), offered by completion when it has choices. */
export interface Arg {
  name: string;
  optional?: boolean;
  /** Takes every remaining positional. */
  rest?: boolean;
  choices?: readonly string[];
}

/**
 * A row of the command table (cli/main.ts `commands`). Either `op` (+ `params`,
 * `render`): one operation call over IPC; or `run`: anything else. Positionals
 * are checked against `args`; a command with `run` and no `args` checks its own.
 */
export interface Command {
  name: string;
  summary: string;
  /** The usage line; built from `args` and `options` when absent. */
  usage?: string;
  args?: Arg[];
  options?: Record<string, Opt>;
  /** Shown by `traced help CMD`, each a full command line. */
  examples?: string[];
  /** Operation called over IPC. */
  op?: string;
  params?(a: Args, io: Io): unknown | Promise<unknown>;
  render?(result: any, a: Args, io: Io): string;
  /** Notification topics shown as progress on stderr while the operation runs. */
  progress?: string[];
  /** Commands that are not a single operation call. */
  run?(a: Args, io: Io): Promise<number>;
}

export const list = (v: unknown): string[] | undefined => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : undefined);
/** A flag's value as a number (cli/args.ts has already checked `int`/`min` flags). */
export const num = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n))
    throw new TracedError(ErrorCodes.CLI_USAGE, `--${name} needs a number, got ${JSON.stringify(String(v))}`);
  return n;
};
export const one = (a: Args, usage: string): string | undefined => {
  if (a.positionals.length > 1) throw new TracedError(ErrorCodes.CLI_USAGE, `too many arguments; usage: ${usage}`);
  return a.positionals[0];
};

export const sessionRefOption: Record<string, Opt> = { session: { type: 'string', value: 'SESSION', help: 'the session (default: the active one)' } };
export const refParams = (a: Args) => {
  const ref = a.positionals[0] ?? (a.values.session as string | undefined);
  return ref === undefined ? {} : { session: ref };
};

export async function callDaemon(
  io: Io,
  method: string,
  params: unknown,
  onProgress?: (topic: string, data: unknown) => void,
  topics?: string[],
): Promise<unknown> {
  const { paths } = setup(io.env);
  const client = await connectDaemon(paths, { env: io.env });
  try {
    if (onProgress && topics?.length) await client.subscribe(topics, onProgress);
    return await client.call(method, params, { cwd: io.cwd });
  } finally {
    client.close();
  }
}

/** Upload progress on stderr: a bar redrawn in place on a terminal, a line per change otherwise. */
export function progressPrinter(io: Io): (topic: string, data: unknown) => void {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  return (_topic, data) => {
    const e = data as { percent?: number };
    if (typeof e?.percent === 'number') {
      const line = `exporting ${String(e.percent).padStart(3)}%`;
      io.stderr.write(tty ? `\r${line}${e.percent >= 100 ? '\n' : ''}` : e.percent % 25 === 0 ? `${line}\n` : '');
      return;
    }
    const p = data as { done: number; failed: number; total: number; finished: boolean; timed_out: boolean; paused: string | null };
    if (!p || typeof p.total !== 'number' || p.total === 0) return;
    const width = 24;
    const filled = Math.round((width * (p.done + p.failed)) / p.total);
    const line = `uploading [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}${p.failed ? ` (${p.failed} failed)` : ''}${p.paused ? ` paused: ${p.paused}` : ''}`;
    io.stderr.write(tty ? `\r${line}${p.finished || p.timed_out || p.paused ? '\n' : ''}` : `${line}\n`);
  };
}
