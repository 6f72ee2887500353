/**
 * Finding the daemon: connect to its socket, and when nobody answers start a
 * detached daemon and wait until it does. Shared by the CLI and `traced mcp`.
 * Every request carries the caller's capture environment (DISPLAY, audio
 * server). A daemon of another version than this traced is restarted when no
 * session records (and the caller is told it was), else left running with a
 * note on stderr. Stopping and describing the daemon (`traced daemon
 * stop|restart|status`) live here too: over the socket first, then by a signal
 * to the pid in the lock file.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../config/config.js';
import { ensureDataDirs, type Paths } from '../config/paths.js';
import { ErrorCodes, TracedError, isErrorCode } from '../errors.js';
import { captureEnvOf } from '../model/capture-env.js';
import { BIN_PATH, VERSION } from '../version.js';
import { IpcClient } from './client.js';
import { looksLikeTraced, pidAlive } from './probe.js';

export interface ConnectOptions {
  env: Env;
  /** Start a detached daemon when none answers (default true). */
  autostart?: boolean;
  startTimeoutMs?: number;
  /** Restart an idle daemon of another version (default true). */
  versionCheck?: boolean;
  /** Where notes for the person go (a restart, a daemon left running); default stderr, never stdout. */
  notice?: (line: string) => void;
}

/** What `ping` tells of the daemon. */
export interface DaemonPing {
  pid: number;
  /** Absent from daemons older than the version check. */
  version?: string;
  started_at?: number | null;
  recording?: string | null;
}

export async function connectDaemon(paths: Paths, opts: ConnectOptions): Promise<IpcClient> {
  let client: IpcClient;
  try {
    client = await IpcClient.connect(paths.socket, 2000);
  } catch (err) {
    if (!(err instanceof TracedError) || err.code !== ErrorCodes.DAEMON_UNREACHABLE || opts.autostart === false) throw err;
    client = await startDetachedDaemon(paths, opts);
  }
  client.captureEnv = captureEnvOf(opts.env);
  if (opts.versionCheck === false) return client;
  return checkVersion(client, paths, opts);
}

const notice = (opts: ConnectOptions, line: string) => (opts.notice ? opts.notice(line) : process.stderr.write(`traced: ${line}\n`));

/** The daemon answers; if it is another version, restart it when idle, else say so. */
async function checkVersion(client: IpcClient, paths: Paths, opts: ConnectOptions): Promise<IpcClient> {
  let ping: DaemonPing;
  try {
    ping = (await client.call('ping', {}, { timeoutMs: 5000 })) as DaemonPing;
  } catch {
    return client; // a busy daemon: the call itself will say what is wrong
  }
  if (ping.version === VERSION) return client;
  const theirs = ping.version ?? 'an older version';
  if (ping.recording || opts.autostart === false) {
    notice(
      opts,
      `the running daemon (pid ${ping.pid}) is ${theirs} and this traced is ${VERSION}; ${
        ping.recording ? `it keeps running while session ${ping.recording} records` : 'it was left running'
      }: run \`traced daemon restart\` ${ping.recording ? 'after `traced stop` ' : ''}to use ${VERSION}.`,
    );
    return client;
  }
  client.close();
  const stopped = await stopDaemon(paths, { ifIdle: true });
  if (stopped.refused) {
    const why = stopped.recording ? `session ${stopped.recording} started meanwhile` : 'it cannot be asked whether it records';
    notice(
      opts,
      `the running daemon is ${theirs} and this traced is ${VERSION}; ${why}, so it keeps running: run \`traced daemon restart\` to use ${VERSION}.`,
    );
    return reconnect(paths, opts);
  }
  notice(opts, `restarted the daemon: it was ${theirs} (pid ${ping.pid}), this traced is ${VERSION}.`);
  return reconnect(paths, opts);
}

async function reconnect(paths: Paths, opts: ConnectOptions): Promise<IpcClient> {
  const client = await connectDaemon(paths, { ...opts, versionCheck: false });
  client.captureEnv = captureEnvOf(opts.env);
  return client;
}

