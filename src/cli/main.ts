/**
 * The `traced` command: finds the command, parses its arguments, calls the
 * daemon (or runs the command) and renders the result. `--json` prints the
 * operation's result as is. Each command group lives in cli/commands/.
 */
import { parseArgs } from 'node:util';
import { reachPaths } from '../config/setup.js';
import { ErrorCodes, TracedError, toTracedError, type ErrorCode } from '../errors.js';
import { connectDaemon } from '../ipc/connect.js';
import { VERSION } from '../version.js';
import { type Args, type Command, type Io, type Values, callDaemon, progressPrinter } from './command.js';
import { adminCommands } from './commands/admin.js';
import { recordingCommands } from './commands/recording.js';
import { replayCommands } from './commands/replay.js';
import { shellCommands } from './commands/shell.js';

export type { Io } from './command.js';

export const commands: Command[] = [...recordingCommands, ...replayCommands, ...adminCommands, ...shellCommands];

/** Exit codes: 0 ok, 1 failure, 2 usage, 3 daemon unreachable/running, 4 not found, 5 wrong session state. */
export function exitCode(code: ErrorCode): number {
  switch (code) {
    case ErrorCodes.CLI_USAGE:
    case ErrorCodes.INVALID_PARAMS:
    case ErrorCodes.SEARCH_QUERY:
      return 2;
    case ErrorCodes.DAEMON_UNREACHABLE:
    case ErrorCodes.DAEMON_RUNNING:
    case ErrorCodes.DAEMON_STOPPING:
      return 3;
    case ErrorCodes.SESSION_NOT_FOUND:
    case ErrorCodes.PROJECT_NOT_FOUND:
      return 4;
    case ErrorCodes.SESSION_ACTIVE:
    case ErrorCodes.SESSION_NOT_ACTIVE:
    case ErrorCodes.SESSION_STATE:
      return 5;
    default:
      return 1;
  }
}

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `traced ${VERSION}: records your work session and answers "what happened?"`,
    '',
    'Usage: traced COMMAND [options] [--json]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json for machine-readable output. `traced COMMAND --help` shows its options.',
  ].join('\n');
}

/**
 * With a broken config.json these still reach a daemon that is already running:
 * it was started with the earlier, valid file, and a recording must be
 * stoppable (or its state seen) before the file is fixed. Commands that start
 * or change what is recorded refuse, so nothing new runs under a configuration
 * other than the file the user sees.
 */
const REACH_WITH_BROKEN_CONFIG = new Set(['stop', 'pause', 'status']);

/**
 * callDaemon, except that a TRACED_CONFIG_INVALID config.json does not stop it
 * reaching a running daemon (at the paths reachPaths guesses): the call is made,
 * with a warning naming the problem on stderr. No daemon is started: with that
 * file it could not start, so the answer is the config error, with its fix.
 */
async function callDespiteConfig(
  io: Io,
  method: string,
  params: unknown,
  onProgress?: (topic: string, data: unknown) => void,
  topics?: string[],
): Promise<unknown> {
  const { paths, problem } = reachPaths(io.env);
  if (!problem) return callDaemon(io, method, params, onProgress, topics);
  let client: Awaited<ReturnType<typeof connectDaemon>>;
  try {
    client = await connectDaemon(paths, { env: io.env, autostart: false });
  } catch (err) {
    if (!(err instanceof TracedError) || err.code !== ErrorCodes.DAEMON_UNREACHABLE) throw err;
    throw new TracedError(problem.code, `${problem.message} (No daemon is running at ${paths.socket}, and none can start until the file is fixed.)`, {
      data: problem.data,
      cause: problem,
    });
  }
  io.stderr.write(
    `traced: warning: ${problem.code}: ${problem.message}\ntraced: warning: reached the daemon already running at ${paths.socket}, which uses the configuration it started with; it will not start again until the file is fixed.\n`,
  );
  try {
    if (onProgress && topics?.length) await client.subscribe(topics, onProgress);
    return await client.call(method, params, { cwd: io.cwd });
  } finally {
    client.close();
  }
}

/** Runs the CLI; returns the exit code. Never calls process.exit. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(`${help()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  const json = rest.includes('--json');
  try {
    if (!cmd) throw new TracedError(ErrorCodes.CLI_USAGE, `unknown command "${name}"; run traced help`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(`usage: ${cmd.usage}\n${cmd.summary}\n`);
      return 0;
    }
    let parsed: Args;
    try {
      const p = parseArgs({ args: rest, options: { ...(cmd.options ?? {}), json: { type: 'boolean' } }, allowPositionals: true, strict: true });
      parsed = { values: p.values as Values, positionals: p.positionals };
    } catch (err) {
      throw new TracedError(ErrorCodes.CLI_USAGE, `${(err as Error).message}; usage: ${cmd.usage}`);
    }
    if (cmd.run) return await cmd.run(parsed, io);
    const params = cmd.params ? cmd.params(parsed, io) : {};
    const onProgress = cmd.progress && !json ? progressPrinter(io) : undefined;
    const result = REACH_WITH_BROKEN_CONFIG.has(cmd.name)
      ? await callDespiteConfig(io, cmd.op as string, params, onProgress, cmd.progress)
      : await callDaemon(io, cmd.op as string, params, onProgress, cmd.progress);
    io.stdout.write(json || !cmd.render ? `${JSON.stringify(result, null, 2)}\n` : `${cmd.render(result, parsed)}\n`);
    return 0;
  } catch (err) {
    const e = toTracedError(err);
    if (json) io.stdout.write(`${JSON.stringify({ error: e.toJSON() })}\n`);
    io.stderr.write(`traced: ${e.code}: ${e.message}\n`);
    return exitCode(e.code);
  }
}
