/**
 * `traced shell [-- COMMAND ARGS…]`: the user's shell (or the command) in a
 * pseudo-terminal whose output traced records.
 *
 * The PTY is @lydell/node-pty: node-pty (the PTY of VS Code's terminal) with
 * prebuilt binaries per platform as optional dependencies, so installing
 * traced compiles nothing; the platform `script` differs between util-linux,
 * BSD and busybox in flags, timing output and exit-code handling, and gives no
 * resize hook. Bytes go through unchanged in both directions: the outer
 * terminal is in raw mode, so Ctrl-C, Ctrl-Z, job control and full-screen
 * programs are the inner line discipline's business, exactly as in a bare
 * terminal; window resizes follow (SIGWINCH → `resize`).
 *
 * Recording: the output goes, redacted line by line, to a cast file in the
 * live session's folder (capture/shell-output.ts), written by this process so
 * it survives the daemon being killed (the daemon indexes the file; it never
 * needs the bytes over the socket). Which session is live comes from the
 * daemon: a status call and a subscription to session changes. No session
 * recording: the shell runs unrecorded and says so once; a session that
 * starts later is recorded from its start; a daemon that goes away stops the
 * recording (said once) until one answers again. `TRACED_SHELL` marks a
 * shell already recorded: a nested `traced shell` runs its command plainly.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ShellOutput } from '../../capture/shell-output.js';
import { setup } from '../../config/setup.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import type { IpcClient } from '../../ipc/client.js';
import type { Command, Io } from '../command.js';

/** Set in the environment of a recorded shell: its stream name. */
export const SHELL_MARKER = 'TRACED_SHELL';
const RETRY_MS = 2000;
/** Output held until the daemon says whether a session records (a second or so); past it, counted as dropped. */
const EARLY_MAX_BYTES = 16 * 1024 * 1024;

interface Live {
  id: string;
  startedAt: number;
}

export const shellCommands: Command[] = [
  {
    name: 'shell',
    usage: 'traced shell [-- COMMAND ARGS…]',
    summary: 'run your shell (or a command) in a terminal whose output the live session records',
    run: (a, io) => runShell(a.positionals, io),
  },
];

/**
 * What `traced hook SHELL --shell` adds before the hook: start this terminal under `traced shell`.
 * Safe to source twice and when nested (tmux, ssh, a shell inside a recorded one): the marker
 * variable is set inside a recorded shell, and only an interactive terminal is replaced.
 */
export function shellOptIn(shell: 'bash' | 'zsh' | 'fish'): string {
  if (shell === 'fish') {
    return `# traced: record this terminal's output (not inside traced shell, not without a terminal)
if status is-interactive; and not set -q ${SHELL_MARKER}; and isatty stdin; and command -q traced
  exec traced shell
end
`;
  }
  return `# traced: record this terminal's output (not inside traced shell, not without a terminal)
if [ -z "$${SHELL_MARKER}" ] && [ -t 0 ] && [ -t 1 ] && case $- in *i*) true;; *) false;; esac && command -v traced >/dev/null 2>&1; then exec traced shell; fi
`;
}

