/**
 * Finding the daemon: connect to its socket, and when nobody answers start a
 * detached daemon and wait until it does. Shared by the CLI and `traced mcp`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../config/config.js';
import type { Paths } from '../config/paths.js';
import { ErrorCodes, TracedError } from '../errors.js';
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
  fs.mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
  const errFile = path.join(paths.logDir, 'daemon-start.err');
  const errFd = fs.openSync(errFile, 'w', 0o600);
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
      if (!why.includes(ErrorCodes.DAEMON_RUNNING)) {
        throw new TracedError(ErrorCodes.DAEMON_UNREACHABLE, `the daemon could not start: ${why || `exit code ${exited}`}`);
      }
    }
    if (Date.now() > deadline) {
      throw new TracedError(ErrorCodes.DAEMON_UNREACHABLE, `the daemon did not answer on ${paths.socket} within ${opts.startTimeoutMs ?? 20_000} ms; see ${paths.logDir}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' ');
  } catch {
    return '';
  }
}
