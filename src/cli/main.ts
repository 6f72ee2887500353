/**
 * The `traced` command: finds the command, parses its arguments, calls the
 * daemon (or runs the command) and renders the result. `--json` prints the
 * operation's result as is. Each command group lives in cli/commands/.
 */
import { reachPaths } from '../config/setup.js';
import { ErrorCodes, TracedError, toTracedError, type ErrorCode } from '../errors.js';
import { connectDaemon } from '../ipc/connect.js';
import { VERSION } from '../version.js';
import { didYouMean, parseCommandArgs } from './args.js';
import { type Command, type Io, callDaemon, progressPrinter } from './command.js';
import { adminCommands } from './commands/admin.js';
import { recordingCommands } from './commands/recording.js';
import { replayCommands } from './commands/replay.js';
import { lifecycleCommands } from './commands/lifecycle.js';
import { mcpInstallCommands } from './commands/mcp-install.js';
import { shellCommands } from './commands/shell.js';
import { toolCommands } from './commands/tools.js';
import { commandHelp, completionScript, globalHelp } from './help.js';
import { safeData, safeText } from './render.js';
import { withSubcommands } from './subcommands.js';

export type { Io } from './command.js';

/**
 * The command table. A group of commands is a `Command[]` in cli/commands/*.ts,
 * spread in here; help, argument checking and completion all read this list.
 * Subcommands (`daemon stop`, `mcp install`) hang under their parent.
 */
export const commands: Command[] = withSubcommands(
  [
    ...recordingCommands,
    ...replayCommands,
    ...adminCommands,
    ...toolCommands,
    ...shellCommands,
    {
      name: 'completion',
      summary: 'a completion script for bash, zsh or fish, from this command table',
      args: [{ name: 'SHELL', choices: ['bash', 'zsh', 'fish'] }],
      examples: ['eval "$(traced completion bash)"      # in ~/.bashrc', 'traced completion fish > ~/.config/fish/completions/traced.fish'],
      run: async (a, io) => {
        io.stdout.write(completionScript(a.positionals[0] as 'bash' | 'zsh' | 'fish', commands));
        return 0;
      },
    },
  ],
  [...lifecycleCommands, ...mcpInstallCommands],
);

/** Exit codes: 0 ok, 1 failure, 2 usage, 3 daemon unreachable/running, 4 not found, 5 wrong session state. */
export function exitCode(code: ErrorCode): number {
  switch (code) {
    case ErrorCodes.CLI_USAGE:
    case ErrorCodes.INVALID_PARAMS:
    case ErrorCodes.INVALID_TIME:
    case ErrorCodes.SEARCH_QUERY:
    case ErrorCodes.OUTPUT_REFUSED:
      return 2;
    case ErrorCodes.DAEMON_UNREACHABLE:
    case ErrorCodes.DAEMON_RUNNING:
    case ErrorCodes.DAEMON_STOPPING:
    case ErrorCodes.DAEMON_UNVERIFIED:
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

const unknownCommand = (name: string) => {
  const near = didYouMean(
    name,
    commands.map((c) => c.name),
  );
  return new TracedError(
    ErrorCodes.CLI_USAGE,
    `unknown command "${name.slice(0, 40)}"${near ? `; did you mean ${near}?` : ''} (traced help lists the commands)`,
    {
      data: { command: name.slice(0, 40), ...(near ? { suggestion: near } : {}) },
    },
  );
};

/** Runs the CLI; returns the exit code. Never calls process.exit. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  const json = rest.includes('--json');
  try {
    if (!name || name === '--help' || name === '-h') {
      io.stdout.write(`${globalHelp(commands)}\n`);
      return name ? 0 : 2;
    }
    if (name === '--version' || name === '-v' || name === 'version') {
      io.stdout.write(`${VERSION}\n`);
      return 0;
    }
    if (name === 'help') {
      const [topic, ...extra] = rest.filter((r) => r !== '--json');
      if (!topic) io.stdout.write(`${globalHelp(commands)}\n`);
      else {
        const c = commands.find((x) => x.name === topic);
        if (!c) throw unknownCommand(topic);
        if (extra.length) throw new TracedError(ErrorCodes.CLI_USAGE, `traced help takes one command, got ${JSON.stringify(extra[0]?.slice(0, 40))} too`);
        io.stdout.write(`${commandHelp(c)}\n`);
      }
      return 0;
    }
    const cmd = commands.find((c) => c.name === name);
    if (!cmd) throw unknownCommand(name);
    const parsed = parseCommandArgs(cmd, rest);
    if (parsed.values.help === true) {
      io.stdout.write(`${commandHelp(cmd)}\n`);
      return 0;
    }
    if (cmd.run) return await cmd.run(parsed, io);
    const params = cmd.params ? await cmd.params(parsed, io) : {};
    const onProgress = cmd.progress && !json ? progressPrinter(io) : undefined;
    const result = REACH_WITH_BROKEN_CONFIG.has(cmd.name)
      ? await callDespiteConfig(io, cmd.op as string, params, onProgress, cmd.progress)
      : await callDaemon(io, cmd.op as string, params, onProgress, cmd.progress);
    io.stdout.write(json || !cmd.render ? `${JSON.stringify(result, null, 2)}\n` : `${cmd.render(safeData(result), parsed, io)}\n`);
    return 0;
  } catch (err) {
    const e = toTracedError(err);
    if (json) io.stdout.write(`${JSON.stringify({ error: e.toJSON() })}\n`);
    io.stderr.write(`traced: ${e.code}: ${safeText(e.message)}\n`);
    return exitCode(e.code);
  }
}