/** True once the pid is gone (a zombie waiting for its parent counts as gone). */
function pidGone(pid: number): boolean {
  if (!pidAlive(pid)) return true;
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // no /proc here: alive, as kill(0) said
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pidGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pidGone(pid);
}

function lockPid(paths: Paths): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(paths.lockFile, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface StopResult {
  /** Whether a daemon was running (answering, or holding the lock). */
  running: boolean;
  pid: number | null;
  version: string | null;
  /** How it went: asked over the socket, SIGTERM to the lock file's pid, or SIGKILL at the end. */
  how: 'socket' | 'sigterm' | 'sigkill' | null;
  /** The session that was recording (ended by the stop, or the reason for refusing). */
  recording: string | null;
  /** ifIdle and a session records: nothing was stopped. */
  refused: boolean;
}

/**
 * Stops the daemon and returns once its process is gone: a graceful
 * `shutdown` over the socket (the session ends and flushes as on SIGTERM);
 * when nothing answers, SIGTERM to the pid in the lock file if that process is
 * a traced daemon; SIGKILL when it outlives `graceMs`. TRACED_DAEMON_STOP_FAILED
 * if even that leaves it running.
 */
export async function stopDaemon(paths: Paths, o: { ifIdle?: boolean; graceMs?: number } = {}): Promise<StopResult> {
  const graceMs = o.graceMs ?? 30_000;
  let pid: number | undefined;
  let version: string | null = null;
  let recording: string | null = null;
  let how: StopResult['how'] = null;
  let client: IpcClient | undefined;
  try {
    client = await IpcClient.connect(paths.socket, 2000);
  } catch {
    // nothing answers: the lock file's pid below
  }
  if (client) {
    try {
      const ping = (await client.call('ping', {}, { timeoutMs: 5000 })) as DaemonPing;
      pid = ping.pid;
      version = ping.version ?? null;
      const r = (await client.call('shutdown', { if_idle: o.ifIdle === true }, { timeoutMs: 5000 })) as { stopping: boolean; recording: string | null };
      recording = r.recording;
      if (!r.stopping) return { running: true, pid: pid ?? null, version, how: null, recording, refused: true };
      how = 'socket';
    } catch {
      // an older daemon without `shutdown`, or one too busy to answer: signals below
    } finally {
      client.close();
    }
    // It answers but cannot say whether it records: only an explicit stop may end it.
    if (how === null && o.ifIdle) return { running: true, pid: pid ?? null, version, how: null, recording, refused: true };
  }
  // A pid the socket's own answer named is the daemon; one read from the lock file may be anyone's now.
  const answered = pid !== undefined;
  pid ??= lockPid(paths);
  if (pid === undefined || pidGone(pid)) return { running: how !== null, pid: pid ?? null, version, how, recording, refused: false };
  if (how === null) {
    const traced = answered || looksLikeTraced(pid);
    if (traced === false) return { running: false, pid: null, version, how: null, recording, refused: false };
    if (traced === undefined)
      throw new TracedError(
        ErrorCodes.DAEMON_UNVERIFIED,
        `pid ${pid} holds ${paths.lockFile} but does not answer on ${paths.socket}, and this system cannot show whether it is a traced daemon, so it was not signalled. ` +
          `Look at it with \`ps -o pid,args -p ${pid}\`: if it is \`node …/traced.js daemon\`, end it with \`kill ${pid}\`; if it is anything else, the lock file is stale: delete ${paths.lockFile}.`,
        { data: { pid, lock_file: paths.lockFile } },
      );
    process.kill(pid, 'SIGTERM');
    how = 'sigterm';
  }
  if (await waitGone(pid, graceMs)) return { running: true, pid, version, how, recording, refused: false };
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // it went just now
  }
  if (await waitGone(pid, 5000)) return { running: true, pid, version, how: 'sigkill', recording, refused: false };
  throw new TracedError(ErrorCodes.DAEMON_STOP_FAILED, `the daemon (pid ${pid}) is still running after SIGKILL; see ${paths.logDir}`, { data: { pid } });
}

