/**
 * Finding the daemon: connect to its socket, and when nobody answers start a
 * detached daemon and wait until it does. Shared by the CLI and `traced mcp`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../config/config.js';
import { ensureDataDirs, type Paths } from '../config/paths.js';
import { ErrorCodes, TracedError, isErrorCode } from '../errors.js';
import { IpcClient } from './client.js';
import { BIN_PATH } from '../version.js';

export interface ConnectOptions {
  env: Env;
  /** Start a detached daemon when none answers (default true). */
  autostart?: boolean;
  startTimeoutMs?: number;
}

export async function connectDaemon(paths: Paths, opts: ConnectOptions): Promise<IpcClient> {
  try {
    return await IpcClient.connect(paths.socket, 2000);
  } catch (err) {
    if (!(err instanceof TracedError) || err.code !== ErrorCodes.DAEMON_UNREACHABLE || opts.autostart === false) throw err;
  }
  return startDetachedDaemon(paths, opts);
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
