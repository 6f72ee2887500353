/**
 * One daemon per user: an exclusive lock file holding the pid, plus a probe of
 * the socket. A lock whose process is gone, or a socket nobody answers on, is
 * stale and replaced; a live daemon makes a second one fail with
 * TRACED_DAEMON_RUNNING.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import { looksLikeTraced, pidAlive, probeSocket } from '../ipc/probe.js';

export interface DaemonLock {
  release(): void;
}

async function holderIsLive(pid: number, socketPath: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !pidAlive(pid)) return false;
  if (await probeSocket(socketPath)) return true;
  const traced = looksLikeTraced(pid);
  if (traced !== undefined) return traced; // a daemon still starting up, or a recycled pid
  // Unknown platform: give a starting daemon a moment to open its socket.
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 150));
    if (!pidAlive(pid)) return false;
    if (await probeSocket(socketPath)) return true;
  }
  return false;
}

export async function acquireDaemonLock(lockFile: string, socketPath: string): Promise<DaemonLock> {
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(lockFile, 'wx', 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        // The socket directory was checked at start-up; this is what changed under us since (or a platform quirk).
        throw new TracedError(
          code === 'ENOSPC' ? ErrorCodes.DISK_FULL : ErrorCodes.SOCKET_DIR_UNUSABLE,
          `cannot create the lock file ${lockFile} (${code ?? (err as Error).message}). Fix: make ${path.dirname(lockFile)} a private directory you can write (chmod 700), or set TRACED_SOCKET_DIR to one.`,
          { data: { file: lockFile }, cause: err },
        );
      }
      let pid = NaN;
      try {
        pid = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10);
      } catch {
        // vanished or unreadable: treated as stale below
      }
      if (await holderIsLive(pid, socketPath)) {
        throw new TracedError(ErrorCodes.DAEMON_RUNNING, `a traced daemon is already running (pid ${pid})`, { data: { pid } });
      }
      try {
        fs.unlinkSync(lockFile);
      } catch {
        // another starter removed it first; retry the exclusive create
      }
      continue;
    }
    fs.writeSync(fd, String(process.pid));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    // We hold the lock. A socket file left by a killed daemon is stale, unless
    // something still answers on it (a daemon whose lock file was deleted).
    if (process.platform !== 'win32' && fs.existsSync(socketPath)) {
      if (await probeSocket(socketPath)) {
        fs.unlinkSync(lockFile);
        throw new TracedError(ErrorCodes.DAEMON_RUNNING, `a traced daemon already answers on ${socketPath}`);
      }
      fs.unlinkSync(socketPath);
    }
    return {
      release() {
        try {
          if (fs.readFileSync(lockFile, 'utf8') === String(process.pid)) fs.unlinkSync(lockFile);
        } catch {
          // already gone: nothing to release
        }
      },
    };
  }
  throw new TracedError(ErrorCodes.DAEMON_RUNNING, 'could not take the daemon lock; another daemon is starting');
}