async function runShell(argv: string[], io: Io): Promise<number> {
  const [file = io.env.SHELL || '/bin/sh', ...args] = argv;
  if (io.env[SHELL_MARKER]) return runPlain(file, args, io);
  if (!findProgram(file, io)) {
    throw new TracedError(ErrorCodes.SHELL_PTY_FAILED, `no program "${file}" to run: not an executable file, nor found on PATH`, { data: { program: file } });
  }
  const { config, paths } = setup(io.env);
  const { spawn: ptySpawn } = await import('@lydell/node-pty');
  const { ShellOutput: Writer } = await import('../../capture/shell-output.js');
  const { redact } = await import('../../timeline/redact.js');
  const { IpcClient: Client } = await import('../../ipc/client.js');

  const stdin = io.stdin as NodeJS.ReadStream;
  const stdout = io.stdout as NodeJS.WriteStream;
  const tty = stdout.isTTY === true;
  const size = () => ({ cols: (tty && stdout.columns) || 80, rows: (tty && stdout.rows) || 24 });
  const stream = `${process.pid}-${Date.now().toString(36)}`;
  let term: ReturnType<typeof ptySpawn>;
  try {
    term = ptySpawn(file, args, {
      name: io.env.TERM || 'xterm-256color',
      ...size(),
      cwd: io.cwd,
      env: { ...(io.env as Record<string, string>), [SHELL_MARKER]: stream },
      encoding: null,
    });
  } catch (err) {
    throw new TracedError(ErrorCodes.SHELL_PTY_FAILED, `could not start ${file} in a pseudo-terminal: ${(err as Error).message}`, { cause: err });
  }
  const note = (msg: string) => io.stderr.write(`traced: ${msg}\r\n`);

  // ---- recording: follows the live session
  let writer: ShellOutput | undefined;
  let live: Live | undefined;
  let client: IpcClient | undefined;
  let said = { unrecorded: false, gone: false, failed: false };
  let done = false;
  // Until the daemon has said whether a session records, output is held (bounded), then kept or let go.
  let early: { chunk: Buffer; at: number }[] | undefined = [];
  let earlyBytes = 0;
  const decided = () => {
    const held = early ?? [];
    early = undefined;
    for (const h of held) writer?.write(h.chunk, h.at);
    if (earlyBytes > EARLY_MAX_BYTES) writer?.droppedBefore(earlyBytes - held.reduce((n, h) => n + h.chunk.length, 0));
  };
  const record = (next: Live | undefined) => {
    if (next?.id === live?.id) return;
    writer?.close();
    writer = undefined;
    live = next;
    if (!next) return;
    try {
      writer = new Writer({
        sessionsDir: paths.sessionsDir,
        sessionId: next.id,
        sessionStartedAt: next.startedAt,
        stream,
        ...size(),
        command: [file, ...args].join(' '),
        redact,
        now: Date.now,
        maxBytes: config.session.terminalOutputMaxMb * 1024 * 1024,
      });
      writer.onFailure = (err) => {
        if (said.failed) return;
        said.failed = true;
        note(`recording of this shell stopped: ${err.message}`);
      };
      said = { unrecorded: false, gone: false, failed: false };
    } catch (err) {
      live = undefined;
      note(`cannot record this shell (${(err as Error).message}); it runs unrecorded`);
    }
  };
  const refresh = async () => {
    if (!client || client.isClosed) return;
    try {
      const s = (await client.call('status', {}, { timeoutMs: 5000 })) as { session: { id: string; started_at: number; state: string } | null };
      if (done) return;
      const on = s.session && s.session.state === 'recording' ? { id: s.session.id, startedAt: s.session.started_at } : undefined;
      if (!on && !live && !said.unrecorded) {
        said.unrecorded = true;
        note('no session is recording; this shell runs unrecorded until one starts');
      }
      record(on);
      decided();
    } catch {
      // the connection is going away: its close handler takes over
    }
  };
  const connect = async () => {
    if (done) return;
    try {
      client = await Client.connect(paths.socket, 1000);
    } catch {
      if (!said.unrecorded && !live) {
        said.unrecorded = true;
        note('no traced daemon is running; this shell runs unrecorded');
      }
      decided();
      retry = setTimeout(() => void connect(), RETRY_MS);
      retry.unref();
      return;
    }
    if (done) return client.close();
    client.onClose(() => {
      decided();
      if (done) return;
      if (live && !said.gone) {
        said.gone = true;
        note('the traced daemon went away; recording of this shell stops until a session records again');
      }
      record(undefined);
      retry = setTimeout(() => void connect(), RETRY_MS);
      retry.unref();
    });
    await client.subscribe(['session.*'], () => void refresh()).catch(() => undefined);
    await refresh();
  };
  let retry: NodeJS.Timeout | undefined;
  // A session is also polled: a notification lost in a reconnect must not leave the shell unrecorded for good.
  const poll = setInterval(() => void refresh(), 5000);
  poll.unref();

  // ---- the terminal: bytes both ways, raw mode, resizes
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  if (stdin.isTTY) stdin.setRawMode(true);
  const onInput = (d: Buffer) => term.write(d as unknown as string);
  stdin.on('data', onInput);
  stdin.resume();
  const onResize = () => {
    const s = size();
    term.resize(s.cols, s.rows);
    writer?.resize(s.cols, s.rows);
  };
  if (tty) stdout.on('resize', onResize);
  term.onData((d) => {
    const chunk = d as unknown as Buffer;
    // A slow outer terminal holds the program back, as it would without traced.
    if (!stdout.write(chunk)) {
      term.pause();
      stdout.once('drain', () => term.resume());
    }
    if (!early) writer?.write(chunk);
    else if ((earlyBytes += chunk.length) <= EARLY_MAX_BYTES) early.push({ chunk: Buffer.from(chunk), at: Date.now() });
  });
  const hangup = () => term.kill('SIGHUP');
  const terminate = () => term.kill('SIGTERM');
  process.on('SIGHUP', hangup);
  process.on('SIGTERM', terminate);
  void connect();

  const exit = await new Promise<{ exitCode: number; signal?: number }>((resolve) => term.onExit(resolve));
  // The last output can trail the exit by a moment.
  await new Promise((r) => setTimeout(r, 50));
  done = true;
  clearInterval(poll);
  if (retry) clearTimeout(retry);
  writer?.close({ code: exit.exitCode, signal: exit.signal || undefined });
  client?.close();
  process.off('SIGHUP', hangup);
  process.off('SIGTERM', terminate);
  if (tty) stdout.off('resize', onResize);
  stdin.off('data', onInput);
  if (stdin.isTTY) stdin.setRawMode(wasRaw);
  stdin.pause();
  return exit.signal ? 128 + exit.signal : exit.exitCode;
}

/** Whether `file` names an executable (a path, or a name on PATH), as execvp would find it. */
function findProgram(file: string, io: Io): boolean {
  const ok = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) return ok(path.resolve(io.cwd, file));
  return (io.env.PATH ?? '').split(path.delimiter).some((d) => d && ok(path.join(d, file)));
}

/** Inside a recorded shell: run the command as is (its output is recorded once, by the outer shell). */
function runPlain(file: string, args: string[], io: Io): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'inherit', cwd: io.cwd, env: io.env as NodeJS.ProcessEnv });
    child.once('error', (err) => reject(new TracedError(ErrorCodes.SHELL_PTY_FAILED, `could not start ${file}: ${err.message}`, { cause: err })));
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 1) : 1)));
  });
}