export interface DaemonState {
  running: boolean;
  answering: boolean;
  pid: number | null;
  version: string | null;
  cli_version: string;
  started_at: number | null;
  uptime_ms: number | null;
  recording: string | null;
  socket: string;
  lock_file: string;
}

/** The daemon as seen from outside: answering on the socket, or only a process holding the lock. */
export async function daemonState(paths: Paths): Promise<DaemonState> {
  const base = { cli_version: VERSION, socket: paths.socket, lock_file: paths.lockFile };
  let client: IpcClient | undefined;
  try {
    client = await IpcClient.connect(paths.socket, 2000);
    const p = (await client.call('ping', {}, { timeoutMs: 5000 })) as DaemonPing;
    const started = typeof p.started_at === 'number' ? p.started_at : null;
    return {
      ...base,
      running: true,
      answering: true,
      pid: p.pid,
      version: p.version ?? null,
      started_at: started,
      uptime_ms: started === null ? null : Date.now() - started,
      recording: p.recording ?? null,
    };
  } catch {
    const pid = lockPid(paths);
    const alive = pid !== undefined && !pidGone(pid) && looksLikeTraced(pid) !== false;
    return { ...base, running: alive, answering: false, pid: alive ? (pid ?? null) : null, version: null, started_at: null, uptime_ms: null, recording: null };
  } finally {
    client?.close();
  }
}

async function startDetachedDaemon(paths: Paths, opts: ConnectOptions): Promise<IpcClient> {
  // The directories the daemon needs, checked here first: a home or socket directory that cannot be
  // used is TRACED_HOME_UNWRITABLE / TRACED_SOCKET_DIR_UNUSABLE at once, with its fix, from the CLI.
  ensureDataDirs(paths);
  const errFile = path.join(paths.logDir, 'daemon-start.err');
  let errFd: number;
  try {
    errFd = fs.openSync(errFile, 'w', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TracedError(
      code === 'ENOSPC' ? ErrorCodes.DISK_FULL : ErrorCodes.HOME_UNWRITABLE,
      `cannot write ${errFile} (${code ?? (err as Error).message}). Fix: make ${paths.home} writable for you, or set TRACED_HOME to a directory you can write.`,
      { data: { dir: paths.logDir, home: paths.home }, cause: err },
    );
  }
  const child = spawn(process.execPath, [BIN_PATH, 'daemon'], {
    detached: true,
    stdio: ['ignore', 'ignore', errFd],
    cwd: paths.home,
    env: opts.env as NodeJS.ProcessEnv,
    windowsHide: true,
  });
  fs.closeSync(errFd);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.once('error', () => (exited = -1));
  child.unref();
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  for (;;) {
    try {
      return await IpcClient.connect(paths.socket, 1000);
    } catch {
      // not up yet
    }
    if (exited !== undefined && exited !== 0) {
      const why = readTail(errFile);
      // Another starter won the race: its daemon will answer shortly.
      if (!why.includes(ErrorCodes.DAEMON_RUNNING)) throw startFailure(why, exited);
    }
    if (Date.now() > deadline) {
      throw new TracedError(
        ErrorCodes.DAEMON_UNREACHABLE,
        `the daemon did not answer on ${paths.socket} within ${opts.startTimeoutMs ?? 20_000} ms; see ${paths.logDir}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Why the daemon did not start, as the daemon said it: its coded error (a
 * corrupt database it could not move, an unusable directory) keeps its code, so
 * the CLI shows the same fix; anything else is TRACED_DAEMON_UNREACHABLE.
 */
function startFailure(why: string, exitCode: number | null): TracedError {
  const m = /traced: (TRACED_[A-Z_]+): (.*)$/s.exec(why);
  const code = m?.[1];
  if (m && isErrorCode(code) && code !== ErrorCodes.INTERNAL && code !== ErrorCodes.DAEMON_RUNNING) {
    return new TracedError(code, `the daemon could not start: ${m[2]}`, { data: { from: 'daemon' } });
  }
  return new TracedError(ErrorCodes.DAEMON_UNREACHABLE, `the daemon could not start: ${why || `exit code ${exitCode}`}`);
}

function readTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' ');
  } catch {
    return '';
  }
}
